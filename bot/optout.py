"""Opt-out state and the send gate.

Every outbound message passes the gate twice: :func:`check_send_allowed` when
bot/outbox.py enqueues it and :func:`blocked_pairs` when bot/sender.py claims it,
so a STOP that commits after a message was queued still wins. An opt-out with
``our_number`` '' covers every number of ours (the default scope).

The only messages an opted-out number may still receive are the single
confirmation of its opt-out (one per opt-out event, enforced by a unique
``consent_event_id``, and only within five minutes) and HELP answers.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import MessagePurpose, OptOut

GLOBAL_SCOPE = ""
EXEMPT_PURPOSES = frozenset({MessagePurpose.OPT_OUT_CONFIRMATION, MessagePurpose.HELP})


class OptedOut(Exception):
    """The recipient opted out; nothing may be sent to them."""

    code = "OPTED_OUT"

    def __init__(self, phone_number: str) -> None:
        super().__init__(f"{phone_number} has opted out of messages")
        self.phone_number = phone_number


def _scope_filter(phone_number: str, our_number: str):
    return (OptOut.phone_number == phone_number) & or_(
        OptOut.our_number == GLOBAL_SCOPE, OptOut.our_number == our_number
    )


async def is_opted_out(session: AsyncSession, phone_number: str, our_number: str = "") -> bool:
    found = await session.scalar(select(OptOut.id).where(_scope_filter(phone_number, our_number)))
    return found is not None


async def opted_out_numbers(session: AsyncSession, phone_numbers: set[str]) -> set[str]:
    """Which of ``phone_numbers`` are opted out in any scope (one query for a list page)."""
    if not phone_numbers:
        return set()
    rows = await session.scalars(
        select(OptOut.phone_number).where(OptOut.phone_number.in_(phone_numbers))
    )
    return set(rows)


async def check_send_allowed(
    session: AsyncSession,
    phone_number: str,
    our_number: str,
    purpose: MessagePurpose = MessagePurpose.AGENT_REPLY,
) -> None:
    if purpose in EXEMPT_PURPOSES:
        return
    if await is_opted_out(session, phone_number, our_number):
        raise OptedOut(phone_number)


async def blocked_pairs(session: AsyncSession, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (phone, our_number) pairs the gate refuses, in one query for a whole batch."""
    phones = {phone for phone, _ in pairs}
    if not phones:
        return set()
    rows = await session.execute(
        select(OptOut.phone_number, OptOut.our_number).where(OptOut.phone_number.in_(phones))
    )
    scopes = {(phone, ours) for phone, ours in rows}
    return {
        (phone, ours)
        for phone, ours in pairs
        if (phone, GLOBAL_SCOPE) in scopes or (phone, ours) in scopes
    }
