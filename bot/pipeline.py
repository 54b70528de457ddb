"""Handle stored inbound messages: compliance first, then the bot's steps.

Runs in the pipeline worker after the webhook was acknowledged. Most messages
need nothing but to be marked handled, so a round first reads a batch and sorts
it without taking the write lock (:func:`triage`): the quiet ones are marked
handled in one short statement, and each message that needs action (STOP,
START, HELP, a possible opt-out, or a candidate for a keyword rule) gets its own
transaction through :func:`handle_inbound`. A step that raises rolls its transaction back and leaves
the message ``pending`` (nothing is lost); the worker retries it later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.compliance import compliance_step
from bot.matching import Matcher
from bot.models import Contact, Conversation, Direction, Message, MessageStatus
from bot.optout import blocked_pairs
from bot.optout_keywords import Intent, Vocabulary, classify
from bot.rule_engine import RulesStep

# A step returns True to let the next step run, False when the message is dealt with.
Step = Callable[[AsyncSession, Message], Awaitable[bool]]

# Compliance (STOP / START / HELP) runs first, then keyword rules. Steps are plain
# functions listed here explicitly, never looked up by name from the database.
# This default compiles the rules per message; the pipeline worker passes a
# RulesStep sharing its cached compiled rules.
STEPS: tuple[Step, ...] = (compliance_step, RulesStep())


def steps_with(rules_step: Step) -> tuple[Step, ...]:
    return (compliance_step, rules_step)


@dataclass(frozen=True, slots=True)
class Pending:
    id: int
    body: str
    phone_number: str
    opted_out: bool
    our_number: str = ""


async def pending_inbound(session: AsyncSession, limit: int = 200) -> list[Pending]:
    rows = (
        await session.execute(
            select(Message.id, Message.body, Contact.phone_number, Conversation.our_number)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .join(Contact, Conversation.contact_id == Contact.id)
            .where(Message.status == MessageStatus.PENDING, Message.direction == Direction.IN)
            .order_by(Message.id)
            .limit(limit)
        )
    ).all()
    blocked = await blocked_pairs(session, {(phone, ours) for _, _, phone, ours in rows})
    return [
        Pending(mid, body, phone, (phone, ours) in blocked, ours) for mid, body, phone, ours in rows
    ]


def triage(
    batch: Iterable[Pending], vocabulary: Vocabulary, matcher: Matcher | None = None
) -> tuple[list[int], list[int]]:
    """Split a batch into (quiet, actionable) message ids, keeping each number's order:
    after a number's first actionable message, its later ones are actionable too.
    A message is quiet when compliance has nothing to do with it and no keyword
    rule is a candidate for it (an opted-out sender's messages never trigger rules)."""
    quiet: list[int] = []
    actionable: list[int] = []
    busy_numbers: set[str] = set()
    rules = matcher.match if matcher else None  # no enabled rules: nothing to normalise
    for item in batch:
        intent = classify(item.body, opted_out=item.opted_out, vocabulary=vocabulary)
        if (
            item.phone_number in busy_numbers
            or intent is not Intent.NONE
            or (rules is not None and not item.opted_out and rules(item.body, item.our_number))
        ):
            busy_numbers.add(item.phone_number)
            actionable.append(item.id)
        else:
            quiet.append(item.id)
    return quiet, actionable


HANDLED_KIND = "handled"


async def mark_handled_batch(conn: AsyncConnection, payloads: Sequence[Sequence[int]]) -> list[int]:
    """Group-commit handler: each payload is one round's quiet message ids."""
    table = Message.__table__
    counts = []
    for ids in payloads:
        result = await conn.execute(
            update(table)
            .where(table.c.id.in_(ids), table.c.status == MessageStatus.PENDING)
            .values(status=MessageStatus.HANDLED)
        )
        counts.append(result.rowcount)
    return counts


async def mark_handled(session: AsyncSession, message_ids: Sequence[int]) -> None:
    await session.execute(
        update(Message)
        .where(Message.id.in_(message_ids), Message.status == MessageStatus.PENDING)
        .values(status=MessageStatus.HANDLED)
        .execution_options(synchronize_session=False)
    )


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
