"""Inbound push: stored once, acknowledged only after commit, bad input rejected."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot import ingest
from bot.models import Contact, Conversation, Direction, Message, MessageStatus
from bot.web import WebhookContext, create_webhook_app
from bot.write_backends import SqliteInlineBackend, make_writer

TOKEN = "tok-" + "a" * 30
OLD_TOKEN = "old-" + "b" * 30
URL = f"/webhooks/clicksend/{TOKEN}/inbound"


def push(message_id="M-1", sender="+14155550101", body="hello", to="+61411111111", **extra):
    fields = {"message_id": message_id, "from": sender, "to": to, "body": body}
    fields.update({"timestamp": "1442398236", "custom_string": "", **extra})
    return fields


@pytest.fixture
async def writer(engine, database_url):
    writer = make_writer(engine, database_url)
    await writer.start()
    yield writer
    await writer.stop()


@pytest.fixture
async def hooks(aiohttp_client, writer):
    app = web.Application()
    context = WebhookContext(writer, lambda: (TOKEN, OLD_TOKEN), "US")
    app.add_subapp("/webhooks", create_webhook_app(context))
    return await aiohttp_client(app)


async def count(sessionmaker, model) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_form_push_is_stored_pending_with_contact_and_conversation(hooks, sessionmaker):
    response = await hooks.post(URL, data=push())
    assert response.status == 200
    async with sessionmaker() as session:
        message = await session.scalar(select(Message))
        conversation = await session.get(Conversation, message.conversation_id)
        contact = await session.get(Contact, conversation.contact_id)
    assert (message.direction, message.status, message.body) == (
        Direction.IN,
        MessageStatus.PENDING,
        "hello",
    )
    assert message.provider_message_id == "M-1"
    assert (contact.phone_number, conversation.our_number) == ("+14155550101", "+61411111111")
    assert conversation.unread_count == 1


async def test_duplicate_push_is_stored_once(hooks, sessionmaker):
    first = await hooks.post(URL, data=push())
    second = await hooks.post(URL, data=push())
    assert (first.status, second.status) == (200, 200)
    assert (await first.json())["duplicate"] is False
    assert (await second.json())["duplicate"] is True
    assert await count(sessionmaker, Message) == 1
    async with sessionmaker() as session:
        assert await session.scalar(select(Conversation.unread_count)) == 1


async def test_concurrent_duplicates_and_many_senders_store_each_message_once(hooks, sessionmaker):
    fields = [push(f"M-{i % 40}", sender=f"+1415555{i % 40:04d}") for i in range(120)]
    responses = await asyncio.gather(*(hooks.post(URL, data=f) for f in fields))
    assert [r.status for r in responses] == [200] * 120
    assert await count(sessionmaker, Message) == 40
    assert await count(sessionmaker, Contact) == 40
    assert await count(sessionmaker, Conversation) == 40


async def test_json_and_query_string_pushes_are_accepted(hooks, sessionmaker):
    as_json = await hooks.post(
        URL, data=json.dumps(push("J-1")), headers={"Content-Type": "application/json"}
    )
    as_query = await hooks.get(URL, params=push("Q-1"))
    assert (as_json.status, as_query.status) == (200, 200)
    assert await count(sessionmaker, Message) == 2


async def test_previous_token_still_works_and_wrong_token_is_404(hooks, sessionmaker):
    old = await hooks.post(f"/webhooks/clicksend/{OLD_TOKEN}/inbound", data=push("OLD"))
    wrong = await hooks.post("/webhooks/clicksend/nope/inbound", data=push("NOPE"))
    assert (old.status, wrong.status) == (200, 404)
    assert await count(sessionmaker, Message) == 1


async def test_national_number_is_normalised_with_default_region(hooks, sessionmaker):
    await hooks.post(URL, data=push(sender="(415) 555-0199"))
    async with sessionmaker() as session:
        assert await session.scalar(select(Contact.phone_number)) == "+14155550199"


async def test_nul_bytes_are_stripped_from_the_body(hooks, sessionmaker):
    response = await hooks.post(URL, data=push(body="he\x00llo\x00"))
    assert response.status == 200
    async with sessionmaker() as session:
        assert await session.scalar(select(Message.body)) == "hello"


@pytest.mark.parametrize(
    ("fields", "content_type", "status", "reason"),
    [
        ({"message_id": "X", "to": "+1", "body": "hi"}, None, 400, "from is missing"),
        ({"message_id": "X", "from": "+14155550101"}, None, 400, "body is missing"),
        ({"from": "+14155550101", "body": "hi"}, None, 400, "message_id is missing"),
        (push(sender="not a number"), None, 400, "from:"),
        (push(sender="+1"), None, 400, "from:"),
        (push(body="x" * (10 * 1024 + 1)), None, 400, "body is longer than 10240 bytes"),
        (push(timestamp="yesterday"), None, 400, "timestamp"),
        ("{not json", "application/json", 400, "malformed JSON"),
        ("[1, 2]", "application/json", 400, "JSON body must be an object"),
        ('{"a":' * 3000 + "1" + "}" * 3000, "application/json", 400, "nested too deeply"),
        ("body=" + "x" * 70_000, "application/x-www-form-urlencoded", 413, "larger than 65536"),
    ],
)
async def test_bad_input_is_rejected_with_a_reason_and_nothing_stored(
    hooks, sessionmaker, fields, content_type, status, reason
):
    headers = {"Content-Type": content_type} if content_type else {}
    response = await hooks.post(URL, data=fields, headers=headers)
    assert response.status == status
    assert reason in (await response.json())["error"]
    assert await count(sessionmaker, Message) == 0
    assert await count(sessionmaker, Contact) == 0


async def test_invalid_utf8_body_is_rejected(hooks, sessionmaker):
    response = await hooks.post(
        URL, data=b"from=%2B14155550101&body=\xff\xfe", headers={"Content-Type": "text/plain"}
    )
    assert response.status == 400
    assert await count(sessionmaker, Message) == 0


async def test_acknowledged_only_after_commit(hooks, sessionmaker, writer, monkeypatch):
    """The 200 must not leave before the row is committed: stall the commit and watch."""
    gate = asyncio.Event()
    original = writer._apply

    async def slow_apply(by_kind):
        await gate.wait()
        return await original(by_kind)

    monkeypatch.setattr(writer, "_apply", slow_apply)
    request = asyncio.ensure_future(hooks.post(URL, data=push("SLOW")))
    await asyncio.sleep(0.2)
    assert not request.done()
    gate.set()
    response = await request
    assert response.status == 200
    assert await count(sessionmaker, Message) == 1


async def test_storage_failure_answers_503_so_the_provider_retries(hooks, writer, monkeypatch):
    async def broken_async(conn, items):
        raise RuntimeError("disk full")

    def broken_sync(db, items):
        raise RuntimeError("disk full")

    sqlite = isinstance(writer.backend, SqliteInlineBackend)
    monkeypatch.setitem(
        writer.backend.handlers, ingest.KIND, broken_sync if sqlite else broken_async
    )
    response = await hooks.post(URL, data=push("FAIL"))
    assert response.status == 503


async def test_json_with_a_lone_surrogate_is_rejected(hooks, sessionmaker):
    raw = '{"message_id": "S-1", "from": "+14155550101", "body": "bad \\ud800 text"}'
    response = await hooks.post(URL, data=raw, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert "body holds an invalid Unicode escape" in (await response.json())["error"]
    assert await count(sessionmaker, Message) == 0
