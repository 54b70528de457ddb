"""In-process publish/subscribe of domain events and worker wake-ups.

Publishers call :meth:`EventBus.publish` after their transaction commits.
Workers wait on a topic with a timeout, so a lost wake-up only delays work by one
poll interval; subscribers (the inbox's live view) get a bounded queue each and
miss events rather than slow the publisher down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

INBOUND_STORED = "inbound.stored"
OUTBOX_QUEUED = "outbox.queued"
MESSAGE_UPDATED = "message.updated"
FORWARD_QUEUED = "forward.queued"


class EventBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._subscribers: defaultdict[str, set[asyncio.Queue[Any]]] = defaultdict(set)
        self._wakers: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def publish(self, topic: str, payload: Any = None) -> None:
        self._wakers[topic].set()
        for queue in self._subscribers[topic]:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(payload)

    async def wait(self, topic: str, idle_s: float) -> bool:
        """Wait until ``topic`` is published (True) or ``idle_s`` passes (False)."""
        waker = self._wakers[topic]
        try:
            async with asyncio.timeout(idle_s):
                await waker.wait()
        except TimeoutError:
            return False
        waker.clear()
        return True

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[Any]]:
        queue: asyncio.Queue[Any] = asyncio.Queue(self._queue_size)
        self._subscribers[topic].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[topic].discard(queue)
