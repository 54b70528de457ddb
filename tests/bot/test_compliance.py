"""STOP / START / HELP in the pipeline, the gate's exemptions and the ledger."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from bot import compliance_settings, consent, ingest
from bot.compliance import revocation_deadline
from bot.models import (
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    Conversation,
    ConversationEvent,
    Message,
    MessagePurpose,
    MessageStatus,
    OptOut,
    Role,
)
from bot.optout import OptedOut
from bot.outbox import enqueue_reply
from bot.pipeline import handle_inbound
from bot.providers.base import InboundSms
from bot.sender import SenderState, send_round
from inbox.auth import create_user
from tests.bot.test_outbox_sender import FakeProvider

CUSTOMER = "+14155550101"
OURS = "+61411111111"
_ids = iter(range(1, 10_000))


async def text_in(engine, sessionmaker, body: str, sender: str = CUSTOMER) -> int:
    """Store an inbound SMS and run the pipeline on it, as the worker would."""
    sms = InboundSms(f"IN-{next(_ids)}", sender, OURS, body)
    async with engine.begin() as conn:
        (stored,) = await ingest.store_inbound_batch(
            conn, [ingest.normalize(sms, provider="clicksend", default_region="US")]
        )
    async with sessionmaker.begin() as session:
        assert await handle_inbound(session, stored.message_id)
    return stored.conversation_id


async def outbound(sessionmaker, conversation_id: int) -> list[tuple]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Message.purpose, Message.status, Message.body)
            .where(Message.conversation_id == conversation_id, Message.direction == "out")
            .order_by(Message.id)
        )
        return [tuple(r) for r in rows]


async def count(sessionmaker, model, *where) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def test_stop_suppresses_queued_messages_and_queues_one_confirmation(engine, sessionmaker):
    conversation_id = await text_in(engine, sessionmaker, "hello")
    async with sessionmaker.begin() as session:
        await enqueue_reply(session, conversation_id, "Our summer sale!")
    await text_in(engine, sessionmaker, "Stop texting me, thanks!")
    rows = await outbound(sessionmaker, conversation_id)
    assert rows[0][:2] == (MessagePurpose.AGENT_REPLY, MessageStatus.SUPPRESSED)
    assert rows[1][:2] == (MessagePurpose.OPT_OUT_CONFIRMATION, MessageStatus.QUEUED)
    assert "Reply START to resubscribe" in rows[1][2]
    async with sessionmaker() as session:
        event = await session.scalar(select(ConsentEvent))
        optout = await session.scalar(select(OptOut))
    assert (event.kind, event.method, event.raw_text) == (
        ConsentKind.OPT_OUT,
        ConsentMethod.KEYWORD,
        "Stop texting me, thanks!",
    )
    assert (optout.phone_number, optout.our_number) == (CUSTOMER, "")


async def test_second_stop_gets_no_second_confirmation(engine, sessionmaker):
    conversation_id = await text_in(engine, sessionmaker, "STOP")
    await text_in(engine, sessionmaker, "stop")
    purposes = [row[0] for row in await outbound(sessionmaker, conversation_id)]
    assert purposes == [MessagePurpose.OPT_OUT_CONFIRMATION]
    assert await count(sessionmaker, ConsentEvent) == 2  # both kept as evidence


async def test_the_gate_refuses_everything_but_confirmation_and_help(engine, sessionmaker):
    conversation_id = await text_in(engine, sessionmaker, "STOP")
    for purpose in (
        MessagePurpose.AGENT_REPLY,
        MessagePurpose.API,
        MessagePurpose.CAMPAIGN,
        MessagePurpose.BOT_REPLY,
        MessagePurpose.FORWARD,
    ):
        with pytest.raises(OptedOut):
            async with sessionmaker.begin() as session:
                await enqueue_reply(session, conversation_id, "hi", purpose=purpose)
    await text_in(engine, sessionmaker, "HELP")
    purposes = [row[0] for row in await outbound(sessionmaker, conversation_id)]
    assert purposes == [MessagePurpose.OPT_OUT_CONFIRMATION, MessagePurpose.HELP]


async def test_confirmation_and_help_reach_an_opted_out_number_through_the_sender(
    engine, sessionmaker
):
    conversation_id = await text_in(engine, sessionmaker, "STOP")
    await text_in(engine, sessionmaker, "help")
    provider = FakeProvider()
    await send_round(sessionmaker, provider, state=SenderState())
    bodies = [m.body for batch in provider.batches for m in batch]
    assert len(bodies) == 2 and "unsubscribed" in bodies[0] and "STOP" in bodies[1]
    statuses = [row[1] for row in await outbound(sessionmaker, conversation_id)]
    assert statuses == [MessageStatus.SENT, MessageStatus.SENT]


async def test_a_late_confirmation_is_suppressed_not_sent(engine, sessionmaker):
    conversation_id = await text_in(engine, sessionmaker, "STOP")
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Message)
            .where(Message.purpose == MessagePurpose.OPT_OUT_CONFIRMATION)
            .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6))
        )
    provider = FakeProvider()
    await send_round(sessionmaker, provider, state=SenderState())
    assert provider.batches == []
    (row,) = await outbound(sessionmaker, conversation_id)
    assert row[1] is MessageStatus.SUPPRESSED


async def test_confirmation_can_be_turned_off(engine, sessionmaker):
    async with sessionmaker.begin() as session:
        await compliance_settings.save(
            session, compliance_settings.ComplianceSettings(confirmation_enabled=False)
        )
    conversation_id = await text_in(engine, sessionmaker, "UNSUBSCRIBE")
    assert await outbound(sessionmaker, conversation_id) == []
    assert await count(sessionmaker, OptOut) == 1


async def test_an_ordinary_message_never_resubscribes(engine, sessionmaker):
    await text_in(engine, sessionmaker, "STOP")
    await text_in(engine, sessionmaker, "why?")
    assert await count(sessionmaker, OptOut) == 1
    await text_in(engine, sessionmaker, "yes")  # YES re-subscribes while opted out
    assert await count(sessionmaker, OptOut) == 0
    await text_in(engine, sessionmaker, "STOP")
    await text_in(engine, sessionmaker, "why did you stop?")
    assert await count(sessionmaker, OptOut) == 1


async def test_start_resubscribes_and_confirms(engine, sessionmaker):
    conversation_id = await text_in(engine, sessionmaker, "STOP")
    await text_in(engine, sessionmaker, "START")
    assert await count(sessionmaker, OptOut) == 0
    purposes = [row[0] for row in await outbound(sessionmaker, conversation_id)]
    assert purposes[-1] is MessagePurpose.OPT_IN_CONFIRMATION
    kinds = await count(sessionmaker, ConsentEvent, ConsentEvent.kind == ConsentKind.OPT_IN)
    assert kinds == 1


async def test_yes_from_a_subscribed_number_is_an_ordinary_message(engine, sessionmaker):
    conversation_id = await text_in(engine, sessionmaker, "yes")
    assert await outbound(sessionmaker, conversation_id) == []
    assert await count(sessionmaker, ConsentEvent) == 0


async def test_help_is_rate_limited(engine, sessionmaker):
    conversation_id = await text_in(engine, sessionmaker, "HELP")
    await text_in(engine, sessionmaker, "info")
    purposes = [row[0] for row in await outbound(sessionmaker, conversation_id)]
    assert purposes == [MessagePurpose.HELP]


async def test_possible_opt_out_is_flagged_and_nothing_is_sent(engine, sessionmaker):
    conversation_id = await text_in(engine, sessionmaker, "cancel my appointment for tomorrow")
    async with sessionmaker() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation.possible_opt_out is True
    assert conversation.possible_opt_out_at is not None
    assert await outbound(sessionmaker, conversation_id) == []
    assert await count(sessionmaker, OptOut) == 0


async def test_agent_confirms_or_dismisses_a_possible_opt_out(engine, sessionmaker):
    first = await text_in(engine, sessionmaker, "don't stop now, what's the price?")
    second = await text_in(engine, sessionmaker, "end this please, no more", sender="+14155550102")
    async with sessionmaker.begin() as session:
        await consent.dismiss_possible_opt_out(session, first, None)
        event = await consent.confirm_possible_opt_out(session, second, None)
    assert event.method is ConsentMethod.AGENT
    async with sessionmaker() as session:
        flags = (await session.scalars(select(Conversation.possible_opt_out))).all()
        optouts = (await session.scalars(select(OptOut.phone_number))).all()
        events = (await session.scalars(select(ConversationEvent.text))).all()
    assert flags == [False, False]
    assert optouts == ["+14155550102"]
    assert "Possible opt-out dismissed by an agent" in events


async def test_per_number_scope_only_blocks_that_number(engine, sessionmaker):
    async with sessionmaker.begin() as session:
        await compliance_settings.save(
            session, compliance_settings.ComplianceSettings(scope="per_number")
        )
    await text_in(engine, sessionmaker, "STOP")
    async with sessionmaker() as session:
        assert (await session.scalar(select(OptOut.our_number))) == OURS


async def test_admin_opt_in_needs_a_reason_and_evidence(engine, sessionmaker):
    await text_in(engine, sessionmaker, "STOP")
    async with sessionmaker.begin() as session:
        admin = await create_user(session, "a@example.com", "password123", Role.ADMIN)
    for reason, evidence, field in (("", "signed form", "reason"), ("asked", " ", "evidence")):
        with pytest.raises(consent.ConsentError) as caught:
            async with sessionmaker.begin() as session:
                await consent.admin_opt_in(
                    session, CUSTOMER, user_id=admin.id, reason=reason, evidence=evidence
                )
        assert caught.value.field == field
    async with sessionmaker.begin() as session:
        await consent.admin_opt_in(
            session, CUSTOMER, user_id=admin.id, reason="asked by phone", evidence="call 2025-05-01"
        )
    assert await count(sessionmaker, OptOut) == 0


async def test_ledger_cannot_be_updated_or_deleted(engine, sessionmaker):
    await text_in(engine, sessionmaker, "STOP")
    for statement in (
        update(ConsentEvent).values(reason="tampered"),
        delete(ConsentEvent),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with sessionmaker.begin() as session:
                await session.execute(statement)
    assert await count(sessionmaker, ConsentEvent) == 1


async def test_ledger_exports_as_csv_with_formula_cells_neutralised(engine, sessionmaker):
    await text_in(engine, sessionmaker, "STOP")
    async with sessionmaker.begin() as session:
        await consent.record_opt_out(
            session, "+14155550109", method=ConsentMethod.ADMIN, reason="=HYPERLINK(1)"
        )
    async with sessionmaker() as session:
        rows = consent.ledger_csv(await consent.ledger(session)).splitlines()
    assert rows[0].startswith("id,created_at,phone_number,scope,kind,method")
    assert ",+14155550101,,opt_out,keyword,stop,STOP," in rows[1]
    assert "'=HYPERLINK(1)" in rows[2]


def test_revocation_deadline_counts_business_days():
    friday = dt.datetime(2025, 5, 2, 9, tzinfo=dt.UTC)
    assert revocation_deadline(friday) == dt.datetime(2025, 5, 16, 9, tzinfo=dt.UTC)


def test_settings_refuse_bad_values_naming_the_field():
    for data, field in (
        ({"scope": "world"}, "scope"),
        ({"help_text": "Call us"}, "help_text"),
        ({"confirmation_text": "x" * 400}, "confirmation_text"),
        ({"opt_in_keywords": ["stop"]}, "opt_in_keywords"),
        ({"colour": "red"}, "colour"),
    ):
        with pytest.raises(compliance_settings.InvalidSetting) as caught:
            compliance_settings.from_dict(data)
        assert caught.value.field == field


async def test_raw_sql_cannot_bypass_the_ledger_guard_either(engine):
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO consent_events (phone_number, scope, kind, method, created_at) "
                "VALUES ('+14155550101', '', 'opt_out', 'admin', CURRENT_TIMESTAMP)"
            )
        )
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM consent_events"))


def test_settings_refuse_a_filler_word_that_is_also_a_keyword():
    with pytest.raises(compliance_settings.InvalidSetting) as caught:
        compliance_settings.from_dict({"filler_words": ["please", "stop"]})
    assert caught.value.field == "filler_words"


async def test_confirming_twice_records_one_opt_out(engine, sessionmaker):
    conversation_id = await text_in(engine, sessionmaker, "cancel my appointment please")
    async with sessionmaker.begin() as session:
        await consent.confirm_possible_opt_out(session, conversation_id, None)
    with pytest.raises(consent.ConsentError):
        async with sessionmaker.begin() as session:
            await consent.confirm_possible_opt_out(session, conversation_id, None)
    assert await count(sessionmaker, ConsentEvent) == 1
