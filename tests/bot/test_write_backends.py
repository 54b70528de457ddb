"""Both group-commit backends store the same rows for the same batches."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot import ingest, pipeline, receipts, schema
from bot.db import create_engine, make_sessionmaker
from bot.models import Contact, Conversation, Message, MessageStatus
from bot.outbox import enqueue_to_number
from bot.providers.base import DeliveryReceipt, InboundSms
from bot.write_backends import SqlAlchemyBackend, SqliteInlineBackend

WHEN = dt.datetime(2025, 4, 11, 12, 0, tzinfo=dt.UTC)


def batch() -> list[ingest.NewInbound]:
    raw = [
        InboundSms("A", "+14155550101", "+61411111111", "hello", timestamp=WHEN),
        InboundSms("B", "+14155550102", "+61411111111", "price?", custom_string="x"),
        InboundSms("A", "+14155550101", "+61411111111", "hello"),  # repeated push
        InboundSms("C", "+14155550101", "+61422222222", "other number of ours"),
    ]
    return [ingest.normalize(s, provider="clicksend", default_region="US") for s in raw]


async def snapshot(sessionmaker) -> dict:
    async with sessionmaker() as session:
        contacts = (await session.execute(select(Contact.id, Contact.phone_number))).all()
        conversations = (
            await session.execute(
                select(
                    Conversation.id,
                    Conversation.contact_id,
                    Conversation.our_number,
                    Conversation.unread_count,
                    Conversation.status,
                )
            )
        ).all()
        messages = (
            await session.execute(
                select(
                    Message.id,
                    Message.conversation_id,
                    Message.body,
                    Message.status,
                    Message.purpose,
                    Message.provider_message_id,
                    Message.custom_string,
                    Message.provider_timestamp,
                ).order_by(Message.id)
            )
        ).all()
    return {"contacts": contacts, "conversations": conversations, "messages": messages}


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file; these tests compare backends on SQLite even in the
    PostgreSQL run, where the plain-sqlite3 backend is not used otherwise."""
    path = tmp_path_factory.mktemp("backends") / "template.db"
    schema.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def fresh_copy(tmp_path, sqlite_template):
    """An empty database per backend, so each writes into its own."""

    def make(name):
        path = tmp_path / f"{name}.db"
        shutil.copyfile(sqlite_template, path)
        url = f"sqlite+aiosqlite:///{path}"
        engine = create_engine(url)
        return url, engine, make_sessionmaker(engine)

    return make


async def store_with(backend, items):
    return (await backend.apply({ingest.KIND: items}))[ingest.KIND]


async def test_core_and_sqlite_backends_store_identical_rows(fresh_copy):
    results, snapshots = {}, {}
    for name in ("core", "sqlite"):
        url, engine, sessionmaker = fresh_copy(name)
        backend = (
            SqlAlchemyBackend(engine)
            if name == "core"
            else SqliteInlineBackend(make_url(url).database, "FULL")
        )
        first = await store_with(backend, batch())
        again = await store_with(backend, batch()[:1])
        results[name] = (first, again)
        snapshots[name] = await snapshot(sessionmaker)
        await backend.close()
        await engine.dispose()
    assert results["core"] == results["sqlite"]
    assert snapshots["core"] == snapshots["sqlite"]
    first, again = results["sqlite"]
    assert [r.duplicate for r in first] == [False, False, True, False]
    assert again[0].duplicate is True
    messages = snapshots["sqlite"]["messages"]
    assert messages[0].provider_timestamp == WHEN
    assert {m.status for m in messages} == {MessageStatus.PENDING}


async def test_both_backends_apply_receipts_the_same_way(fresh_copy):
    outcomes = {}
    for name in ("core", "sqlite"):
        url, engine, sessionmaker = fresh_copy(name)
        async with sessionmaker.begin() as session:
            sent = await enqueue_to_number(session, "+14155550101", "hi")
            sent.status, sent.provider_message_id = MessageStatus.SENT, "P-1"
            early = await enqueue_to_number(session, "+14155550102", "hi")
            early.status = MessageStatus.SENDING
        backend = (
            SqlAlchemyBackend(engine)
            if name == "core"
            else SqliteInlineBackend(make_url(url).database, "FULL")
        )
        items = [
            receipts.ProviderReceipt("clicksend", DeliveryReceipt("P-1", False, error_text="off")),
            receipts.ProviderReceipt(
                "clicksend", DeliveryReceipt("P-2", True, custom_string=str(early.id))
            ),
            receipts.ProviderReceipt("clicksend", DeliveryReceipt("P-3", True)),
        ]
        result = (await backend.apply({receipts.KIND: items}))[receipts.KIND]
        async with sessionmaker() as session:
            rows = (
                await session.execute(
                    select(
                        Message.status, Message.provider_message_id, Message.error_text
                    ).order_by(Message.id)
                )
            ).all()
        outcomes[name] = (result, rows)
        await backend.close()
        await engine.dispose()
    assert outcomes["core"] == outcomes["sqlite"]
    result, rows = outcomes["sqlite"]
    assert [r.matched for r in result] == [True, True, False]
    assert [tuple(r) for r in rows] == [
        (MessageStatus.FAILED, "P-1", "off"),
        (MessageStatus.DELIVERED, "P-2", None),
    ]


async def test_both_backends_mark_quiet_messages_handled(fresh_copy):
    counts = {}
    for name in ("core", "sqlite"):
        url, engine, sessionmaker = fresh_copy(name)
        backend = (
            SqlAlchemyBackend(engine)
            if name == "core"
            else SqliteInlineBackend(make_url(url).database, "FULL")
        )
        stored = await store_with(backend, batch())
        ids = sorted({r.message_id for r in stored})
        result = await backend.apply({pipeline.HANDLED_KIND: [ids[:1], ids]})
        async with sessionmaker() as session:
            statuses = (await session.scalars(select(Message.status).order_by(Message.id))).all()
        counts[name] = (result[pipeline.HANDLED_KIND], statuses)
        await backend.close()
        await engine.dispose()
    assert counts["core"] == counts["sqlite"]
    assert counts["sqlite"] == ([1, 2], [MessageStatus.HANDLED] * 3)
