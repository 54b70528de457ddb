"""One ClickSend REST v3 request, and every failure sorted into the base.py error tree.

ClickSend has no idempotency key, so failures are split by whether the request
can have reached it: a refused or timed-out connection, a pool timeout and a 429
are :class:`TemporaryProviderError` (safe to send again); a read timeout, a reset
after the request was written, a 5xx and a cut-off or non-JSON 200 are
:class:`AmbiguousProviderError` (look the messages up in the sent history).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
from collections.abc import Mapping
from typing import Any

import httpx

from bot.providers import clicksend_codes as codes
from bot.providers.base import (
    AccountProviderError,
    AmbiguousProviderError,
    PermanentProviderError,
    ProviderError,
    TemporaryProviderError,
)

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0

# httpx failures that happen before any byte of the request reaches ClickSend.
NOT_SENT_ERRORS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)


class Transport:
    """Requests to one ClickSend REST v3 base URL with Basic auth, over a shared client."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, username: str, api_key: str):
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(username, api_key)

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, int | str] | None = None,
        timeout_s: float = READ_TIMEOUT_S,
    ) -> Any:
        """One request → the envelope's ``data``, or a ProviderError.

        ``asyncio.timeout`` bounds the whole exchange; httpx's own timeout only
        bounds each read or write, which a slow-dripping server could stretch.
        """
        try:
            async with asyncio.timeout(timeout_s):
                response = await self._http.request(
                    method,
                    self._base_url + path,
                    json=json_body,
                    params=params,
                    auth=self._auth,
                    timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S),
                )
        except TimeoutError:
            # The deadline may have struck after the request was written.
            raise AmbiguousProviderError(f"ClickSend {method} {path} timed out") from None
        except NOT_SENT_ERRORS as exc:
            raise TemporaryProviderError(f"ClickSend {method} {path}: {exc!r}") from None
        except httpx.RequestError as exc:
            raise AmbiguousProviderError(f"ClickSend {method} {path}: {exc!r}") from None
        return data_or_raise(response)


def data_or_raise(response: httpx.Response) -> Any:
    """The ``data`` of a 200 envelope; anything else becomes the matching ProviderError."""
    envelope = _json_object(response)
    if response.status_code == 200:
        if envelope is None:
            raise AmbiguousProviderError("ClickSend answered 200 with a non-JSON or cut-off body")
        return envelope.get("data")
    raise error_for(response, envelope or {})


def _json_object(response: httpx.Response) -> Mapping[str, Any] | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, Mapping) else None


def error_for(response: httpx.Response, envelope: Mapping[str, Any]) -> ProviderError:
    status = response.status_code
    code = str(envelope.get("response_code") or "").upper() or None
    message = f"ClickSend HTTP {status} {code or ''}: {envelope.get('response_msg') or ''}".strip()
    if status == 429:
        retry_after = retry_after_s(response.headers.get("Retry-After"))
        return TemporaryProviderError(message, code=code, retry_after_s=retry_after)
    if status >= 500:
        return AmbiguousProviderError(message, code=code)
    if status == 408:
        return TemporaryProviderError(message, code=code)
    if status == 401:
        return AccountProviderError(message, code=code or "UNAUTHORIZED")
    if status == 403 and (code is None or code == "FORBIDDEN" or code in codes.ACCOUNT_CODES):
        return AccountProviderError(message, code=code or "FORBIDDEN")
    if code in codes.ACCOUNT_CODES:
        return AccountProviderError(message, code=code)
    return PermanentProviderError(message, code=code or _status_code_name(status))


def _status_code_name(status: int) -> str:
    return {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
        status, f"HTTP_{status}"
    )


def retry_after_s(raw: str | None) -> float | None:
    """Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
