"""Outbox, send gate and sender rounds against an in-memory provider."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from sqlalchemy import select

from bot.contacts import get_or_create_contact, get_or_create_conversation
from bot.models import Message, MessagePurpose, MessageStatus, OptOut
from bot.optout import OptedOut
from bot.outbox import InvalidMessage, enqueue_reply, enqueue_to_number
from bot.providers.base import (
    AccountProviderError,
    OutboundSms,
    Outcome,
    SendResult,
    TemporaryProviderError,
)
from bot.ratelimit import TokenBucket
from bot.sender import MAX_ATTEMPTS, SenderState, send_round

CUSTOMER = "+14155550101"
OURS = "+61411111111"


class FakeProvider:
    """Records every batch; answers with a scripted outcome per recipient."""

    name = "clicksend"

    def __init__(self, outcomes: dict[str, Outcome] | None = None, raises: Exception | None = None):
        self.batches: list[list[OutboundSms]] = []
        self.outcomes = outcomes or {}
        self.raises = raises

    async def send_batch(self, messages: Sequence[OutboundSms]) -> list[SendResult]:
        self.batches.append(list(messages))
        if self.raises is not None:
            raise self.raises
        return [self._result(m) for m in reversed(messages)]  # order must not matter

    def _result(self, message: OutboundSms) -> SendResult:
        outcome = self.outcomes.get(message.to, Outcome.ACCEPTED)
        if outcome is Outcome.ACCEPTED:
            return SendResult(message.ref, outcome, provider_message_id=f"P-{message.ref}", parts=1)
        return SendResult(message.ref, outcome, reason=f"scripted {outcome}")


async def queue(sessionmaker, to=CUSTOMER, body="Hello there", purpose=MessagePurpose.API) -> int:
    async with sessionmaker.begin() as session:
        message = await enqueue_to_number(session, to, body, our_number=OURS, purpose=purpose)
        return message.id


async def status_of(sessionmaker, message_id) -> Message:
    async with sessionmaker() as session:
        return await session.get(Message, message_id)


async def test_queued_message_is_sent_from_the_number_the_customer_texted(sessionmaker):
    message_id = await queue(sessionmaker)
    provider = FakeProvider()
    assert await send_round(sessionmaker, provider, state=SenderState()) == 1
    assert provider.batches == [[OutboundSms(str(message_id), CUSTOMER, "Hello there", OURS)]]
    message = await status_of(sessionmaker, message_id)
    assert (message.status, message.provider_message_id, message.attempts) == (
        MessageStatus.SENT,
        f"P-{message_id}",
        1,
    )
    assert await send_round(sessionmaker, provider, state=SenderState()) == 0
    assert len(provider.batches) == 1


async def test_results_are_matched_by_reference_not_position(sessionmaker):
    good, bad = await queue(sessionmaker, "+14155550101"), await queue(sessionmaker, "+14155550102")
    provider = FakeProvider({"+14155550102": Outcome.REJECTED})
    await send_round(sessionmaker, provider, state=SenderState())
    assert (await status_of(sessionmaker, good)).status is MessageStatus.SENT
    failed = await status_of(sessionmaker, bad)
    assert (failed.status, failed.error_text) == (MessageStatus.FAILED, "scripted rejected")


async def test_temporary_error_schedules_a_retry_with_backoff(sessionmaker):
    message_id = await queue(sessionmaker)
    provider = FakeProvider(raises=TemporaryProviderError("HTTP 503", retry_after_s=120))
    await send_round(sessionmaker, provider, state=SenderState())
    message = await status_of(sessionmaker, message_id)
    assert message.status is MessageStatus.RETRYING
    assert message.next_attempt_at - message.updated_at >= dt.timedelta(seconds=120)
    assert await send_round(sessionmaker, provider, state=SenderState()) == 0  # not due yet


async def test_retrying_gives_up_after_max_attempts(sessionmaker):
    message_id = await queue(sessionmaker)
    provider = FakeProvider(raises=TemporaryProviderError("down"))
    for _ in range(MAX_ATTEMPTS):
        async with sessionmaker.begin() as session:
            (await session.get(Message, message_id)).next_attempt_at = None
        await send_round(sessionmaker, provider, state=SenderState())
    message = await status_of(sessionmaker, message_id)
    assert message.status is MessageStatus.FAILED
    assert message.error_text.startswith(f"gave up after {MAX_ATTEMPTS} attempts")


async def test_account_error_pauses_sending_and_keeps_messages_queued(sessionmaker):
    message_id = await queue(sessionmaker)
    state = SenderState()
    provider = FakeProvider(raises=AccountProviderError("no credit", code="INSUFFICIENT_CREDIT"))
    await send_round(sessionmaker, provider, state=state)
    message = await status_of(sessionmaker, message_id)
    assert (message.status, message.error_text) == (MessageStatus.QUEUED, "no credit")
    assert state.pause_reason == "no credit"
    assert await send_round(sessionmaker, provider, state=state) == 0
    assert len(provider.batches) == 1


async def test_account_pauses_do_not_use_up_attempts(sessionmaker):
    """An hour without credit, then one 503: the message is retried, not given up."""
    message_id = await queue(sessionmaker)
    no_credit = FakeProvider(raises=AccountProviderError("no credit", code="INSUFFICIENT_CREDIT"))
    down = FakeProvider(raises=TemporaryProviderError("HTTP 503"))
    for provider in [no_credit] * MAX_ATTEMPTS + [down]:
        async with sessionmaker.begin() as session:
            (await session.get(Message, message_id)).next_attempt_at = None
        assert await send_round(sessionmaker, provider, state=SenderState()) == 1
    message = await status_of(sessionmaker, message_id)
    assert (message.status, message.attempts) == (MessageStatus.RETRYING, 1)
    assert len(no_credit.batches) == MAX_ATTEMPTS


async def test_gate_refuses_enqueue_to_an_opted_out_number(sessionmaker):
    async with sessionmaker.begin() as session:
        session.add(OptOut(phone_number=CUSTOMER))
    with pytest.raises(OptedOut):
        await queue(sessionmaker)
    async with sessionmaker() as session:
        assert (await session.scalars(select(Message))).all() == []


async def test_opt_out_after_enqueue_suppresses_at_claim_time(sessionmaker):
    message_id = await queue(sessionmaker)
    async with sessionmaker.begin() as session:
        session.add(OptOut(phone_number=CUSTOMER, our_number=OURS))
    provider = FakeProvider()
    await send_round(sessionmaker, provider, state=SenderState())
    message = await status_of(sessionmaker, message_id)
    assert (message.status, message.error_text) == (
        MessageStatus.SUPPRESSED,
        "suppressed: opted out",
    )
    assert provider.batches == []


async def test_opt_out_scoped_to_another_number_does_not_block(sessionmaker):
    async with sessionmaker.begin() as session:
        session.add(OptOut(phone_number=CUSTOMER, our_number="+61499999999"))
    message_id = await queue(sessionmaker)
    await send_round(sessionmaker, FakeProvider(), state=SenderState())
    assert (await status_of(sessionmaker, message_id)).status is MessageStatus.SENT


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("", "is empty"),
        ("  \x00 ", "is empty"),
        ("x" * 919, "needs 7 SMS parts (gsm7)"),
        ("bad \ud800", "lone surrogate"),
    ],
)
async def test_bad_bodies_are_refused_naming_the_field(sessionmaker, body, problem):
    async with sessionmaker.begin() as session:
        contact = await get_or_create_contact(session, CUSTOMER)
        conversation = await get_or_create_conversation(session, contact, OURS)
    with pytest.raises(InvalidMessage) as caught:
        async with sessionmaker.begin() as session:
            await enqueue_reply(session, conversation.id, body)
    assert (caught.value.field, problem in caught.value.problem) == ("body", True)


async def test_budget_sends_replies_before_campaign_traffic(sessionmaker):
    campaign = [
        await queue(sessionmaker, f"+1415555{i:04d}", purpose=MessagePurpose.CAMPAIGN)
        for i in range(7)
    ]
    agent = await queue(sessionmaker, "+14155560001", purpose=MessagePurpose.AGENT_REPLY)
    bot = await queue(sessionmaker, "+14155560002", purpose=MessagePurpose.BOT_REPLY)
    now = [0.0]
    bucket = TokenBucket(4, clock=lambda: now[0])
    provider = FakeProvider()

    async def round_() -> int:
        return await send_round(sessionmaker, provider, state=SenderState(), bucket=bucket)

    assert await round_() == 4
    assert await round_() == 0  # the budget is spent: nothing claimed
    now[0] += 1.0
    assert await round_() == 4
    refs = [[int(m.ref) for m in batch] for batch in provider.batches]
    assert refs == [[agent, bot, *campaign[:2]], campaign[2:6]]
    async with sessionmaker() as session:
        left = await session.get(Message, campaign[6])
    assert left.status is MessageStatus.QUEUED
