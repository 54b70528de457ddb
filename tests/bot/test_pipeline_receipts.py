"""Pipeline worker marks stored messages handled; receipts update outbound status."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot import ingest, receipts
from bot.events import EventBus
from bot.jobs import PipelineWorker
from bot.models import Direction, Message, MessageStatus, OptOut
from bot.optout_keywords import DEFAULT_VOCABULARY
from bot.outbox import enqueue_to_number
from bot.pipeline import STEPS, Pending, handle_inbound, triage
from bot.providers.base import DeliveryReceipt, InboundSms


async def store(engine, *items: InboundSms) -> list[ingest.IngestResult]:
    async with engine.begin() as conn:
        normalized = [ingest.normalize(i, provider="clicksend", default_region="US") for i in items]
        return await ingest.store_inbound_batch(conn, normalized)


def sms(message_id: str, body: str = "hi", sender: str = "+14155550101") -> InboundSms:
    return InboundSms(message_id, sender, "+61411111111", body)


async def test_worker_round_marks_pending_messages_handled(engine, sessionmaker):
    results = await store(engine, sms("A"), sms("B", sender="+14155550102"))
    worker = PipelineWorker(sessionmaker, EventBus())
    assert await worker.round() == 2
    async with sessionmaker() as session:
        statuses = (await session.scalars(select(Message.status).order_by(Message.id))).all()
    assert statuses == [MessageStatus.HANDLED, MessageStatus.HANDLED]
    assert await worker.round() == 0
    assert [r.duplicate for r in results] == [False, False]


async def test_a_failing_step_leaves_the_message_pending(engine, sessionmaker):
    (result,) = await store(engine, sms("A"))

    async def broken_step(session, message):
        message.body = "changed"
        raise RuntimeError("rule bug")

    with pytest.raises(RuntimeError):
        async with sessionmaker.begin() as session:
            await handle_inbound(session, result.message_id, steps=(broken_step,))
    async with sessionmaker() as session:
        message = await session.get(Message, result.message_id)
    assert (message.status, message.body) == (MessageStatus.PENDING, "hi")


async def test_failing_message_is_retried_later_and_does_not_block_others(
    engine, sessionmaker, monkeypatch
):
    bad, good = await store(engine, sms("BAD", "STOP"), sms("GOOD", "HELP", sender="+14155550102"))

    async def handle(session, message_id, steps=()):
        if message_id == bad.message_id:
            raise RuntimeError("rule bug")
        return await handle_inbound(session, message_id)

    monkeypatch.setattr("bot.jobs.handle_inbound", handle)
    worker = PipelineWorker(sessionmaker, EventBus())
    await worker.round()
    async with sessionmaker() as session:
        assert (await session.get(Message, good.message_id)).status is MessageStatus.HANDLED
        assert (await session.get(Message, bad.message_id)).status is MessageStatus.PENDING
    assert await worker.round() == 0  # backing off, not spinning on the bad one


async def test_quiet_messages_are_marked_in_bulk_and_actionable_ones_keep_their_order(
    engine, sessionmaker, monkeypatch
):
    await store(
        engine,
        sms("Q1", "hello"),
        sms("S1", "STOP", sender="+14155550102"),
        sms("Y1", "yes", sender="+14155550102"),
        sms("Q2", "thanks", sender="+14155550103"),
    )
    handled: list[int] = []

    async def spy(session, message_id, steps=STEPS):
        handled.append(message_id)
        return await handle_inbound(session, message_id, steps)

    monkeypatch.setattr("bot.jobs.handle_inbound", spy)
    assert await PipelineWorker(sessionmaker, EventBus()).round() == 4
    assert handled == [2, 3]  # STOP then the YES that follows it, one by one, in order
    async with sessionmaker() as session:
        statuses = set(
            (await session.scalars(select(Message.status).where(Message.direction == "in"))).all()
        )
        optouts = (await session.scalars(select(OptOut.phone_number))).all()
    assert statuses == {MessageStatus.HANDLED}
    assert optouts == []  # STOP, then YES while opted out: subscribed again


def test_triage_keeps_a_number_sequential_after_its_first_actionable_message():
    batch = [
        Pending(1, "hi", "+1", False),
        Pending(2, "stop", "+1", False),
        Pending(3, "hi again", "+1", False),
        Pending(4, "hello", "+2", False),
    ]
    assert triage(batch, DEFAULT_VOCABULARY) == ([1, 4], [2, 3])


async def test_batch_with_repeated_id_stores_once_and_flags_the_repeat(engine, sessionmaker):
    first, again = await store(engine, sms("SAME"), sms("SAME"))
    assert (first.duplicate, again.duplicate) == (False, True)
    assert first.message_id == again.message_id


async def sent_message(sessionmaker, provider_message_id: str | None) -> int:
    async with sessionmaker.begin() as session:
        message = await enqueue_to_number(session, "+14155550101", "hello")
        message.status = MessageStatus.SENT
        message.provider_message_id = provider_message_id
        return message.id


async def apply(engine, *items: DeliveryReceipt):
    async with engine.begin() as conn:
        wrapped = [receipts.ProviderReceipt("clicksend", r) for r in items]
        return await receipts.apply_receipts_batch(conn, wrapped)


async def test_receipts_mark_delivered_or_failed_with_the_reason(engine, sessionmaker):
    ok = await sent_message(sessionmaker, "P-1")
    bad = await sent_message(sessionmaker, "P-2")
    results = await apply(
        engine,
        DeliveryReceipt("P-1", True, status_code="201"),
        DeliveryReceipt(
            "P-2", False, status_code="301", error_code="EC1", error_text="Handset off"
        ),
        DeliveryReceipt("P-unknown", True),
    )
    assert [r.matched for r in results] == [True, True, False]
    async with sessionmaker() as session:
        delivered = await session.get(Message, ok)
        failed = await session.get(Message, bad)
    assert delivered.status is MessageStatus.DELIVERED
    assert (failed.status, failed.error_text) == (MessageStatus.FAILED, "EC1 Handset off")


async def test_receipt_overtaking_the_send_response_matches_by_custom_string(engine, sessionmaker):
    message_id = await sent_message(sessionmaker, None)
    (result,) = await apply(engine, DeliveryReceipt("P-9", True, custom_string=str(message_id)))
    assert result.message_id == message_id
    async with sessionmaker() as session:
        message = await session.get(Message, message_id)
    assert (message.status, message.provider_message_id) == (MessageStatus.DELIVERED, "P-9")


async def test_custom_string_never_steals_a_message_with_another_provider_id(engine, sessionmaker):
    message_id = await sent_message(sessionmaker, "P-1")
    (result,) = await apply(engine, DeliveryReceipt("P-other", True, custom_string=str(message_id)))
    assert result.matched is False


async def test_receipt_never_touches_inbound_messages(engine, sessionmaker):
    (stored,) = await store(engine, sms("IN-1"))
    (result,) = await apply(
        engine, DeliveryReceipt("IN-1", True, custom_string=str(stored.message_id))
    )
    assert result.matched is False
    async with sessionmaker() as session:
        message = await session.get(Message, stored.message_id)
    assert (message.direction, message.status) == (Direction.IN, MessageStatus.PENDING)


def test_inbound_timestamp_is_kept():
    item = ingest.normalize(
        InboundSms("X", "+14155550101", "", "hi", timestamp=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
        provider="clicksend",
        default_region="US",
    )
    assert item.timestamp == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
