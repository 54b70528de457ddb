"""Group commit: many concurrent writers, one transaction.

Webhook handlers (and the poller) submit an operation and await its result. One
writer task takes everything that has gathered while the previous transaction
was committing, applies it in a single transaction and resolves every waiter
only after the commit. Durability stays at one fsync per commit
(synchronous=FULL) while the cost is shared by the whole batch.

If a batch fails, its operations are retried one transaction each, so one bad
item cannot take its neighbours down with it; the failing item's waiter gets the
exception.

Where the transaction runs is a backend's business (bot/write_backends.py):
SQLAlchemy Core on the async engine (PostgreSQL), or plain sqlite3 in one
dedicated thread (SQLite), which costs one thread hand-off per batch instead of
one per statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)

Batches = dict[str, list[Any]]
Results = dict[str, Sequence[Any]]


class WriteBackend(Protocol):
    kinds: frozenset[str]

    async def apply(self, batches: Batches) -> Results:
        """Apply every kind's payloads in ONE transaction; results in payload order."""
        ...

    async def close(self) -> None: ...


class CommitHook(Protocol):
    def __call__(self, kind: str, results: Sequence[Any]) -> None: ...


class WriterClosed(RuntimeError):
    """The writer is stopping; the caller should answer 503 so the sender retries."""


class _Op:
    __slots__ = ("future", "kind", "payload")

    def __init__(self, kind: str, payload: Any, future: asyncio.Future[Any]) -> None:
        self.kind, self.payload, self.future = kind, payload, future


class GroupCommitWriter:
    def __init__(
        self,
        backend: WriteBackend,
        *,
        max_batch: int = 512,
        on_commit: CommitHook | None = None,
    ) -> None:
        self.backend = backend
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._queue: asyncio.Queue[_Op] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches_committed = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-commit-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop and close the backend."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        await self.backend.close()

    async def submit(self, kind: str, payload: Any) -> Any:
        if self._task is None or self._task.done():
            raise WriterClosed("the database writer is not running")
        if kind not in self.backend.kinds:
            raise KeyError(kind)
        op = _Op(kind, payload, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(op)
        # A cancelled caller cancels only its own wait: the writer still stores the
        # operation (it skips futures that are already done).
        return await op.future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _commit(self, batch: list[_Op]) -> None:
        by_kind: dict[str, list[_Op]] = {}
        for op in batch:
            by_kind.setdefault(op.kind, []).append(op)
        try:
            results = await self._apply(by_kind)
        except Exception:
            log.warning("group commit of %d operations failed; retrying one by one", len(batch))
            for op in batch:
                await self._commit_alone(op)
            return
        self._resolve(by_kind, results)

    async def _apply(self, by_kind: dict[str, list[_Op]]) -> Results:
        results = await self.backend.apply(
            {kind: [op.payload for op in ops] for kind, ops in by_kind.items()}
        )
        self.batches_committed += 1
        return results

    async def _commit_alone(self, op: _Op) -> None:
        try:
            results = await self._apply({op.kind: [op]})
        except Exception as exc:
            log.exception("storing one %s operation failed", op.kind)
            if not op.future.done():
                op.future.set_exception(exc)
            return
        self._resolve({op.kind: [op]}, results)

    def _resolve(self, by_kind: dict[str, list[_Op]], results: Results) -> None:
        for kind, ops in by_kind.items():
            for op, result in zip(ops, results[kind], strict=True):
                if not op.future.done():
                    op.future.set_result(result)
            if self._on_commit is not None:
                self._on_commit(kind, results[kind])
