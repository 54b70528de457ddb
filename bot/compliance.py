"""Compliance first: STOP, START and HELP, applied in the pipeline transaction.

FCC 24-24 (effective 2025-04-11) and CTIA guidance, as smsdesk applies them:
- an opt-out is honoured at once: the number is suppressed (for all our numbers
  by default), everything queued to it is suppressed, and exactly one
  confirmation without marketing may follow, within five minutes;
- a message that merely mentions an opt-out word is flagged for an agent, who
  must confirm or dismiss it within ten business days; nothing is sent to it
  automatically meanwhile;
- only START/UNSTOP (and YES while opted out) from the number itself, or an
  admin with a recorded reason and evidence, re-subscribes;
- HELP is answered (rate-limited) whether or not the number is subscribed.
Every opt-in and opt-out is written to the append-only consent ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import compliance_settings
from bot.compliance_settings import ComplianceSettings
from bot.db import utcnow
from bot.models import (
    OUTBOX_STATUSES,
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    Contact,
    Conversation,
    ConversationEvent,
    Direction,
    Message,
    MessagePurpose,
    MessageStatus,
    OptOut,
)
from bot.optout import EXEMPT_PURPOSES, GLOBAL_SCOPE, is_opted_out
from bot.optout_keywords import Intent, classify, normalize
from bot.outbox import enqueue_reply

REVOCATION_BUSINESS_DAYS = 10


@dataclass(frozen=True, slots=True)
class Inbound:
    """The STOP/START/HELP context: the message, its thread and who sent it."""

    session: AsyncSession
    message: Message
    conversation: Conversation
    phone_number: str
    settings: ComplianceSettings
    opted_out: bool

    @property
    def scope(self) -> str:
        return GLOBAL_SCOPE if self.settings.scope == "global" else self.conversation.our_number


async def compliance_step(session: AsyncSession, message: Message) -> bool:
    """Pipeline step: act on STOP/START/HELP; True lets keyword rules run next."""
    if message.direction is not Direction.IN:
        return True
    conversation = await session.get_one(Conversation, message.conversation_id)
    contact = await session.get_one(Contact, conversation.contact_id)
    settings = await compliance_settings.load(session)
    opted_out = await is_opted_out(session, contact.phone_number, conversation.our_number)
    ctx = Inbound(session, message, conversation, contact.phone_number, settings, opted_out)
    intent = classify(message.body, opted_out=opted_out, vocabulary=settings.vocabulary())
    return await INTENT_HANDLERS[intent](ctx)


async def _on_opt_out(ctx: Inbound) -> bool:
    keyword = normalize(ctx.message.body)[:64]
    if ctx.opted_out:
        await _ledger(ctx, ConsentKind.OPT_OUT, ConsentMethod.KEYWORD, keyword=keyword)
        await add_event(
            ctx.session,
            ctx.conversation.id,
            "opt_out",
            "Opt-out repeated; already opted out, no new confirmation",
        )
        return False
    event = await _ledger(ctx, ConsentKind.OPT_OUT, ConsentMethod.KEYWORD, keyword=keyword)
    await suppress(ctx.session, ctx.phone_number, ctx.scope)
    await _clear_possible(ctx.conversation)
    await add_event(ctx.session, ctx.conversation.id, "opt_out", _opt_out_text(ctx, keyword))
    if ctx.settings.confirmation_enabled:
        await enqueue_reply(
            ctx.session,
            ctx.conversation.id,
            ctx.settings.render(ctx.settings.confirmation_text),
            purpose=MessagePurpose.OPT_OUT_CONFIRMATION,
            consent_event_id=event.id,
        )
    return False


def _opt_out_text(ctx: Inbound, keyword: str) -> str:
    where = "all our numbers" if ctx.scope == GLOBAL_SCOPE else ctx.scope
    return f'Opted out by "{keyword}" ({where}); queued messages suppressed'


async def _on_opt_in(ctx: Inbound) -> bool:
    if not ctx.opted_out:
        return True  # START from a subscribed number is an ordinary message
    keyword = normalize(ctx.message.body)[:64]
    await _ledger(ctx, ConsentKind.OPT_IN, ConsentMethod.KEYWORD, keyword=keyword)
    await unsuppress(ctx.session, ctx.phone_number, ctx.conversation.our_number)
    await add_event(ctx.session, ctx.conversation.id, "opt_in", f'Opted back in by "{keyword}"')
    await enqueue_reply(
        ctx.session,
        ctx.conversation.id,
        ctx.settings.render(ctx.settings.opt_in_text),
        purpose=MessagePurpose.OPT_IN_CONFIRMATION,
    )
    return False


async def _on_help(ctx: Inbound) -> bool:
    if await _recent_help(ctx):
        await add_event(
            ctx.session, ctx.conversation.id, "help", "HELP answered recently; not repeated"
        )
        return False
    await enqueue_reply(
        ctx.session,
        ctx.conversation.id,
        ctx.settings.render(ctx.settings.help_text),
        purpose=MessagePurpose.HELP,
    )
    await add_event(ctx.session, ctx.conversation.id, "help", "HELP answered")
    return False


async def _recent_help(ctx: Inbound) -> bool:
    since = utcnow() - dt.timedelta(minutes=ctx.settings.help_cooldown_minutes)
    query = select(Message.id).where(
        Message.conversation_id == ctx.conversation.id,
        Message.purpose == MessagePurpose.HELP,
        Message.created_at >= since,
    )
    return await ctx.session.scalar(select(exists(query))) or False


async def _on_possible(ctx: Inbound) -> bool:
    if not ctx.opted_out and not ctx.conversation.possible_opt_out:
        ctx.conversation.possible_opt_out = True
        ctx.conversation.possible_opt_out_at = utcnow()
        await add_event(
            ctx.session,
            ctx.conversation.id,
            "possible_opt_out",
            "Possible opt-out: an agent must confirm or dismiss it",
        )
    return False  # nothing is sent automatically to a possible opt-out


async def _on_nothing(ctx: Inbound) -> bool:
    return True


INTENT_HANDLERS: dict[Intent, Callable[[Inbound], Awaitable[bool]]] = {
    Intent.OPT_OUT: _on_opt_out,
    Intent.OPT_IN: _on_opt_in,
    Intent.HELP: _on_help,
    Intent.POSSIBLE_OPT_OUT: _on_possible,
    Intent.NONE: _on_nothing,
}


async def _ledger(ctx: Inbound, kind: ConsentKind, method: ConsentMethod, **extra) -> ConsentEvent:
    event = ConsentEvent(
        phone_number=ctx.phone_number,
        scope=ctx.scope,
        kind=kind,
        method=method,
        raw_text=ctx.message.body,
        provider_message_id=ctx.message.provider_message_id,
        message_id=ctx.message.id,
        **extra,
    )
    ctx.session.add(event)
    await ctx.session.flush()
    return event


async def suppress(session: AsyncSession, phone_number: str, scope: str) -> int:
    """Record the opt-out and suppress everything queued to the number; return that count."""
    found = await session.scalar(
        select(OptOut.id).where(OptOut.phone_number == phone_number, OptOut.our_number == scope)
    )
    if found is None:
        try:
            async with session.begin_nested():  # a concurrent opt-out may insert it first
                session.add(OptOut(phone_number=phone_number, our_number=scope))
        except IntegrityError:
            pass
    return await _suppress_queued(session, phone_number, scope)


async def suppress_everywhere(session: AsyncSession, phone_numbers: Sequence[str]) -> None:
    """:func:`suppress` for many numbers at once, all our numbers (list imports)."""
    for start in range(0, len(phone_numbers), BULK_CHUNK):
        chunk = list(phone_numbers[start : start + BULK_CHUNK])
        now = utcnow()
        await session.execute(
            insert(OptOut),
            [{"phone_number": p, "our_number": GLOBAL_SCOPE, "created_at": now} for p in chunk],
        )
        await _suppress_queued(session, chunk, GLOBAL_SCOPE)


BULK_CHUNK = 500


async def _suppress_queued(
    session: AsyncSession, phone_number: str | Sequence[str], scope: str
) -> int:
    phones = [phone_number] if isinstance(phone_number, str) else list(phone_number)
    threads = select(Conversation.id).join(Contact).where(Contact.phone_number.in_(phones))
    if scope != GLOBAL_SCOPE:
        threads = threads.where(Conversation.our_number == scope)
    result = await session.execute(
        update(Message)
        .where(
            Message.conversation_id.in_(threads),
            Message.direction == Direction.OUT,
            Message.status.in_(OUTBOX_STATUSES),
            Message.purpose.not_in(EXEMPT_PURPOSES),
        )
        .values(
            status=MessageStatus.SUPPRESSED, error_text="suppressed: opted out", updated_at=utcnow()
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def unsuppress(session: AsyncSession, phone_number: str, our_number: str) -> None:
    await session.execute(
        delete(OptOut).where(
            OptOut.phone_number == phone_number,
            or_(OptOut.our_number == GLOBAL_SCOPE, OptOut.our_number == our_number),
        )
    )


async def _clear_possible(conversation: Conversation) -> None:
    conversation.possible_opt_out = False
    conversation.possible_opt_out_at = None


async def add_event(
    session: AsyncSession, conversation_id: int, kind: str, text: str, user_id: int | None = None
) -> None:
    session.add(
        ConversationEvent(conversation_id=conversation_id, kind=kind, text=text, user_id=user_id)
    )


def revocation_deadline(flagged_at: dt.datetime) -> dt.datetime:
    """Ten business days (Monday to Friday) after a possible opt-out was flagged."""
    day, left = flagged_at, REVOCATION_BUSINESS_DAYS
    while left:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day
