"""Worker loop pacing: a trickle waits to gather, a backlog drains without pauses."""

from __future__ import annotations

import asyncio
import contextlib

from bot import events
from bot.jobs import run_loop


async def rounds_done_within(sizes: list[int], seconds: float, full: int | None) -> list[int]:
    done: list[int] = []

    async def round_() -> int:
        size = sizes[len(done)] if len(done) < len(sizes) else 0
        done.append(size)
        return size

    loop = run_loop(
        "test", round_, events.EventBus(), "test.topic", idle_s=60, gather_s=30, full=full
    )
    task = asyncio.create_task(loop)
    await asyncio.sleep(seconds)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return done


async def test_full_rounds_go_straight_on_and_a_partial_round_gathers():
    assert await rounds_done_within([500, 500, 120, 7], 0.3, full=500) == [500, 500, 120]


async def test_without_a_full_size_every_busy_round_gathers():
    assert await rounds_done_within([500, 500, 120], 0.3, full=None) == [500]
