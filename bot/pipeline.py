"""Handle one stored inbound message: compliance first, then the bot's steps.

Runs in the pipeline worker, one transaction per message, after the webhook was
acknowledged. A step that raises rolls the transaction back and leaves the
message ``pending`` (nothing is lost); the worker retries it later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import compliance_step
from bot.models import Direction, Message, MessageStatus

# A step returns True to let the next step run, False when the message is dealt with.
Step = Callable[[AsyncSession, Message], Awaitable[bool]]

# Compliance (STOP / START / HELP) runs first, then keyword rules. Steps are plain
# functions listed here explicitly, never looked up by name from the database.
STEPS: tuple[Step, ...] = (compliance_step,)


async def pending_inbound_ids(session: AsyncSession, limit: int = 100) -> list[int]:
    rows = await session.scalars(
        select(Message.id)
        .where(Message.status == MessageStatus.PENDING, Message.direction == Direction.IN)
        .order_by(Message.id)
        .limit(limit)
    )
    return list(rows)


async def handle_inbound(
    session: AsyncSession, message_id: int, steps: Sequence[Step] = STEPS
) -> bool:
    """Run the steps for one pending message; False when another worker took it."""
    message = await session.scalar(
        select(Message)
        .where(Message.id == message_id, Message.status == MessageStatus.PENDING)
        .with_for_update(skip_locked=True)
    )
    if message is None:
        return False
    for step in steps:
        if not await step(session, message):
            break
    message.status = MessageStatus.HANDLED
    return True
