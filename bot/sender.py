"""Claim queued outbound messages, pass the send gate again, call the provider.

One round (:func:`send_round`):
1. take tokens from the process's rate budget (bot/ratelimit), then claim that
   many due messages in priority order and mark them ``sending`` — committed
   before any provider call, so two workers never send the same message;
   messages whose recipient opted out meanwhile become ``suppressed`` instead;
2. one provider call for the batch;
3. record each outcome, matched by our reference (the message id). A failure
   that proves the request never reached the provider schedules a retry; an
   ambiguous one (timeout after sending, 5xx, cut-off answer, any unexpected
   error) makes the messages ``unknown`` for bot/reconciler to look up: they are
   never re-sent blindly (docs/sending.md).

This module is the only caller of a provider's ``send_batch``.
"""

from __future__ import annotations

import asyncio
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
    AmbiguousProviderError,
    OutboundSms,
    Outcome,
    PermanentProviderError,
    SendResult,
    SmsProvider,
    TemporaryProviderError,
)
from bot.ratelimit import TokenBucket

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
# FCC 24-24: one confirmation text is presumed fine when sent within five minutes.
CONFIRMATION_WINDOW = dt.timedelta(minutes=5)
ACCOUNT_RECHECK_S = 60.0
# When the reconciler first looks up a message in doubt (ClickSend's history may
# lag its answer by a moment); later looks follow the reconciler's own policy.
UNKNOWN_FIRST_CHECK_S = 2.0
UNKNOWN_REASON = "no clear answer from the provider; checking its sent history"
# With the budget spent, wait for this share of a second's budget before claiming
# again, so a tight budget sends a few messages per call rather than one.
BUDGET_CHUNK_S = 0.2


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
    bucket: TokenBucket | None = None,
    unknown_check_s: float = UNKNOWN_FIRST_CHECK_S,
) -> int:
    """Send one batch; return how many messages were claimed (0 when idle or paused)."""
    if state.is_paused(utcnow()):
        return 0
    allowed = await _budget(bucket, batch_size)
    if not allowed:
        return 0
    now = utcnow()
    async with turns.turn(), sessionmaker.begin() as session:
        claimed = await claim_batch(session, allowed, now)
    if bucket is not None:
        bucket.give_back(allowed - len(claimed))
    if not claimed:
        return 0
    outbound = [_outbound(c, default_sender) for c in claimed]
    results = await _call_provider(provider, outbound)
    async with turns.turn(), sessionmaker.begin() as session:
        await record_results(
            session, claimed, results, provider.name, state, unknown_check_s=unknown_check_s
        )
    return len(claimed)


async def _budget(bucket: TokenBucket | None, batch_size: int) -> int:
    """How many messages this round may claim, waiting for the budget when it is spent."""
    if bucket is None:
        return batch_size
    granted = bucket.take(batch_size)
    if granted:
        return granted
    chunk = max(1, min(batch_size, int(bucket.rate_per_s * BUDGET_CHUNK_S)))
    await asyncio.sleep(bucket.wait_s(chunk))
    return bucket.take(batch_size)


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
        message.provider_timestamp = now  # handed to the provider: bounds a later lookup
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
    except AmbiguousProviderError as exc:
        return _all(outbound, Outcome.UNKNOWN, exc)
    except TemporaryProviderError as exc:
        return _all(outbound, Outcome.RETRY, exc, exc.retry_after_s)
    except AccountProviderError as exc:
        return _all(outbound, Outcome.ACCOUNT, exc)
    except PermanentProviderError as exc:
        return _all(outbound, Outcome.REJECTED, exc)
    except Exception as exc:
        # Nothing says the request did not go out: look it up before any re-send.
        log.exception("provider %s raised unexpectedly", provider.name)
        return _all(outbound, Outcome.UNKNOWN, exc)


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
    *,
    unknown_check_s: float = UNKNOWN_FIRST_CHECK_S,
) -> None:
    by_ref = {result.ref: result for result in results}
    now = utcnow()
    updates: list[tuple[int, int, dict]] = []
    for item in claimed:
        result = by_ref.get(str(item.id)) or SendResult(
            str(item.id), Outcome.UNKNOWN, reason="the provider did not report this message"
        )
        values = _outcome_values(item, result, provider_name, now, state)
        if result.outcome is Outcome.UNKNOWN:
            values["next_attempt_at"] = now + dt.timedelta(seconds=unknown_check_s)
        updates.append((item.id, item.attempts, values))
    # The attempt number guards against a late answer to an attempt that the
    # reconciler has since resolved and the sender has claimed again.
    await write_guarded(session, MessageStatus.SENDING, now, updates)


async def write_guarded(
    session: AsyncSession,
    seen_status: MessageStatus,
    now: dt.datetime,
    updates: Sequence[tuple[int, int, dict]],
) -> None:
    """Set each (message id, attempts seen, values) update's values, and ``updated_at``,
    only where the message is still ``seen_status`` at that attempt.

    One executemany per shape of values: a 1,000-message batch is recorded in a
    handful of round trips, so the write lock is held for milliseconds.
    """
    shapes: dict[tuple[str, ...], list[dict]] = defaultdict(list)
    for target, seen_attempts, values in updates:
        row = {"target": target, "seen_attempts": seen_attempts, "now": now, **values}
        shapes[tuple(sorted(values))].append(row)
    connection = await session.connection()
    for columns, rows in shapes.items():
        await connection.execute(_guarded_statement(seen_status, columns), rows)


def _guarded_statement(seen_status: MessageStatus, columns: tuple[str, ...]):
    table = Message.__table__
    return (
        update(table)
        .where(
            table.c.id == bindparam("target"),
            table.c.status == seen_status,
            table.c.attempts == bindparam("seen_attempts"),
        )
        .values(
            updated_at=bindparam("now", type_=table.c.updated_at.type),
            **{name: bindparam(name, type_=table.c[name].type) for name in columns},
        )
    )


def sent_values(provider_name: str, provider_message_id: str | None, parts: int | None) -> dict:
    """The columns of a message the provider accepted."""
    return {
        "status": MessageStatus.SENT,
        "provider": provider_name,
        "provider_message_id": provider_message_id,
        "parts": parts or 1,
        "error_text": None,
    }


def _outcome_values(
    item: Claimed, result: SendResult, provider_name: str, now: dt.datetime, state: SenderState
) -> dict:
    if result.outcome is Outcome.ACCEPTED:
        state.sent += 1
        return sent_values(provider_name, result.provider_message_id, result.parts)
    if result.outcome is Outcome.REJECTED:
        return {"status": MessageStatus.FAILED, "error_text": result.reason}
    if result.outcome is Outcome.UNKNOWN:
        reason = f"{UNKNOWN_REASON} ({result.reason})" if result.reason else UNKNOWN_REASON
        return {"status": MessageStatus.UNKNOWN, "error_text": reason, "next_attempt_at": None}
    if result.outcome is Outcome.ACCOUNT:
        _pause(state, now, result.reason)
        retry_at = now + dt.timedelta(seconds=ACCOUNT_RECHECK_S)
        return {  # the account refused before sending: not an attempt at this message
            "status": MessageStatus.QUEUED,
            "error_text": result.reason,
            "next_attempt_at": retry_at,
            "attempts": item.attempts - 1,
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
