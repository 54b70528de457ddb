"""The simulator's webhook sender: ClickSend's push retry policy (§3.5, §16.9), shortened.

ClickSend POSTs form fields, counts only HTTP 200 as delivered and retries a
non-200, an unreachable server or a timeout up to 10 attempts in total. The
simulator does the same, with a configurable gap instead of 10 minutes so tests
and demos can watch a retry happen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import aiohttp

log = logging.getLogger(__name__)

ATTEMPT_TIMEOUT_S = 30.0
# A provider delivers webhooks from a bounded pool of workers, not all at once:
# at most this many pushes are in flight (the rest wait their turn).
MAX_CONCURRENT_PUSHES = 10


class Pusher:
    """Delivers form-encoded pushes; every attempt is appended to ``log`` for tests."""

    def __init__(self, *, retry_s: float, attempts: int, attempt_log: list[dict]) -> None:
        self._retry_s = retry_s
        self._attempts = max(1, attempts)
        self._log = attempt_log
        self._session: aiohttp.ClientSession | None = None

    async def push(self, url: str, fields: Mapping[str, str]) -> bool:
        """Try until one attempt gets HTTP 200 or the attempts run out; True if delivered."""
        for attempt in range(1, self._attempts + 1):
            if await self._attempt(url, fields, attempt):
                return True
            if attempt < self._attempts:
                await asyncio.sleep(self._retry_s)
        log.warning("simulator push to %s gave up after %d attempts", url, self._attempts)
        return False

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _attempt(self, url: str, fields: Mapping[str, str], attempt: int) -> bool:
        entry: dict = {"url": url, "fields": dict(fields), "attempt": attempt}
        self._log.append(entry)
        try:
            async with self._client().post(url, data=dict(fields)) as response:
                await response.read()
                entry["status"] = response.status
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError) as exc:
            entry["error"] = repr(exc)
            return False

    def _client(self) -> aiohttp.ClientSession:
        """Created on first use: a ClientSession must be made inside the running loop."""
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT_S)
            connector = aiohttp.TCPConnector(limit=MAX_CONCURRENT_PUSHES)
            self._session = aiohttp.ClientSession(timeout=timeout, connector=connector)
        return self._session
