"""GET /conversations and GET /conversations/{id}/messages."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event

from bot.models import ConversationStatus, Direction, MessageStatus
from inbox.api.openapi import DOCUMENT
from tests.conftest import webhook_path

EPOCH = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
OUR_NUMBER = "+15550001111"

CONVERSATION_FIELDS = {
    "conversation_id", "phone_number", "our_number", "status", "unread_count",
    "last_message_at", "opted_out", "possible_opt_out", "needs_agent", "needs_agent_reason",
    "assigned_user_id", "first_name", "last_name",
}  # fmt: skip
MESSAGE_FIELDS = {
    "message_id", "conversation_id", "direction", "body", "status", "date",
    "provider_message_id", "error_text", "parts",
}  # fmt: skip


async def _items(api, path: str = "/conversations", **params) -> list[dict]:
    status, doc = await api.get(path, params)
    assert status == 200, doc
    return doc["data"]["data"]


async def _numbers(api, **params) -> list[str]:
    return [item["phone_number"] for item in await _items(api, **params)]


async def test_a_conversation_item_has_exactly_the_contract_fields(api, seed, sessionmaker):
    conversation_id = await seed.conversation(
        "+14155550123", first_name="Ada", last_name="Lovelace", unread_count=2
    )
    [item] = await _items(api)
    assert item == {
        "conversation_id": conversation_id,
        "phone_number": "+14155550123",
        "our_number": OUR_NUMBER,
        "status": "open",
        "unread_count": 2,
        "last_message_at": int(EPOCH.timestamp()),
        "opted_out": False,
        "possible_opt_out": False,
        "needs_agent": False,
        "needs_agent_reason": None,
        "assigned_user_id": None,
        "first_name": "Ada",
        "last_name": "Lovelace",
    }
    assert set(item) == CONVERSATION_FIELDS
    assert set(item) == set(DOCUMENT["components"]["schemas"]["Conversation"]["properties"])
    assert type(item["last_message_at"]) is int


async def test_an_inbound_webhook_message_opens_a_listed_conversation(api, settings):
    form = {
        "message_id": "SIM-1",
        "from": "+14155550123",
        "to": "+15550001111",
        "body": "Hello there",
        "timestamp": "1714564800",
    }
    response = await api.client.post(webhook_path(settings), data=form)
    assert response.status == 200
    [item] = await _items(api)
    assert (item["phone_number"], item["our_number"]) == ("+14155550123", "+15550001111")
    [message] = await _items(api, f"/conversations/{item['conversation_id']}/messages")
    assert (message["direction"], message["body"]) == ("in", "Hello there")
    assert message["provider_message_id"] == "SIM-1"


async def test_default_order_is_most_recent_first(api, seed):
    await seed.conversation("+14155550001", at=EPOCH - dt.timedelta(hours=2))
    await seed.conversation("+14155550002", at=EPOCH)
    await seed.conversation("+14155550003", at=EPOCH - dt.timedelta(hours=1))
    assert await _numbers(api) == ["+14155550002", "+14155550003", "+14155550001"]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("phone_number:asc", ["+14155550001", "+14155550002", "+14155550003"]),
        ("phone_number:desc", ["+14155550003", "+14155550002", "+14155550001"]),
        ("last_message_at:asc", ["+14155550001", "+14155550003", "+14155550002"]),
        ("LAST_MESSAGE_AT:DESC", ["+14155550002", "+14155550003", "+14155550001"]),
        ("conversation_id", ["+14155550001", "+14155550002", "+14155550003"]),
    ],
)
async def test_order_by(api, seed, order_by, expected):
    await seed.conversation("+14155550001", at=EPOCH - dt.timedelta(hours=2))
    await seed.conversation("+14155550002", at=EPOCH)
    await seed.conversation("+14155550003", at=EPOCH - dt.timedelta(hours=1))
    assert await _numbers(api, order_by=order_by) == expected


@pytest.fixture
async def three(seed):
    await seed.conversation("+14155550123", first_name="Ada")
    await seed.conversation("+61411111111", our_number="+61400000000", first_name="Bob")
    await seed.conversation("+14155550999", status=ConversationStatus.CLOSED, first_name="ada")


@pytest.mark.parametrize(
    ("q", "operator", "expected"),
    [
        ("phone_number:+14155550123", None, ["+14155550123"]),
        ("phone_number:+1415", None, ["+14155550123", "+14155550999"]),
        ("phone_number:0123", None, ["+14155550123"]),
        ("status:closed", None, ["+14155550999"]),
        ("status:OPEN", None, ["+14155550123", "+61411111111"]),
        ("our_number:+61400000000", None, ["+61411111111"]),
        ("first_name:ADA", None, ["+14155550123", "+14155550999"]),
        ("first_name:ada,status:open", None, ["+14155550123"]),
        ("first_name:ada,status:open", "AND", ["+14155550123"]),
        ("first_name:bob,status:closed", "or", ["+61411111111", "+14155550999"]),
        ("last_name:", None, []),
        ("first_name:", None, ["+14155550123", "+61411111111", "+14155550999"]),
        ("phone_number:%", None, []),
    ],
)
async def test_search(api, three, q, operator, expected):
    params = {"q": q, "order_by": "conversation_id:asc"}
    if operator:
        params["operator"] = operator
    assert await _numbers(api, **params) == expected


async def test_an_unencoded_plus_in_q_still_matches(api, three):
    response = await api.client.get(
        "/api/v1/conversations?q=phone_number:+14155550123", headers=api.auth_headers
    )
    doc = await response.json()
    assert [i["phone_number"] for i in doc["data"]["data"]] == ["+14155550123"]


async def test_search_and_pagination_agree_on_the_total(api, seed):
    await seed.conversations(20)
    await seed.conversation("+61411111111", status=ConversationStatus.CLOSED)
    status, doc = await api.get("/conversations", {"q": "status:open"})
    assert (status, doc["data"]["total"], len(doc["data"]["data"])) == (200, 20, 15)


async def test_opted_out_follows_the_opt_out_scope(api, seed):
    await seed.conversation("+14155550001")
    await seed.conversation("+14155550002")
    await seed.conversation("+14155550003")
    await seed.opt_out("+14155550001")  # every number of ours
    await seed.opt_out("+14155550002", OUR_NUMBER)  # this number of ours
    await seed.opt_out("+14155550003", "+19999999999")  # another number of ours
    items = await _items(api, order_by="conversation_id:asc")
    assert [i["opted_out"] for i in items] == [True, True, False]


async def test_a_list_page_costs_the_same_statements_whatever_its_size(api, seed):
    engine = api.services.engine.sync_engine
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    await seed.conversation("+61411111111")
    await seed.opt_out("+61411111111")
    event.listen(engine, "before_cursor_execute", record)
    try:
        await _items(api)
        one = len(statements)
        await seed.conversations(40)
        statements.clear()
        assert len(await _items(api, limit=50)) == 41
        many = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert one == many
    assert sum("SELECT" in s for s in statements) == 4  # auth, count, page, opt-outs


# -- messages -------------------------------------------------------------------


async def test_a_message_item_has_exactly_the_contract_fields(api, seed):
    conversation_id = await seed.conversation("+14155550123")
    message_id = await seed.message(
        conversation_id,
        "Your order shipped",
        direction=Direction.OUT,
        status=MessageStatus.FAILED,
        provider_message_id="ABC-123",
        error_text="carrier rejected",
        parts=2,
        at=EPOCH,
    )
    [item] = await _items(api, f"/conversations/{conversation_id}/messages")
    assert item == {
        "message_id": message_id,
        "conversation_id": conversation_id,
        "direction": "out",
        "body": "Your order shipped",
        "status": "failed",
        "date": int(EPOCH.timestamp()),
        "provider_message_id": "ABC-123",
        "error_text": "carrier rejected",
        "parts": 2,
    }
    assert set(item) == MESSAGE_FIELDS
    assert set(item) == set(DOCUMENT["components"]["schemas"]["Message"]["properties"])
    assert type(item["date"]) is int


@pytest.fixture
async def thread(seed) -> int:
    conversation_id = await seed.conversation("+14155550123")
    other = await seed.conversation("+14155550999")
    await seed.message(conversation_id, "first", at=EPOCH)
    await seed.message(
        conversation_id, "third", direction=Direction.OUT, at=EPOCH + dt.timedelta(2)
    )
    await seed.message(
        conversation_id, "second", direction=Direction.OUT, at=EPOCH + dt.timedelta(1)
    )
    await seed.message(other, "someone else's", at=EPOCH)
    return conversation_id


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["first", "second", "third"]),
        ({"order_by": "date:asc"}, ["first", "second", "third"]),
        ({"order_by": "date:desc"}, ["third", "second", "first"]),
        ({"order_by": "message_id:asc"}, ["first", "third", "second"]),
        ({"q": "direction:out"}, ["second", "third"]),
        ({"q": "direction:in"}, ["first"]),
        ({"q": "body:IR"}, ["first", "third"]),
        ({"q": "status:sent,body:second"}, ["second"]),
    ],
)
async def test_messages_are_oldest_first_and_searchable(api, thread, params, expected):
    items = await _items(api, f"/conversations/{thread}/messages", **params)
    assert [i["body"] for i in items] == expected


async def test_messages_of_an_unknown_conversation_is_a_404_envelope(api, thread):
    status, doc = await api.get("/conversations/999999/messages")
    assert (status, doc["http_code"], doc["response_code"], doc["data"]) == (
        404,
        404,
        "NOT_FOUND",
        [],
    )


@pytest.mark.parametrize("conversation_id", ["abc", "-1", "2147483648", "9" * 18, "1" + "0" * 30])
async def test_a_conversation_id_that_cannot_exist_is_a_404(api, conversation_id):
    path = f"/conversations/{conversation_id}/messages"
    status, doc = await api.get(path)
    assert (status, doc["response_code"]) == (404, "NOT_FOUND")
    status, doc = await api.post(path, {"body": "Hi"})
    assert (status, doc["response_code"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize("value", ["2147483648", "9" * 18])
async def test_searching_an_id_too_large_to_exist_finds_nothing(api, seed, value):
    await seed.conversation("+14155550123")
    assert await _items(api, q=f"conversation_id:{value}") == []


async def test_messages_pages_are_clickSend_pages(api, thread):
    status, doc = await api.get(f"/conversations/{thread}/messages", {"limit": 15})
    assert status == 200
    assert {k: v for k, v in doc["data"].items() if k != "data"} == {
        "total": 3,
        "per_page": 15,
        "current_page": 1,
        "last_page": 1,
        "next_page_url": None,
        "prev_page_url": None,
        "from": 1,
        "to": 3,
    }
