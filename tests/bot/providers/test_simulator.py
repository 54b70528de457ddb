"""The ClickSend simulator over HTTP: envelope, auth, /sms/send rules, paging, pushes."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.providers.simulator import SimulatorConfig, create_simulator_app, create_standalone_app
from bot.providers.simulator_send import truncate

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "providers" / "fixtures"
MOUNT = "/_sim/clicksend/v3"
TEST_KEY = "D83DED51-9E35-4D42-9BB9-0E34B7CA85AE"
UUID_UPPER = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
ENVELOPE_KEYS = {"http_code", "response_code", "response_msg", "data"}
PAGE_KEYS = {
    "total",
    "per_page",
    "current_page",
    "last_page",
    "next_page_url",
    "prev_page_url",
    "from",
    "to",
    "data",
}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def basic(username: str, api_key: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{api_key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


AUTH = basic("demo", "secret")


class Sim:
    """A test client for the simulator mounted as in demo mode, plus its state."""

    def __init__(self, client: Any, state: Any) -> None:
        self.client, self.state = client, state

    async def call(
        self, method: str, path: str, *, auth: dict | None = None, **kwargs: Any
    ) -> tuple[int, dict]:
        headers = AUTH if auth is None else auth
        response = await self.client.request(method, MOUNT + path, headers=headers, **kwargs)
        return response.status, await response.json()

    async def send(self, *messages: dict, auth: dict | None = None) -> tuple[int, dict]:
        return await self.call("POST", "/sms/send", json={"messages": list(messages)}, auth=auth)


@pytest.fixture
def make_sim(aiohttp_client):
    async def make(**config: Any) -> Sim:
        config.setdefault("receipt_delay_s", 0)
        sub, state = create_simulator_app(SimulatorConfig(**config))
        root = web.Application()
        root.add_subapp(MOUNT, sub)
        return Sim(await aiohttp_client(root), state)

    return make


@pytest.fixture
async def sim(make_sim):
    return await make_sim(username="demo", api_key="secret")


def msg(to: str = "+15551230001", body: str = "Hello", **extra: Any) -> dict:
    return {"to": to, "body": body, "source": "test", "custom_string": "ref-1"} | extra


# -- auth and envelope -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "MISSING_CREDENTIALS"),
        ({"Authorization": "Bearer abc"}, "MISSING_CREDENTIALS"),
        ({"Authorization": "Basic !!!notbase64"}, "MISSING_CREDENTIALS"),
        (basic("demo", ""), "MISSING_CREDENTIALS"),
        (basic("demo", "wrong"), "INVALID_CREDENTIALS"),
        (basic("other", "secret"), "INVALID_CREDENTIALS"),
        (basic("nocredit", "wrong"), "INVALID_CREDENTIALS"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/account"),
        ("POST", "/sms/send"),
        ("GET", "/sms/inbound"),
        ("PUT", "/sms/receipts-read"),
        ("POST", "/_simulator/inbound"),
    ],
)
async def test_auth_is_required_everywhere(sim, headers, code, method, path):
    status, body = await sim.call(method, path, auth=headers)
    assert status == 401
    assert body == {
        "http_code": 401,
        "response_code": code,
        "response_msg": body["response_msg"],
    } | {"data": None}
    assert body["response_msg"]


async def test_any_credentials_work_when_none_are_configured(make_sim):
    sim = await make_sim()
    status, body = await sim.call("GET", "/account", auth=basic("anyone", "anything"))
    assert status == 200
    assert body["data"]["username"] == "anyone"


async def test_unknown_route_and_method_are_enveloped(sim):
    status, body = await sim.call("GET", "/nope")
    assert (status, body["response_code"], body["data"]) == (404, "NOT_FOUND", None)
    status, body = await sim.call("DELETE", "/sms/send")
    assert (status, body["response_code"]) == (405, "METHOD_NOT_ALLOWED")


async def test_requests_are_recorded_relative_to_the_mount(sim):
    await sim.send(msg())
    record = sim.state.requests[-1]
    assert record["method"] == "POST"
    assert record["path"] == "/sms/send"
    assert record["url_path"] == MOUNT + "/sms/send"
    assert record["auth"] == AUTH["Authorization"]
    assert record["json"] == {"messages": [msg()]}


async def test_standalone_app_serves_under_v3(aiohttp_client):
    client = await aiohttp_client(create_standalone_app(SimulatorConfig()))
    response = await client.get("/v3/account", headers=AUTH)
    body = await response.json()
    assert response.status == 200
    assert body["response_msg"] == "Here's your account"
    assert body["data"]["_currency"]["currency_name_short"] == "USD"


# -- /sms/send -------------------------------------------------------------------------


async def test_send_response_shape_matches_fixture(sim):
    status, body = await sim.send(msg(), msg("+61411111111", "Test number", custom_string="ref-2"))
    expected = fixture("sms_send_response.json")
    assert status == 200
    assert set(body) == ENVELOPE_KEYS
    assert (body["response_code"], body["response_msg"]) == ("SUCCESS", "Here are your data.")
    data = body["data"]
    assert set(data) == set(expected["data"])
    assert set(data["_currency"]) == set(expected["data"]["_currency"])
    real, test = data["messages"]
    assert set(real) == set(expected["data"]["messages"][0])
    assert UUID_UPPER.match(real["message_id"])
    assert UUID_UPPER.match(test["message_id"])
    assert real["message_id"] != test["message_id"]
    assert (real["status"], real["message_parts"], real["message_price"]) == ("SUCCESS", 1, 0.07)
    assert (test["message_price"], test["country"]) == (0, "AU")
    assert (real["custom_string"], test["custom_string"]) == ("ref-1", "ref-2")
    assert (data["total_count"], data["queued_count"], data["total_price"]) == (2, 2, 0.07)
    assert isinstance(real["date"], int)
    assert sim.state.sent_count("ref-1") == 1


async def test_send_charges_the_balance_but_not_for_test_numbers(sim):
    await sim.send(msg(body="x" * 200), msg("+61422222222", custom_string="t"))
    _, body = await sim.call("GET", "/account")
    assert body["data"]["balance"] == "99.860000"


async def test_receipt_follows_send(sim):
    _, sent = await sim.send(msg())
    await sim.state.wait_idle()
    status, body = await sim.call("GET", "/sms/receipts")
    assert (status, body["response_msg"]) == (200, "Here are your delivery receipts.")
    [receipt] = body["data"]["data"]
    expected_item = fixture("receipts_pull_page.json")["data"]["data"][0]
    assert set(receipt) == set(expected_item)
    assert receipt["message_id"] == sent["data"]["messages"][0]["message_id"]
    assert (receipt["status_code"], receipt["custom_string"]) == ("201", "ref-1")
    assert isinstance(receipt["timestamp"], str)


async def test_receipts_read_without_date_marks_all(sim):
    await sim.send(msg(), msg("+15551230002"))
    await sim.state.wait_idle()
    status, body = await sim.call("PUT", "/sms/receipts-read")
    assert (status, body["data"], body["response_msg"]) == (
        200,
        [],
        "Receipts has been marked as read.",
    )
    _, body = await sim.call("GET", "/sms/receipts")
    assert body["data"]["data"] == []


async def test_receipts_read_date_before_is_strictly_less_than(sim):
    sim.state.receipts.extend(
        {"timestamp": str(ts), "message_id": f"M{ts}", "status_code": "201"} for ts in (10, 20, 30)
    )
    await sim.call("PUT", "/sms/receipts-read", json={"date_before": 20})
    assert [r["message_id"] for r in sim.state.receipts] == ["M20", "M30"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"{not json", "BAD_REQUEST"),
        (b"", "BAD_REQUEST"),
        (b"[]", "MISSING_REQUIRED_FIELDS"),
        (b'{"messages": []}', "MISSING_REQUIRED_FIELDS"),
        (b'{"messages": "x"}', "MISSING_REQUIRED_FIELDS"),
        (b'{"messages": ["x"]}', "BAD_REQUEST"),
        (b'{"a":' * 3000 + b"1" + b"}" * 3000, "BAD_REQUEST"),
        (b'{"messages": [{"to": "+15551230001", "body": "\\ud800"}]}', "BAD_REQUEST"),
    ],
)
async def test_bad_envelope_is_400(sim, payload, code):
    status, body = await sim.call("POST", "/sms/send", data=payload)
    assert (status, body["http_code"], body["response_code"]) == (400, 400, code)
    assert body["data"] is None


async def test_more_than_1000_messages_is_too_many_recipients(sim):
    status, body = await sim.send(*[msg(custom_string=str(i)) for i in range(1001)])
    assert (status, body["response_code"]) == (400, "TOO_MANY_RECIPIENTS")
    assert sim.state.sent == []


@pytest.mark.parametrize(
    ("message", "status"),
    [
        (msg(to="0412345678"), "INVALID_RECIPIENT"),
        (msg(to="+1 555"), "INVALID_RECIPIENT"),
        (msg(to=""), "INVALID_RECIPIENT"),
        (msg(body=""), "EMPTY_MESSAGE"),
        (msg(body="   "), "EMPTY_MESSAGE"),
        (msg(body=None), "EMPTY_MESSAGE"),
        (msg(**{"from": "TwelveChars1"}), "INVALID_SENDER_ID"),
        (msg(**{"from": "My Shop"}), "INVALID_SENDER_ID"),
        (msg(**{"from": "ElevenChars"}), "SUCCESS"),
        (msg(**{"from": "+15557654321"}), "SUCCESS"),
        (msg(schedule="tomorrow"), "INVALID_SCHEDULE"),
        (msg(schedule=1900000000), "SUCCESS"),
        ({"list_id": 5, "body": "hi"}, "NOT_ENOUGH_PERMISSION_TO_LIST_ID"),
        (msg(custom_string=["x"]), "SUCCESS"),
        (msg(custom_string={"x": 1}), "SUCCESS"),
    ],
)
async def test_per_message_validation(sim, message, status):
    code, body = await sim.send(message)
    assert code == 200
    [item] = body["data"]["messages"]
    assert item["status"] == status
    assert (item["message_id"] is None) is (status != "SUCCESS")
    assert body["data"]["queued_count"] == (status == "SUCCESS")


async def test_partial_failure_keeps_http_200(sim):
    status, body = await sim.send(msg(to="bad"), msg("+15551230002", custom_string="ok"))
    assert status == 200
    assert [m["status"] for m in body["data"]["messages"]] == ["INVALID_RECIPIENT", "SUCCESS"]
    assert sim.state.sent_count("ref-1") == 0
    assert sim.state.sent_count("ok") == 1


@pytest.mark.parametrize(
    ("body", "parts"),
    [("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3), ("é" * 160, 1)]
    + [("日" * 70, 1), ("日" * 71, 2), ("日" * 134, 2), ("{" * 80, 1), ("{" * 81, 2)]
    + [("a" * 2000, 6), ("日" * 1000, 6)],
)
async def test_message_parts(sim, body, parts):
    _, response = await sim.send(msg(body=body))
    [item] = response["data"]["messages"]
    assert item["message_parts"] == parts
    assert item["message_price"] == pytest.approx(0.07 * parts)


def test_truncate_keeps_six_parts():
    assert len(truncate("a" * 2000)) == 918
    assert len(truncate("日" * 1000)) == 402
    assert truncate("{" * 1000) == "{" * 459
    assert truncate("short") == "short"


async def test_identical_body_to_same_recipient_is_throttled(sim):
    first = await sim.send(msg())
    again = await sim.send(msg())
    other_body = await sim.send(msg(body="Different"))
    other_number = await sim.send(msg(to="+15551230002"))
    statuses = [r[1]["data"]["messages"][0]["status"] for r in (first, again, other_body)]
    assert statuses == ["SUCCESS", "THROTTLED", "SUCCESS"]
    assert other_number[1]["data"]["messages"][0]["status"] == "SUCCESS"
    assert sim.state.sent_count("ref-1") == 3


async def test_test_numbers_are_never_throttled(sim):
    for _ in range(3):
        _, body = await sim.send(msg(to="+61411111111"))
        assert body["data"]["messages"][0]["status"] == "SUCCESS"


# -- test credentials (§1.10) -----------------------------------------------------------


async def test_nocredit_reads_work_and_chargeable_sends_fail(sim):
    auth = basic("nocredit", TEST_KEY)
    status, body = await sim.call("GET", "/account", auth=auth)
    assert (status, body["data"]["balance"], body["data"]["active"]) == (200, "0.000000", 1)
    status, body = await sim.send(msg(), auth=auth)
    assert (status, body["response_code"], body["data"]) == (400, "INSUFFICIENT_CREDIT", None)
    status, body = await sim.send(msg(), msg(to="+61411111111", custom_string="t"), auth=auth)
    assert status == 200
    assert [m["status"] for m in body["data"]["messages"]] == ["INSUFFICIENT_CREDIT", "SUCCESS"]
    status, _ = await sim.call("GET", "/sms/inbound", auth=auth)
    assert status == 200


@pytest.mark.parametrize(
    ("username", "code", "flag", "value"),
    [("notactive", "ACCOUNT_NOT_ACTIVATED", "active", 0), ("banned", "FORBIDDEN", "banned", 1)],
)
async def test_notactive_and_banned_are_refused_but_see_their_account(
    sim, username, code, flag, value
):
    auth = basic(username, TEST_KEY)
    for method, path in (("POST", "/sms/send"), ("GET", "/sms/inbound"), ("GET", "/sms/receipts")):
        status, body = await sim.call(method, path, auth=auth, json={"messages": [msg()]})
        assert (status, body["http_code"], body["response_code"]) == (403, 403, code)
    status, body = await sim.call("GET", "/account", auth=auth)
    assert (status, body["data"][flag]) == (200, value)
    assert sim.state.sent == []


# -- inbound ---------------------------------------------------------------------------


async def test_control_endpoint_injects_inbound_for_pull(sim):
    status, body = await sim.call(
        "POST",
        "/_simulator/inbound",
        json={"from": "+15551230001", "to": "+61480000000", "body": "STOP please"},
    )
    assert status == 200
    item = body["data"]
    assert set(item) == set(fixture("inbound_pull_page.json")["data"]["data"][0])
    assert UUID_UPPER.match(item["message_id"])
    assert item["_keyword"] == "stop"
    assert isinstance(item["timestamp"], str)
    status, body = await sim.call("GET", "/sms/inbound")
    assert body["data"]["data"] == [item]


@pytest.mark.parametrize(
    "payload", [{"from": "+15551230001", "to": "+1"}, {"from": "", "to": "x", "body": "y"}, []]
)
async def test_control_endpoint_validates(sim, payload):
    status, body = await sim.call("POST", "/_simulator/inbound", json=payload)
    assert status == 400
    assert sim.state.inbound == []


async def test_reply_is_linked_to_the_last_message_sent_to_that_number(sim):
    _, sent = await sim.send(msg(custom_string="conv-7"))
    item = await sim.state.inject_inbound("+15551230001", "+61480000000", "yes")
    assert item["custom_string"] == "conv-7"
    assert item["original_message_id"] == sent["data"]["messages"][0]["message_id"]
    assert item["original_body"] == "Hello"
    other = await sim.state.inject_inbound("+15559999999", "+61480000000", "who?")
    assert (other["custom_string"], other["original_message_id"]) == (None, None)


@pytest.mark.parametrize(
    ("count", "page", "expected"),
    [
        (0, 1, (0, 1, None, None, 0, False, False)),
        (1, 1, (1, 1, 1, 1, 1, False, False)),
        (20, 1, (20, 2, 1, 15, 15, True, False)),
        (20, 2, (20, 2, 16, 20, 5, False, True)),
        (20, 3, (20, 2, None, None, 0, False, True)),
    ],
)
async def test_pagination_fields(sim, count, page, expected):
    for i in range(count):
        await sim.state.inject_inbound(f"+1555123{i:04d}", "+61480000000", f"msg {i}")
    status, body = await sim.call("GET", f"/sms/inbound?page={page}&limit=15")
    data = body["data"]
    assert status == 200
    assert set(data) == PAGE_KEYS
    assert (data["per_page"], data["current_page"]) == (15, page)
    got = (
        data["total"],
        data["last_page"],
        data["from"],
        data["to"],
        len(data["data"]),
        data["next_page_url"] is not None,
        data["prev_page_url"] is not None,
    )
    assert got == expected
    if data["next_page_url"]:
        assert f"page={page + 1}" in data["next_page_url"]
        assert "limit=15" in data["next_page_url"]
    if data["prev_page_url"]:
        assert f"page={page - 1}" in data["prev_page_url"]


@pytest.mark.parametrize(("limit", "per_page"), [("5", 15), ("1000", 100), ("x", 15), ("40", 40)])
async def test_limit_is_clamped(sim, limit, per_page):
    _, body = await sim.call("GET", f"/sms/inbound?limit={limit}")
    assert body["data"]["per_page"] == per_page


async def test_inbound_is_newest_first_and_searchable(sim):
    for ts, sender in ((100, "+15550000001"), (200, "+15550000002"), (300, "+15550000001")):
        await sim.state.inject_inbound(sender, "+61480000000", f"at {ts}", timestamp=ts)
    _, body = await sim.call("GET", "/sms/inbound")
    assert [i["timestamp"] for i in body["data"]["data"]] == ["300", "200", "100"]
    _, body = await sim.call("GET", "/sms/inbound", params={"q": "from:+15550000001"})
    assert [i["timestamp"] for i in body["data"]["data"]] == ["300", "100"]
    _, body = await sim.call("GET", "/sms/inbound", params={"order_by": "timestamp:asc"})
    assert [i["timestamp"] for i in body["data"]["data"]] == ["100", "200", "300"]


async def test_inbound_read_by_id_removes_just_that_item(sim):
    items = [await sim.state.inject_inbound("+15550000001", "+6148", f"m{i}") for i in range(3)]
    target = items[1]["message_id"]
    status, body = await sim.call("PUT", f"/sms/inbound-read/{target}")
    assert (status, body["data"], body["response_msg"]) == (
        200,
        1,
        "Receipt have been marked as read.",
    )
    assert [i["message_id"] for i in sim.state.inbound] == [
        items[0]["message_id"],
        items[2]["message_id"],
    ]
    status, _ = await sim.call("PUT", f"/sms/inbound-read/{target}")
    assert status == 200
    status, body = await sim.call("PUT", "/sms/inbound-read/NOT-A-REAL-ID")
    assert (status, body["response_code"]) == (404, "NOT_FOUND")
    assert len(sim.state.inbound) == 2


async def test_inbound_read_date_before_is_strictly_less_than(sim):
    for ts in (100, 200, 300):
        await sim.state.inject_inbound("+15550000001", "+6148", f"at {ts}", timestamp=ts)
    status, body = await sim.call("PUT", "/sms/inbound-read", json={"date_before": 200})
    assert (status, body["data"]) == (200, [])
    assert body["response_msg"] == "Inbound messages have been marked as read."
    assert [i["timestamp"] for i in sim.state.inbound] == ["200", "300"]
    await sim.call("PUT", "/sms/inbound-read", json={"date_before": "301"})
    assert sim.state.inbound == []


async def test_inbound_read_without_date_marks_all(sim):
    for i in range(3):
        await sim.state.inject_inbound("+15550000001", "+6148", f"m{i}")
    status, _ = await sim.call("PUT", "/sms/inbound-read", json={})
    assert status == 200
    assert sim.state.inbound == []


@pytest.mark.parametrize("payload", [{"date_before": "soon"}, {"date_before": True}, [1]])
async def test_inbound_read_rejects_bad_date(sim, payload):
    await sim.state.inject_inbound("+15550000001", "+6148", "m")
    status, body = await sim.call("PUT", "/sms/inbound-read", json=payload)
    assert (status, body["response_code"]) == (400, "BAD_REQUEST")
    assert len(sim.state.inbound) == 1


# -- history ---------------------------------------------------------------------------


async def test_history_shape_and_date_bounds(sim):
    await sim.send(msg(), msg("+15551230002", custom_string="b"))
    sim.state.sent[0]["date"], sim.state.sent[1]["date"] = "1000", "2000"
    _, body = await sim.call("GET", "/sms/history")
    items = body["data"]["data"]
    assert set(items[0]) == set(fixture("sms_history_page.json")["data"]["data"][0])
    assert (items[0]["message_parts"], items[0]["message_price"]) == ("1.00", "0.070000")
    for query, expected in (
        ("date_from=1000&date_to=1000", ["ref-1"]),
        ("date_from=1001", ["b"]),
        ("date_to=2000", ["b", "ref-1"]),
    ):
        _, body = await sim.call("GET", f"/sms/history?{query}")
        assert [i["custom_string"] for i in body["data"]["data"]] == expected


# -- pushes ----------------------------------------------------------------------------


class Hook:
    """A webhook receiver that fails the first ``failures`` calls with HTTP 500."""

    def __init__(self, failures: int = 1) -> None:
        self.failures = failures
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.called = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.calls.append((request.content_type, {k: str(v) for k, v in form.items()}))
        self.called.set()
        if len(self.calls) <= self.failures:
            return web.Response(status=500, text="try later")
        return web.Response(text="ok")


@pytest.fixture
async def hook_url(aiohttp_server):
    async def make(hook: Hook) -> str:
        app = web.Application()
        app.router.add_post("/hook", hook.handle)
        server = await aiohttp_server(app)
        return str(server.make_url("/hook"))

    return make


async def test_inbound_push_is_form_encoded_and_retried(make_sim, hook_url):
    hook = Hook(failures=1)
    sim = await make_sim(inbound_push_url=await hook_url(hook), push_retry_s=0.05)
    item = await sim.state.inject_inbound("+15551230001", "+61480000000", "Hello there")
    await sim.state.wait_idle()
    assert len(hook.calls) == 2
    content_type, fields = hook.calls[-1]
    assert content_type == "application/x-www-form-urlencoded"
    assert set(fields) == set(fixture("inbound_push_form.json"))
    assert fields["message_id"] == item["message_id"]
    assert (fields["from"], fields["to"], fields["body"]) == (
        "+15551230001",
        "+61480000000",
        "Hello there",
    )
    assert (fields["custom_string"], fields["original_message_id"]) == ("", "")
    assert hook.calls[0] == hook.calls[1]
    assert [a.get("status") for a in sim.state.push_log] == [500, 200]


async def test_receipt_push_carries_the_documented_fields(make_sim, hook_url):
    hook = Hook(failures=0)
    sim = await make_sim(receipt_push_url=await hook_url(hook))
    _, sent = await sim.send(msg(custom_string="out-42"))
    await sim.state.wait_idle()
    [(content_type, fields)] = hook.calls
    assert content_type == "application/x-www-form-urlencoded"
    assert set(fields) == set(fixture("receipt_push_form.json"))
    assert fields["message_id"] == sent["data"]["messages"][0]["message_id"]
    assert (fields["status"], fields["status_code"], fields["custom_string"]) == (
        "Delivered",
        "201",
        "out-42",
    )
    assert fields["message_type"] == "sms"


async def test_push_gives_up_after_the_configured_attempts(make_sim, hook_url):
    hook = Hook(failures=99)
    sim = await make_sim(inbound_push_url=await hook_url(hook), push_retry_s=0.01, push_attempts=3)
    await sim.state.inject_inbound("+15551230001", "+61480000000", "hi")
    await sim.state.wait_idle()
    assert len(hook.calls) == 3


async def test_unreachable_push_url_is_retried(make_sim, unused_tcp_port):
    url = f"http://127.0.0.1:{unused_tcp_port}/hook"
    sim = await make_sim(inbound_push_url=url, push_retry_s=0.01, push_attempts=2)
    await sim.state.inject_inbound("+15551230001", "+61480000000", "hi")
    await sim.state.wait_idle()
    assert [("error" in a) for a in sim.state.push_log] == [True, True]


async def test_close_cancels_pending_pushes(make_sim, hook_url):
    hook = Hook(failures=99)
    sim = await make_sim(inbound_push_url=await hook_url(hook), push_retry_s=60)
    await sim.state.inject_inbound("+15551230001", "+61480000000", "hi")
    await asyncio.wait_for(hook.called.wait(), 2)
    assert len(hook.calls) == 1
    await sim.state.close()
    async with asyncio.timeout(2):
        await sim.state.wait_idle()
    await sim.state.inject_inbound("+15551230001", "+61480000000", "after close")
    await sim.state.wait_idle()
    assert len(hook.calls) == 1


async def test_app_cleanup_stops_background_tasks(hook_url, aiohttp_client):
    hook = Hook(failures=99)
    config = SimulatorConfig(inbound_push_url=await hook_url(hook), push_retry_s=60)
    sub, state = create_simulator_app(config)
    root = web.Application()
    root.add_subapp(MOUNT, sub)
    client = await aiohttp_client(root)
    await state.inject_inbound("+15551230001", "+61480000000", "hi")
    await asyncio.wait_for(hook.called.wait(), 2)
    await client.close()
    async with asyncio.timeout(2):
        await state.wait_idle()  # the 60 s retry sleep was cancelled by on_cleanup
    assert len(hook.calls) == 1


# -- contact lists (§6, §7) -------------------------------------------------------------


async def test_lists_are_paginated_list_objects(sim):
    empty = sim.state.add_list("Opt-Out List")
    full = sim.state.add_list("Customers")
    sim.state.add_list_contacts(full, ["+14155550101", "+14155550102"])
    status, body = await sim.call("GET", "/lists")
    assert (status, body["response_code"]) == (200, "SUCCESS")
    assert set(body) == ENVELOPE_KEYS
    data = body["data"]
    assert set(data) == PAGE_KEYS == set(fixture("lists_page.json")["data"])
    assert (data["total"], data["current_page"], data["last_page"]) == (2, 1, 1)
    items = data["data"]
    assert all(set(item) == set(fixture("lists_page.json")["data"]["data"][0]) for item in items)
    assert [(i["list_id"], i["list_name"], i["_contacts_count"]) for i in items] == [
        (empty, "Opt-Out List", 0),
        (full, "Customers", 2),
    ]
    assert all(re.fullmatch(r"[A-Z0-9]{16}", item["list_email_id"]) for item in items)


async def test_list_contacts_are_paginated_contact_objects(sim):
    list_id = sim.state.add_list("Opt-Out List")
    numbers = [f"+1415555{i:04d}" for i in range(20)]
    sim.state.add_list_contacts(list_id, numbers)
    status, body = await sim.call("GET", f"/lists/{list_id}/contacts?page=2&limit=15")
    assert (status, body["response_code"]) == (200, "SUCCESS")
    data = body["data"]
    assert set(data) == PAGE_KEYS
    assert (data["total"], data["current_page"], data["last_page"]) == (20, 2, 2)
    assert [c["phone_number"] for c in data["data"]] == numbers[15:]
    contact = data["data"][0]
    assert set(contact) == set(fixture("contacts_page.json")["data"]["data"][0])
    assert (contact["list_id"], contact["_list_name"]) == (list_id, "Opt-Out List")
    assert contact["first_name"] is None and contact["email"] is None
    assert isinstance(contact["contact_id"], int)
    assert sim.state.requests[-1]["path"] == f"/lists/{list_id}/contacts"


@pytest.mark.parametrize("list_id", ["999", "abc", "1" * 40])
async def test_contacts_of_an_unknown_list_are_a_404_envelope(sim, list_id):
    sim.state.add_list("Opt-Out List")
    status, body = await sim.call("GET", f"/lists/{list_id}/contacts")
    assert (status, body["http_code"], body["response_code"]) == (404, 404, "NOT_FOUND")
    assert set(body) == ENVELOPE_KEYS


async def test_list_routes_need_credentials(sim):
    status, body = await sim.call("GET", "/lists", auth={})
    assert (status, body["response_code"]) == (401, "MISSING_CREDENTIALS")
