"""Messages in doubt: the sender never re-sends them blindly, the reconciler looks them up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

import pytest

from bot import receipts
from bot.db import utcnow
from bot.models import Message, MessageStatus
from bot.outbox import enqueue_to_number
from bot.providers.base import (
    AmbiguousProviderError,
    DeliveryReceipt,
    OutboundSms,
    Outcome,
    SendResult,
    SentRecord,
    TemporaryProviderError,
)
from bot.reconciler import RESEND_REASON, STALE_REASON, ReconcilePolicy, reconcile_round
from bot.sender import UNKNOWN_REASON, SenderState, send_round
from tests.bot.outbound_helpers import handed_over

OURS = "+61411111111"
POLICY = ReconcilePolicy(grace_s=120, recheck_s=15, stale_sending_s=60, clock_margin_s=120)


class Provider:
    """Sends by script; ``history`` is what the provider accepted, looked up by ref."""

    name = "clicksend"
    send_timeout_s = 30.0

    def __init__(self, send_error: Exception | None = None) -> None:
        self.send_error = send_error
        self.batches: list[list[str]] = []
        self.history: dict[str, SentRecord] = {}
        self.lookups: list[tuple[set[str], dt.datetime, dt.datetime]] = []
        self.lookup_error: Exception | None = None

    async def send_batch(self, messages: Sequence[OutboundSms]) -> list[SendResult]:
        self.batches.append([m.ref for m in messages])
        if self.send_error is not None:
            raise self.send_error
        accepted = Outcome.ACCEPTED
        return [SendResult(m.ref, accepted, provider_message_id=f"P-{m.ref}") for m in messages]

    async def find_sent(
        self, refs: Collection[str], date_from: dt.datetime, date_to: dt.datetime
    ) -> dict[str, SentRecord]:
        self.lookups.append((set(refs), date_from, date_to))
        if self.lookup_error is not None:
            raise self.lookup_error
        return {ref: self.history[ref] for ref in refs if ref in self.history}


async def queue(sessionmaker, to: str = "+14155550101") -> int:
    async with sessionmaker.begin() as session:
        return (await enqueue_to_number(session, to, "Hello", our_number=OURS)).id


async def load(sessionmaker, message_id: int) -> Message:
    async with sessionmaker() as session:
        return await session.get(Message, message_id)


async def age(sessionmaker, message_id: int, seconds: float) -> None:
    """Pretend the latest hand-over to the provider happened ``seconds`` ago and is due."""
    await handed_over(sessionmaker, message_id, seconds, next_attempt_at=None)


async def unknown_message(sessionmaker, error: Exception | None = None) -> tuple[int, Provider]:
    message_id = await queue(sessionmaker)
    provider = Provider(error or AmbiguousProviderError("ClickSend POST /sms/send timed out"))
    await send_round(sessionmaker, provider, state=SenderState())
    return message_id, provider


@pytest.mark.parametrize(
    "error",
    [
        AmbiguousProviderError("ClickSend HTTP 500 INTERNAL_ERROR"),
        RuntimeError("bug after the request went out"),
    ],
)
async def test_ambiguous_failure_makes_the_message_unknown_not_retrying(sessionmaker, error):
    message_id, provider = await unknown_message(sessionmaker, error)
    message = await load(sessionmaker, message_id)
    assert message.status is MessageStatus.UNKNOWN
    assert message.error_text.startswith(UNKNOWN_REASON)
    assert message.provider_timestamp is not None
    assert message.next_attempt_at > message.provider_timestamp  # first look shortly after
    assert await send_round(sessionmaker, provider, state=SenderState()) == 0  # never re-sent
    assert len(provider.batches) == 1


async def test_provably_unsent_failure_is_retried_as_before(sessionmaker):
    message_id, _ = await unknown_message(sessionmaker, TemporaryProviderError("refused"))
    assert (await load(sessionmaker, message_id)).status is MessageStatus.RETRYING


async def test_found_in_history_becomes_sent_without_a_second_send(sessionmaker):
    message_id, provider = await unknown_message(sessionmaker)
    await age(sessionmaker, message_id, 5)
    provider.history[str(message_id)] = SentRecord(str(message_id), "CS-1", parts=2)
    assert await reconcile_round(sessionmaker, provider, policy=POLICY) == 1
    message = await load(sessionmaker, message_id)
    assert (message.status, message.provider_message_id, message.parts) == (
        MessageStatus.SENT,
        "CS-1",
        2,
    )
    assert (message.error_text, message.next_attempt_at) == (None, None)
    assert len(provider.batches) == 1


async def test_lookup_window_starts_before_the_hand_over(sessionmaker):
    message_id, provider = await unknown_message(sessionmaker)
    await age(sessionmaker, message_id, 5)
    handed_at = (await load(sessionmaker, message_id)).provider_timestamp
    before = utcnow()
    await reconcile_round(sessionmaker, provider, policy=POLICY)
    [(refs, date_from, date_to)] = provider.lookups
    assert refs == {str(message_id)}
    assert date_from == handed_at - dt.timedelta(seconds=POLICY.clock_margin_s)
    assert date_to >= before + dt.timedelta(seconds=POLICY.clock_margin_s)


async def test_absent_within_the_grace_period_is_looked_up_again_later(sessionmaker):
    message_id, provider = await unknown_message(sessionmaker)
    await age(sessionmaker, message_id, 110)
    await reconcile_round(sessionmaker, provider, policy=POLICY)
    message = await load(sessionmaker, message_id)
    assert message.status is MessageStatus.UNKNOWN
    deadline = message.provider_timestamp + dt.timedelta(seconds=POLICY.grace_s)
    assert utcnow() < message.next_attempt_at <= deadline  # not after the grace period ends
    assert await reconcile_round(sessionmaker, provider, policy=POLICY) == 0  # not due yet
    assert len(provider.lookups) == 1


async def test_absent_after_the_grace_period_is_sent_again_once(sessionmaker):
    message_id, provider = await unknown_message(sessionmaker)
    await age(sessionmaker, message_id, 121)
    await reconcile_round(sessionmaker, provider, policy=POLICY)
    message = await load(sessionmaker, message_id)
    assert (message.status, message.error_text) == (MessageStatus.RETRYING, RESEND_REASON)
    async with sessionmaker.begin() as session:
        (await session.get(Message, message_id)).next_attempt_at = None  # skip the backoff
    provider.send_error = None
    assert await send_round(sessionmaker, provider, state=SenderState()) == 1
    message = await load(sessionmaker, message_id)
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert provider.batches == [[str(message_id)], [str(message_id)]]


async def test_failed_lookup_leaves_the_message_unknown_until_the_next_look(sessionmaker):
    message_id, provider = await unknown_message(sessionmaker)
    await age(sessionmaker, message_id, 500)  # long past the grace period
    provider.lookup_error = AmbiguousProviderError("ClickSend GET /sms/history timed out")
    assert await reconcile_round(sessionmaker, provider, policy=POLICY) == 0
    message = await load(sessionmaker, message_id)
    assert message.status is MessageStatus.UNKNOWN
    assert message.next_attempt_at > utcnow() + dt.timedelta(seconds=POLICY.recheck_s - 5)
    assert len(provider.batches) == 1


async def test_message_left_sending_by_a_crash_is_looked_up(sessionmaker):
    message_id = await queue(sessionmaker)
    async with sessionmaker.begin() as session:  # claimed, then the process died
        message = await session.get(Message, message_id)
        message.status, message.attempts = MessageStatus.SENDING, 1
    await age(sessionmaker, message_id, 30)
    provider = Provider()
    await reconcile_round(sessionmaker, provider, policy=POLICY)
    # 30 s old: the call may still be in flight, so nothing changes yet.
    assert (await load(sessionmaker, message_id)).status is MessageStatus.SENDING
    await age(sessionmaker, message_id, 61)
    provider.history[str(message_id)] = SentRecord(str(message_id), "CS-9")
    await reconcile_round(sessionmaker, provider, policy=POLICY)
    message = await load(sessionmaker, message_id)
    assert (message.status, message.provider_message_id) == (MessageStatus.SENT, "CS-9")
    assert provider.batches == []


async def test_stale_sending_message_is_marked_unknown_with_a_reason(sessionmaker):
    message_id = await queue(sessionmaker)
    async with sessionmaker.begin() as session:
        (await session.get(Message, message_id)).status = MessageStatus.SENDING
    await age(sessionmaker, message_id, 61)
    provider = Provider()
    provider.lookup_error = TemporaryProviderError("refused")
    await reconcile_round(sessionmaker, provider, policy=POLICY)
    message = await load(sessionmaker, message_id)
    assert (message.status, message.error_text) == (MessageStatus.UNKNOWN, STALE_REASON)


async def test_a_newer_attempt_is_not_overwritten_by_a_stale_decision(sessionmaker):
    message_id, provider = await unknown_message(sessionmaker)
    await age(sessionmaker, message_id, 121)

    async def resent_meanwhile(refs, date_from, date_to):
        async with sessionmaker.begin() as session:  # another worker already re-sent it
            message = await session.get(Message, message_id)
            message.attempts, message.status = 2, MessageStatus.UNKNOWN
        return {}

    provider.find_sent = resent_meanwhile
    await reconcile_round(sessionmaker, provider, policy=POLICY)
    message = await load(sessionmaker, message_id)
    assert (message.status, message.attempts) == (MessageStatus.UNKNOWN, 2)


def test_grace_period_must_cover_a_send():
    with pytest.raises(ValueError, match="grace_s"):
        ReconcilePolicy(grace_s=10, stale_sending_s=60)


@pytest.mark.parametrize("status", [MessageStatus.UNKNOWN, MessageStatus.RETRYING])
async def test_receipt_by_custom_string_settles_a_message_in_doubt(engine, sessionmaker, status):
    message_id = await queue(sessionmaker)
    async with sessionmaker.begin() as session:
        (await session.get(Message, message_id)).status = status
    async with engine.begin() as conn:
        receipt = DeliveryReceipt("CS-7", True, custom_string=str(message_id))
        [result] = await receipts.apply_receipts_batch(
            conn, [receipts.ProviderReceipt("clicksend", receipt)]
        )
    assert result.message_id == message_id
    message = await load(sessionmaker, message_id)
    assert (message.status, message.provider_message_id) == (MessageStatus.DELIVERED, "CS-7")
    assert await send_round(sessionmaker, Provider(), state=SenderState()) == 0  # not re-sent


@pytest.mark.parametrize("timeout_s", [1.0, 30.0, 90.0, 300.0])
def test_the_app_policy_fits_every_allowed_send_timeout(timeout_s):
    from inbox.app import reconcile_policy

    policy = reconcile_policy(timeout_s)
    assert policy.stale_sending_s == timeout_s + 30.0
    assert policy.grace_s >= max(120.0, policy.stale_sending_s + 60.0)


async def test_the_configured_send_timeout_reaches_the_client(aiohttp_client, settings):
    from inbox.app import create_app
    from inbox.keys import SERVICES

    app = create_app(settings.with_overrides(send_timeout_s=12.5), run_workers=False)
    await aiohttp_client(app, server_kwargs={"port": settings.port})
    assert app[SERVICES].provider.send_timeout_s == 12.5
