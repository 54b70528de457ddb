"""A thread's consent state (its banners) and the agent's consent actions on it.

The actions wrap bot/consent.py for one conversation: they lock the row first
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers anyway) so a
double-clicked "Confirm opt-out" records one opt-out and queues one confirmation,
and the second click finds the flag already gone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import compliance_settings, consent
from bot.compliance import add_event, revocation_deadline
from bot.consent import ConsentError
from bot.contacts import NotFound
from bot.db import utcnow
from bot.models import ConsentMethod, Contact, Conversation, Direction, Message, OptOut
from bot.optout import GLOBAL_SCOPE
from bot.optout_keywords import Intent, classify
from inbox.views._threads import ThreadHeader, iso, readable

FLAG_CANDIDATES = 20
# A by-hand opt-out with a written reason is what ConsentMethod.ADMIN describes;
# ConsentMethod.AGENT means "an agent confirmed a possible opt-out".
HAND_METHOD = ConsentMethod.ADMIN


@dataclass(frozen=True, slots=True)
class PossibleOptOut:
    """The flag an agent must confirm or dismiss within ten business days."""

    text: str | None  # the message that raised it, when it can still be told apart
    flagged_at: str
    flagged_iso: str
    deadline: str
    deadline_iso: str
    business_days_left: int
    overdue: bool

    @property
    def time_left(self) -> str:
        if self.overdue:
            return "overdue"
        if self.business_days_left == 0:
            return "due today"
        if self.business_days_left == 1:
            return "1 business day left"
        return f"{self.business_days_left} business days left"


@dataclass(frozen=True, slots=True)
class ThreadConsent:
    possible: PossibleOptOut | None
    opted_out_on: str | None  # the day the number opted out (any scope covering this thread)


def business_days_left(now: dt.datetime, deadline: dt.datetime) -> int:
    """Weekdays after today up to and including the deadline's day (0 on the day itself)."""
    day, left = now.date(), 0
    while day < deadline.date():
        day += dt.timedelta(days=1)
        left += day.weekday() < 5
    return left


def possible_opt_out(flagged_at: dt.datetime, text: str | None, now: dt.datetime) -> PossibleOptOut:
    deadline = revocation_deadline(flagged_at)
    return PossibleOptOut(
        text=text,
        flagged_at=readable(flagged_at, seconds=False),
        flagged_iso=iso(flagged_at),
        deadline=readable(deadline, seconds=False),
        deadline_iso=iso(deadline),
        business_days_left=business_days_left(now, deadline),
        overdue=now > deadline,
    )


async def thread_consent(session: AsyncSession, header: ThreadHeader) -> ThreadConsent:
    since = await opted_out_since(session, header.phone_number, header.our_number)
    possible = None
    if header.possible_opt_out and header.possible_opt_out_at is not None and since is None:
        text = await _flagged_text(session, header.id, header.possible_opt_out_at)
        possible = possible_opt_out(header.possible_opt_out_at, text, utcnow())
    return ThreadConsent(
        possible=possible,
        opted_out_on=None if since is None else since.astimezone(dt.UTC).strftime("%Y-%m-%d"),
    )


async def opted_out_since(
    session: AsyncSession, phone_number: str, our_number: str
) -> dt.datetime | None:
    return await session.scalar(
        select(func.min(OptOut.created_at)).where(
            OptOut.phone_number == phone_number,
            OptOut.our_number.in_((GLOBAL_SCOPE, our_number)),
        )
    )


async def _flagged_text(
    session: AsyncSession, conversation_id: int, flagged_at: dt.datetime
) -> str | None:
    """The newest inbound message before the flag that reads as a possible opt-out.

    The flag does not record its message, so the message is found again with the
    current vocabulary; None when none of the recent ones qualifies any more.
    """
    bodies = await session.scalars(
        select(Message.body)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == Direction.IN,
            Message.created_at <= flagged_at,
        )
        .order_by(Message.id.desc())
        .limit(FLAG_CANDIDATES)
    )
    vocabulary = (await compliance_settings.load(session)).vocabulary()
    return next(
        (
            body
            for body in bodies
            if classify(body, opted_out=False, vocabulary=vocabulary) is Intent.POSSIBLE_OPT_OUT
        ),
        None,
    )


# -- actions -------------------------------------------------------------------------


async def confirm(session: AsyncSession, conversation_id: int, user_id: int | None) -> None:
    """Confirm the flag: opt-out recorded, queued messages suppressed, a confirmation queued."""
    conversation = await _locked(session, conversation_id)
    if not conversation.possible_opt_out:
        raise ConsentError("conversation", "has no possible opt-out to confirm any more")
    await consent.confirm_possible_opt_out(session, conversation_id, user_id)


async def dismiss(session: AsyncSession, conversation_id: int, user_id: int | None) -> None:
    await _locked(session, conversation_id)
    await consent.dismiss_possible_opt_out(session, conversation_id, user_id)


async def opt_out_by_hand(
    session: AsyncSession, conversation_id: int, user_id: int | None, *, reason: str
) -> None:
    """Suppress the thread's number in the configured scope, with the agent's reason."""
    conversation = await _locked(session, conversation_id)
    contact = await session.get_one(Contact, conversation.contact_id)
    settings = await compliance_settings.load(session)
    scope = GLOBAL_SCOPE if settings.scope == "global" else conversation.our_number
    event = await consent.record_opt_out(
        session,
        contact.phone_number,
        method=HAND_METHOD,
        reason=reason,
        user_id=user_id,
        scope=scope,
    )
    if event is None:
        raise ConsentError("phone_number", f"{contact.phone_number} is already opted out")
    conversation.possible_opt_out, conversation.possible_opt_out_at = False, None
    await add_event(
        session, conversation.id, "opt_out", f"Opted out by hand: {event.reason}", user_id
    )


async def _locked(session: AsyncSession, conversation_id: int) -> Conversation:
    conversation = await session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    return conversation
