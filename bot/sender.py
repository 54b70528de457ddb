"""Claim queued outbound messages, pass the send gate again, call the provider.

One round (:func:`send_round`):
1. claim up to ``batch_size`` due messages and mark them ``sending`` — committed
   before any provider call, so two workers never send the same message;
   messages whose recipient opted out meanwhile become ``suppressed`` instead;
2. one provider call for the batch;
3. record each outcome, matched by our reference (the message id).

This module is the only caller of a provider's ``send_batch``.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import NO_TURNS, WriteTurns, utcnow
from bot.models import (
    OUTBOX_STATUSES,
    Contact,
    Conversation,
    Direction,
    Message,
    MessagePurpose,
    MessageStatus,
)
from bot.optout import EXEMPT_PURPOSES, blocked_pairs
from bot.providers.base import (
    AccountProviderError,
    OutboundSms,
    Outcome,
    PermanentProviderError,
    SendResult,
    SmsProvider,
    TemporaryProviderError,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
# FCC 24-24: one confirmation text is presumed fine when sent within five minutes.
CONFIRMATION_WINDOW = dt.timedelta(minutes=5)
ACCOUNT_RECHECK_S = 60.0


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    to: str
    our_number: str
    body: str
    attempts: int


@dataclass(slots=True)
class SenderState:
    """What the inbox shows about sending: paused (and why) or running."""

    paused_until: dt.datetime | None = None
    pause_reason: str | None = None
    sent: int = field(default=0)

    def is_paused(self, now: dt.datetime) -> bool:
        return self.paused_until is not None and now < self.paused_until


async def send_round(
    sessionmaker: async_sessionmaker,
    provider: SmsProvider,
    *,
    state: SenderState,
    default_sender: str | None = None,
    batch_size: int = 1000,
    turns: WriteTurns = NO_TURNS,
) -> int:
    """Send one batch; return how many messages were claimed (0 when idle or paused)."""
    now = utcnow()
    if state.is_paused(now):
        return 0
    async with turns.turn(), sessionmaker.begin() as session:
        claimed = await claim_batch(session, batch_size, now)
    if not claimed:
        return 0
    outbound = [_outbound(c, default_sender) for c in claimed]
    results = await _call_provider(provider, outbound)
    async with turns.turn(), sessionmaker.begin() as session:
        await record_results(session, claimed, results, provider.name, state)
    return len(claimed)


async def claim_batch(session: AsyncSession, limit: int, now: dt.datetime) -> list[Claimed]:
    rows = (
        await session.execute(
            select(Message, Contact.phone_number, Conversation.our_number)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .join(Contact, Conversation.contact_id == Contact.id)
            .where(
                Message.direction == Direction.OUT,
                Message.status.in_(OUTBOX_STATUSES),
                or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            )
            .order_by(Message.priority, Message.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Message)
        )
    ).all()
    refused = await blocked_pairs(session, {(phone, ours) for _, phone, ours in rows})
    claimed: list[Claimed] = []
    for message, phone, ours in rows:
        reason = _refusal(message, (phone, ours) in refused, now)
        if reason is not None:
            message.status = MessageStatus.SUPPRESSED
            message.error_text = reason
            continue
        message.status = MessageStatus.SENDING
        message.attempts += 1
        claimed.append(Claimed(message.id, phone, ours, message.body, message.attempts))
    return claimed


def _refusal(message: Message, opted_out: bool, now: dt.datetime) -> str | None:
    """The send gate at claim time: why this message must not go out, or None."""
    if message.purpose is MessagePurpose.OPT_OUT_CONFIRMATION:
        late = now - message.created_at > CONFIRMATION_WINDOW
        return "suppressed: opt-out confirmation window of 5 minutes passed" if late else None
    if opted_out and message.purpose not in EXEMPT_PURPOSES:
        return "suppressed: opted out"
    return None


def _outbound(claimed: Claimed, default_sender: str | None) -> OutboundSms:
    sender = claimed.our_number if claimed.our_number.startswith("+") else default_sender
    return OutboundSms(ref=str(claimed.id), to=claimed.to, body=claimed.body, sender=sender)


async def _call_provider(
    provider: SmsProvider, outbound: Sequence[OutboundSms]
) -> list[SendResult]:
    try:
        return await provider.send_batch(outbound)
    except TemporaryProviderError as exc:
        return _all(outbound, Outcome.RETRY, exc, exc.retry_after_s)
    except AccountProviderError as exc:
        return _all(outbound, Outcome.ACCOUNT, exc)
    except PermanentProviderError as exc:
        return _all(outbound, Outcome.REJECTED, exc)
    except Exception as exc:
        log.exception("provider %s raised unexpectedly", provider.name)
        return _all(outbound, Outcome.RETRY, exc)


def _all(
    outbound: Sequence[OutboundSms],
    outcome: Outcome,
    exc: Exception,
    retry_after: float | None = None,
) -> list[SendResult]:
    code = getattr(exc, "code", None)
    return [
        SendResult(m.ref, outcome, code=code, reason=str(exc), retry_after_s=retry_after)
        for m in outbound
    ]


async def record_results(
    session: AsyncSession,
    claimed: Sequence[Claimed],
    results: Sequence[SendResult],
    provider_name: str,
    state: SenderState,
) -> None:
    by_ref = {result.ref: result for result in results}
    now = utcnow()
    shapes: dict[tuple[str, ...], list[dict]] = defaultdict(list)
    for item in claimed:
        result = by_ref.get(str(item.id)) or SendResult(
            str(item.id), Outcome.RETRY, reason="the provider did not report this message"
        )
        values = _outcome_values(item, result, provider_name, now, state)
        shapes[tuple(sorted(values))].append({"target": item.id, "now": now, **values})
    # One executemany per shape of outcome: a 1,000-message batch is recorded in a
    # handful of round trips, so the write lock is held for milliseconds.
    connection = await session.connection()
    for columns, rows in shapes.items():
        await connection.execute(_record_statement(columns), rows)


def _record_statement(columns: tuple[str, ...]):
    table = Message.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("target"), table.c.status == MessageStatus.SENDING)
        .values(
            updated_at=bindparam("now", type_=table.c.updated_at.type),
            **{name: bindparam(name, type_=table.c[name].type) for name in columns},
        )
    )


def _outcome_values(
    item: Claimed, result: SendResult, provider_name: str, now: dt.datetime, state: SenderState
) -> dict:
    if result.outcome is Outcome.ACCEPTED:
        state.sent += 1
        return {
            "status": MessageStatus.SENT,
            "provider": provider_name,
            "provider_message_id": result.provider_message_id,
            "parts": result.parts or 1,
            "error_text": None,
        }
    if result.outcome is Outcome.REJECTED:
        return {"status": MessageStatus.FAILED, "error_text": result.reason}
    if result.outcome is Outcome.ACCOUNT:
        _pause(state, now, result.reason)
        retry_at = now + dt.timedelta(seconds=ACCOUNT_RECHECK_S)
        return {
            "status": MessageStatus.QUEUED,
            "error_text": result.reason,
            "next_attempt_at": retry_at,
        }
    if item.attempts >= MAX_ATTEMPTS:
        reason = f"gave up after {item.attempts} attempts: {result.reason}"
        return {"status": MessageStatus.FAILED, "error_text": reason}
    return {
        "status": MessageStatus.RETRYING,
        "error_text": result.reason,
        "next_attempt_at": now
        + dt.timedelta(seconds=backoff_s(item.attempts, result.retry_after_s)),
    }


def backoff_s(attempts: int, retry_after_s: float | None = None) -> float:
    """Exponential backoff with jitter, at least the provider's Retry-After."""
    base = min(2.0**attempts, 600.0) * random.uniform(0.5, 1.5)
    return max(base, retry_after_s or 0.0)


def _pause(state: SenderState, now: dt.datetime, reason: str | None) -> None:
    state.paused_until = now + dt.timedelta(seconds=ACCOUNT_RECHECK_S)
    state.pause_reason = reason or "the provider account cannot send"
