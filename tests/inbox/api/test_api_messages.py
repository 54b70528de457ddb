"""POST /conversations/{id}/messages and POST /messages queue, never send."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot import events
from bot.models import Contact, Conversation, Direction, Message, MessageStatus
from inbox.auth import find_user

OUR_NUMBER = "+15550001111"


async def _outbound(sessionmaker) -> list[tuple[int, str, str, str]]:
    """(conversation_id, phone_number, body, status) of every outbound message."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Message.conversation_id, Contact.phone_number, Message.body, Message.status)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Message.direction == Direction.OUT)
            .order_by(Message.id)
        )
        return [tuple(row) for row in rows]


async def _conversation_count(sessionmaker) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(Conversation))


def _assert_error(status: int, doc: dict, http_code: int, response_code: str, field: str) -> None:
    assert (status, doc["http_code"], doc["response_code"], doc["data"]) == (
        http_code,
        http_code,
        response_code,
        [],
    )
    assert doc["response_msg"].startswith(field), doc["response_msg"]


# -- replies --------------------------------------------------------------------


async def test_a_reply_queues_one_message_and_calls_no_provider(api, seed, sessionmaker):
    conversation_id = await seed.conversation("+14155550123")
    before = int(dt.datetime.now(dt.UTC).timestamp())
    async with api.services.bus.subscribe(events.OUTBOX_QUEUED) as wakeups:
        status, doc = await api.post(
            f"/conversations/{conversation_id}/messages", {"body": "  On its way!  "}
        )
    assert (status, doc["http_code"], doc["response_code"]) == (200, 200, "SUCCESS")
    item = doc["data"]
    assert item == {
        "message_id": item["message_id"],
        "conversation_id": conversation_id,
        "direction": "out",
        "body": "On its way!",
        "status": "queued",
        "date": item["date"],
        "provider_message_id": None,
        "error_text": None,
        "parts": 1,
    }
    assert type(item["date"]) is int and before <= item["date"] <= before + 5
    assert await _outbound(sessionmaker) == [
        (conversation_id, "+14155550123", "On its way!", MessageStatus.QUEUED)
    ]
    assert wakeups.qsize() == 1  # the sender is woken after the commit...
    assert api.services.simulator.requests == []  # ...but nothing was sent


async def test_the_api_user_is_the_author(api, seed, sessionmaker):
    conversation_id = await seed.conversation("+14155550123")
    _, reply = await api.post(f"/conversations/{conversation_id}/messages", {"body": "Hi"})
    _, sent = await api.post("/messages", {"to": "+61411111111", "body": "G'day"})
    async with sessionmaker() as session:
        user = await find_user(session, api.email)
        authors = await session.scalars(
            select(Message.author_user_id).where(
                Message.id.in_([reply["data"]["message_id"], sent["data"]["message_id"]])
            )
        )
        assert list(authors) == [user.id, user.id]


async def test_a_reply_to_an_opted_out_customer_is_refused(api, seed, sessionmaker):
    conversation_id = await seed.conversation("+14155550123")
    await seed.opt_out("+14155550123")
    status, doc = await api.post(f"/conversations/{conversation_id}/messages", {"body": "Hi"})
    _assert_error(status, doc, 403, "OPTED_OUT", "")
    assert "+14155550123" in doc["response_msg"]
    assert await _outbound(sessionmaker) == []


async def test_a_reply_to_an_unknown_conversation_is_a_404_envelope(api, sessionmaker):
    status, doc = await api.post("/conversations/424242/messages", {"body": "Hi"})
    _assert_error(status, doc, 404, "NOT_FOUND", "conversation")
    assert await _outbound(sessionmaker) == []


# -- bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "body: is required"),
        ({"body": None}, "body: is required"),
        ({"body": 42}, "body: must be a string"),
        ({"body": ["hi"]}, "body: must be a string"),
        ({"body": ""}, "body: "),
        ({"body": "   \n "}, "body: "),
        ({"body": "x" * 2000}, "body: "),
        ({"body": "ж" * 500}, "body: "),
        ({"body": "lone \ud800 surrogate"}, "body: must be valid Unicode"),
    ],
)
async def test_a_bad_reply_body_is_a_400_naming_body(api, seed, sessionmaker, payload, field):
    conversation_id = await seed.conversation("+14155550123")
    status, doc = await api.post(f"/conversations/{conversation_id}/messages", payload)
    _assert_error(status, doc, 400, "BAD_REQUEST", field)
    assert await _outbound(sessionmaker) == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"{not json", "request body: is not valid JSON"),
        (b"", "request body: is not valid JSON"),
        (b"\xff\xfe", "request body: is not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "request body: is not valid JSON"),
        (b'"just a string"', "request body: must be a JSON object"),
        (b'["body"]', "request body: must be a JSON object"),
        (b"null", "request body: must be a JSON object"),
        (b'{"body": 1' + b"0" * 5000 + b"}", "request body: is not valid JSON"),
    ],
    ids=["malformed", "empty", "not utf-8", "deep", "string", "array", "null", "huge int"],
)
async def test_a_body_that_is_not_a_json_object_is_a_400(api, seed, data, field):
    conversation_id = await seed.conversation("+14155550123")
    status, doc = await api.post(
        f"/conversations/{conversation_id}/messages",
        data=data,
        headers={**api.auth_headers, "Content-Type": "application/json"},
    )
    _assert_error(status, doc, 400, "BAD_REQUEST", field)


async def test_a_huge_request_is_a_413_envelope(api, seed, sessionmaker):
    conversation_id = await seed.conversation("+14155550123")
    status, doc = await api.post(
        f"/conversations/{conversation_id}/messages", {"body": "x" * 100_000}
    )
    _assert_error(status, doc, 413, "PAYLOAD_TOO_LARGE", "The request body is larger")
    assert await _outbound(sessionmaker) == []


async def test_a_huge_chunked_request_is_a_413_envelope(api, seed):
    conversation_id = await seed.conversation("+14155550123")

    async def chunks():
        for _ in range(100):
            yield b"x" * 1024

    status, doc = await api.post(f"/conversations/{conversation_id}/messages", data=chunks())
    _assert_error(status, doc, 413, "PAYLOAD_TOO_LARGE", "The request body is larger")


# -- messages to a number -------------------------------------------------------


async def test_a_national_number_is_normalised_and_opens_a_conversation(api, sessionmaker):
    status, doc = await api.post("/messages", {"to": "(415) 555-0123", "body": "Welcome!"})
    assert (status, doc["response_code"]) == (200, "SUCCESS")
    item = doc["data"]
    assert (item["direction"], item["status"], item["body"]) == ("out", "queued", "Welcome!")
    assert await _outbound(sessionmaker) == [
        (item["conversation_id"], "+14155550123", "Welcome!", MessageStatus.QUEUED)
    ]
    _, listing = await api.get("/conversations")
    [conversation] = listing["data"]["data"]
    assert conversation["conversation_id"] == item["conversation_id"]
    assert conversation["phone_number"] == "+14155550123"
    assert api.services.simulator.requests == []


async def test_a_message_to_a_number_joins_its_latest_thread(api, seed, sessionmaker):
    older = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    await seed.conversation("+14155550123", our_number="+15550002222", at=older)
    latest = await seed.conversation("+14155550123", our_number=OUR_NUMBER)
    status, doc = await api.post("/messages", {"to": "+1 415 555 0123", "body": "Hello"})
    assert status == 200
    assert doc["data"]["conversation_id"] == latest
    assert await _conversation_count(sessionmaker) == 2


async def test_from_picks_the_thread(api, seed, sessionmaker):
    conversation_id = await seed.conversation("+14155550123", our_number=OUR_NUMBER)
    payload = {"to": "4155550123", "body": "Hello", "from": "+1 555 000 3333"}
    status, doc = await api.post("/messages", payload)
    assert status == 200
    assert doc["data"]["conversation_id"] != conversation_id
    async with sessionmaker() as session:
        conversation = await session.get_one(Conversation, doc["data"]["conversation_id"])
    assert conversation.our_number == "+15550003333"


async def test_a_message_to_an_opted_out_number_is_refused(api, seed, sessionmaker):
    await seed.opt_out("+14155550123")
    status, doc = await api.post("/messages", {"to": "(415) 555-0123", "body": "Sale!"})
    _assert_error(status, doc, 403, "OPTED_OUT", "")
    assert await _outbound(sessionmaker) == []
    assert await _conversation_count(sessionmaker) == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": "Hi"}, "to: is required"),
        ({"to": 4155550123, "body": "Hi"}, "to: must be a string"),
        ({"to": "", "body": "Hi"}, "to: "),
        ({"to": "not a number", "body": "Hi"}, "to: "),
        ({"to": "123", "body": "Hi"}, "to: "),
        ({"to": "+1" + "5" * 40, "body": "Hi"}, "to: "),
        ({"to": "(415) 555-0123"}, "body: is required"),
        ({"to": "(415) 555-0123", "body": ""}, "body: "),
        ({"to": "(415) 555-0123", "body": "x" * 1000}, "body: "),
        ({"to": "(415) 555-0123", "body": "Hi", "from": 5}, "from: must be a string"),
        ({"to": "(415) 555-0123", "body": "Hi", "from": " "}, "from: "),
        ({"to": "(415) 555-0123", "body": "Hi", "from": "x" * 21}, "from: "),
        ({"to": "(415) 555-0123", "body": "Hi", "from": "Acme Shop"}, "from: an alpha tag may"),
        ({"to": "(415) 555-0123", "body": "Hi", "from": "AcmeShopping"}, "from: an alpha tag is"),
        ({"to": "(415) 555-0123", "body": "Hi", "from": "Acme_Shop"}, "from: an alpha tag may"),
        ({"to": "(415) 555-0123", "body": "Hi", "from": "12345"}, "from: '12345' looks like"),
    ],
)
async def test_bad_send_input_is_a_400_naming_the_field(api, sessionmaker, payload, field):
    status, doc = await api.post("/messages", payload)
    _assert_error(status, doc, 400, "BAD_REQUEST", field)
    assert await _outbound(sessionmaker) == []
    assert await _conversation_count(sessionmaker) == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to": "+1415555\x000123", "body": "Hi"}, "to: "),
        ({"to": "(415) 555-0123", "body": "Hi", "from": "+1555\x00"}, "from: "),
    ],
)
async def test_a_nul_in_a_number_is_a_400(api, sessionmaker, payload, field):
    status, doc = await api.post("/messages", payload)
    _assert_error(status, doc, 400, "BAD_REQUEST", field)
    assert await _conversation_count(sessionmaker) == 0
