"""Resolve outbound messages in doubt by looking them up in the provider's history.

A message is ``unknown`` when a send may have reached the provider but gave no
clear answer (read timeout, 5xx, cut-off body, unexpected error), or when it
stayed ``sending`` longer than a send can take (the process died between the
HTTP call and recording its result). ClickSend has no idempotency key, so such a
message is never re-sent blindly. One round (:func:`reconcile_round`):

1. ``sending`` rows older than ``stale_sending_s`` become ``unknown``;
2. due ``unknown`` rows are leased (``next_attempt_at`` pushed ``recheck_s`` on,
   committed) so a second reconciler does not look them up at the same time;
3. one history lookup by custom_string (our id) over the window from the earliest
   hand-over minus ``clock_margin_s`` to now plus ``clock_margin_s``;
4. found → ``sent`` with the provider's message id; absent once ``grace_s`` has
   passed since the hand-over → ``retrying`` (the sender sends it again); absent
   earlier → looked up again later. A failed lookup leaves everything ``unknown``.

Every write is guarded by the status and the attempt number the round read, so a
receipt or a newer attempt that got there first always wins.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import NO_TURNS, WriteTurns, utcnow
from bot.models import Direction, Message, MessageStatus
from bot.providers.base import ProviderError, SentRecord, SmsProvider
from bot.sender import MAX_ATTEMPTS, backoff_s, sent_values, write_guarded

log = logging.getLogger(__name__)

STALE_REASON = "the sender stopped before recording the provider's answer; checking its history"
RESEND_REASON = "the provider has no record of the earlier attempt; sending again"


@dataclass(frozen=True, slots=True)
class ReconcilePolicy:
    """Timings of the lookup; docs/sending.md explains the defaults.

    ``grace_s`` must cover the send timeout plus the provider's history lag: a
    message absent that long after it was handed over is taken as never accepted.
    """

    grace_s: float = 120.0
    recheck_s: float = 15.0
    stale_sending_s: float = 60.0  # the send timeout (30 s) plus a margin
    clock_margin_s: float = 120.0
    batch_size: int = 1000
    interval_s: float = 5.0

    def __post_init__(self) -> None:
        if self.grace_s < self.stale_sending_s:
            raise ValueError("grace_s must be at least stale_sending_s (the send timeout + margin)")


@dataclass(frozen=True, slots=True)
class Doubt:
    id: int
    attempts: int
    handed_at: dt.datetime


async def reconcile_round(
    sessionmaker: async_sessionmaker,
    provider: SmsProvider,
    *,
    policy: ReconcilePolicy,
    turns: WriteTurns = NO_TURNS,
) -> int:
    """One pass; returns how many messages changed state or were looked up."""
    now = utcnow()
    async with turns.turn(), sessionmaker.begin() as session:
        stale = await mark_stale_sending(session, now, policy.stale_sending_s)
        doubts = await lease_doubts(session, now, policy)
    if not doubts:
        return stale
    date_from = min(d.handed_at for d in doubts) - dt.timedelta(seconds=policy.clock_margin_s)
    date_to = utcnow() + dt.timedelta(seconds=policy.clock_margin_s)
    try:
        found = await provider.find_sent([str(d.id) for d in doubts], date_from, date_to)
    except ProviderError as exc:
        log.warning("lookup of %d messages failed (%s); they stay unknown", len(doubts), exc)
        return stale
    async with turns.turn(), sessionmaker.begin() as session:
        await record_findings(session, doubts, found, provider.name, policy)
    return stale + len(doubts)


async def mark_stale_sending(session: AsyncSession, now: dt.datetime, stale_s: float) -> int:
    """``sending`` for longer than a send can take: the result was never recorded."""
    cutoff = now - dt.timedelta(seconds=stale_s)
    handed_at = func.coalesce(Message.provider_timestamp, Message.updated_at)
    result = await session.execute(
        update(Message)
        .where(
            Message.direction == Direction.OUT,
            Message.status == MessageStatus.SENDING,
            handed_at < cutoff,
        )
        .values(status=MessageStatus.UNKNOWN, next_attempt_at=now, error_text=STALE_REASON)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        log.warning("%d messages were left sending; looking them up", result.rowcount)
    return result.rowcount


async def lease_doubts(
    session: AsyncSession, now: dt.datetime, policy: ReconcilePolicy
) -> list[Doubt]:
    """Due ``unknown`` messages, their next look pushed ``recheck_s`` on (the lease)."""
    rows = (
        await session.execute(
            select(
                Message.id,
                Message.attempts,
                func.coalesce(Message.provider_timestamp, Message.created_at),
            )
            .where(
                Message.direction == Direction.OUT,
                Message.status == MessageStatus.UNKNOWN,
                or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            )
            .order_by(Message.id)
            .limit(policy.batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return []
    lease = now + dt.timedelta(seconds=policy.recheck_s)
    await session.execute(
        update(Message)
        .where(Message.id.in_([row[0] for row in rows]))
        .values(next_attempt_at=lease)
        .execution_options(synchronize_session=False)
    )
    return [Doubt(id, attempts, _aware(handed)) for id, attempts, handed in rows]


def _aware(value: dt.datetime) -> dt.datetime:
    """A coalesce() result can lose the column type's timezone on SQLite."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


async def record_findings(
    session: AsyncSession,
    doubts: Sequence[Doubt],
    found: dict[str, SentRecord],
    provider_name: str,
    policy: ReconcilePolicy,
) -> None:
    now = utcnow()
    updates = []
    for doubt in doubts:
        values = _finding(doubt, found.get(str(doubt.id)), provider_name, policy, now)
        updates.append((doubt.id, doubt.attempts, values))
    await write_guarded(session, MessageStatus.UNKNOWN, now, updates)


def _finding(
    doubt: Doubt,
    record: SentRecord | None,
    provider_name: str,
    policy: ReconcilePolicy,
    now: dt.datetime,
) -> dict:
    if record is not None:
        sent = sent_values(provider_name, record.provider_message_id, record.parts)
        return {**sent, "next_attempt_at": None}
    deadline = doubt.handed_at + dt.timedelta(seconds=policy.grace_s)
    if now < deadline:
        look_again = min(now + dt.timedelta(seconds=policy.recheck_s), deadline)
        return {"next_attempt_at": look_again}
    if doubt.attempts >= MAX_ATTEMPTS:
        reason = f"gave up after {doubt.attempts} attempts: the provider never accepted it"
        return {"status": MessageStatus.FAILED, "error_text": reason, "next_attempt_at": None}
    return {
        "status": MessageStatus.RETRYING,
        "error_text": RESEND_REASON,
        "next_attempt_at": now + dt.timedelta(seconds=backoff_s(doubt.attempts)),
    }
