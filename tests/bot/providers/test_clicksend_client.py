"""ClickSendClient against httpx.MockTransport: exact requests and every outcome mapping."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email.utils
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.providers.base import (
    AccountProviderError,
    AmbiguousProviderError,
    InboundRule,
    OutboundSms,
    Outcome,
    PermanentProviderError,
    SentRecord,
    SmsTemplate,
    TemporaryProviderError,
)
from bot.providers.clicksend import ClickSendClient

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "providers" / "fixtures"
BASE = "https://rest.example.test/v3"
USER, KEY = "api-username", "api-password"
# The reference's own example of the header (§1.2).
AUTH_HEADER = "Basic YXBpLXVzZXJuYW1lOmFwaS1wYXNzd29yZA=="


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def ok(data: Any, message: str = "Here are your data.") -> dict:
    return {"http_code": 200, "response_code": "SUCCESS", "response_msg": message, "data": data}


def sent_item(ref: str, status: str = "SUCCESS", **extra: Any) -> dict:
    item = {
        "to": "+15551230000",
        "message_id": f"ID-{ref}",
        "message_parts": 1,
        "message_price": 0.07,
        "custom_string": ref,
        "status": status,
    }
    return item | extra


class FakeClickSend:
    """The MockTransport handler: records requests, answers with ``respond``."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.respond: Callable[[httpx.Request], Any] = lambda _r: httpx.Response(200, json=ok([]))
        self.client: ClickSendClient

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.respond(request)
        if asyncio.iscoroutine(response):
            response = await response
        return response

    def answer(self, status: int = 200, **kwargs: Any) -> None:
        self.respond = lambda _r: httpx.Response(status, **kwargs)

    def answer_messages(self, items: list[dict]) -> None:
        self.answer(json=ok({"total_count": len(items), "messages": items}))

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


@pytest.fixture
async def fake():
    fake = FakeClickSend()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        fake.client = ClickSendClient(http, base_url=BASE + "/", username=USER, api_key=KEY)
        yield fake


def test_auth_header_matches_the_reference_example():
    assert "Basic " + base64.b64encode(f"{USER}:{KEY}".encode()).decode() == AUTH_HEADER


# -- send: the request ---------------------------------------------------------------


async def test_send_posts_exact_json_with_source_and_custom_string(fake):
    fake.answer_messages([sent_item("r1"), sent_item("r2")])
    await fake.client.send_batch(
        [
            OutboundSms("r1", "+15551230001", "Hello"),
            OutboundSms("r2", "+15551230002", "Hi there", sender="Acme"),
        ]
    )
    request = fake.last
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/sms/send"
    assert request.headers["Authorization"] == AUTH_HEADER
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "messages": [
            {"to": "+15551230001", "body": "Hello", "source": "smsdesk", "custom_string": "r1"},
            {
                "to": "+15551230002",
                "body": "Hi there",
                "source": "smsdesk",
                "custom_string": "r2",
                "from": "Acme",
            },
        ]
    }


async def test_send_sets_connect_and_send_timeouts(fake):
    fake.answer_messages([sent_item("r1")])
    await fake.client.send_batch([OutboundSms("r1", "+15551230001", "Hello")])
    timeout = fake.last.extensions["timeout"]
    assert timeout == {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 30.0}


async def test_send_over_the_whole_timeout_is_ambiguous():
    async def slow(_request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json=ok([]))

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as http:
        client = ClickSendClient(
            http, base_url=BASE, username=USER, api_key=KEY, send_timeout_s=0.05
        )
        with pytest.raises(AmbiguousProviderError, match="timed out"):
            await client.send_batch([OutboundSms("r1", "+15551230001", "Hello")])


async def test_empty_batch_makes_no_request(fake):
    assert await fake.client.send_batch([]) == []
    assert fake.requests == []


async def test_more_than_1000_messages_is_a_value_error(fake):
    messages = [OutboundSms(str(i), "+15551230001", "x") for i in range(1001)]
    with pytest.raises(ValueError, match="1000"):
        await fake.client.send_batch(messages)
    assert fake.requests == []


async def test_exactly_1000_messages_are_sent_in_one_call(fake):
    messages = [OutboundSms(str(i), "+15551230001", "x") for i in range(1000)]
    fake.answer_messages([sent_item(str(i)) for i in range(1000)])
    results = await fake.client.send_batch(messages)
    assert len(fake.requests) == 1
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}


async def test_duplicate_refs_are_refused_because_results_match_by_ref(fake):
    with pytest.raises(ValueError, match="unique"):
        await fake.client.send_batch(
            [OutboundSms("same", "+15551230001", "a"), OutboundSms("same", "+15551230002", "b")]
        )


# -- send: matching and per-message outcomes -------------------------------------------


async def test_send_response_fixture_parses(fake):
    fake.answer(json=fixture("sms_send_response.json"))
    [result] = await fake.client.send_batch([OutboundSms("this is a test", "+61411111111", "x")])
    assert result.outcome is Outcome.ACCEPTED
    assert result.provider_message_id == "BF7AD270-0DE2-418B-B606-71D527D9C1AE"
    assert result.parts == 1
    assert result.price == "0.07"
    assert result.code == "SUCCESS"


async def test_results_match_by_custom_string_not_position(fake):
    refs = ["a", "b", "c", "d"]
    items = [sent_item("c"), sent_item("a", "INVALID_RECIPIENT"), sent_item("d"), sent_item("b")]
    fake.answer_messages(items)
    results = await fake.client.send_batch([OutboundSms(r, "+15551230001", r) for r in refs])
    assert [r.ref for r in results] == refs
    assert [r.outcome for r in results] == [
        Outcome.REJECTED,
        Outcome.ACCEPTED,
        Outcome.ACCEPTED,
        Outcome.ACCEPTED,
    ]
    assert [r.provider_message_id for r in results] == [None, "ID-b", "ID-c", "ID-d"]


async def test_message_missing_from_response_is_unknown(fake):
    fake.answer_messages([sent_item("a")])
    results = await fake.client.send_batch(
        [OutboundSms("a", "+15551230001", "x"), OutboundSms("b", "+15551230002", "y")]
    )
    assert results[0].outcome is Outcome.ACCEPTED
    assert results[1].outcome is Outcome.UNKNOWN  # it may have been accepted: look it up
    assert "no result" in (results[1].reason or "")


@pytest.mark.parametrize("data", [None, [], {}, {"messages": None}, {"messages": "x"}])
async def test_200_without_messages_leaves_every_message_unknown(fake, data):
    fake.answer(json=ok(data))
    [result] = await fake.client.send_batch([OutboundSms("a", "+15551230001", "x")])
    assert result.outcome is Outcome.UNKNOWN


async def test_numbers_as_strings_are_accepted(fake):
    fake.answer_messages([sent_item("a", message_parts="2.00", message_price="0.140000")])
    [result] = await fake.client.send_batch([OutboundSms("a", "+15551230001", "x")])
    assert (result.parts, result.price) == (2, "0.140000")


@pytest.mark.parametrize(
    ("status", "outcome", "reason_part", "retry_after"),
    [
        ("SUCCESS", Outcome.ACCEPTED, None, None),
        ("THROTTLED", Outcome.RETRY, "moments ago", 5.0),
        ("INSUFFICIENT_CREDIT", Outcome.ACCOUNT, "no credit", None),
        ("ACCOUNT_NOT_ACTIVATED", Outcome.ACCOUNT, "not activated", None),
        ("INVALID_CREDENTIALS", Outcome.ACCOUNT, "wrong", None),
        ("MISSING_CREDENTIALS", Outcome.ACCOUNT, "not sent", None),
        ("INVALID_RECIPIENT", Outcome.REJECTED, "destination number is invalid", None),
        ("INVALID_SENDER_ID", Outcome.REJECTED, "sender ID", None),
        ("EMPTY_MESSAGE", Outcome.REJECTED, "message is empty", None),
        ("COUNTRY_NOT_ENABLED", Outcome.REJECTED, "country is not enabled", None),
        ("SOMETHING_NEW", Outcome.REJECTED, "unknown status code", None),
    ],
)
async def test_per_message_status_mapping(fake, status, outcome, reason_part, retry_after):
    fake.answer_messages([sent_item("a", status)])
    [result] = await fake.client.send_batch([OutboundSms("a", "+15551230001", "x")])
    assert result.outcome is outcome
    assert result.code == status
    assert result.retry_after_s == retry_after
    if reason_part is None:
        assert result.reason is None
    else:
        assert result.reason is not None
        assert result.reason.startswith(f"ClickSend: {status} — ")
        assert reason_part in result.reason
    if outcome is not Outcome.ACCEPTED:
        assert result.provider_message_id is None


# -- whole-request errors ------------------------------------------------------------


def _error_body(status: int, code: str, data_mode: str = "null") -> dict:
    body: dict[str, Any] = {"http_code": status, "response_code": code, "response_msg": "nope"}
    if data_mode == "null":
        body["data"] = None
    elif data_mode == "list":
        body["data"] = []
    return body


@pytest.mark.parametrize(
    ("status", "code", "data_mode", "error", "expected_code"),
    [
        (401, "INVALID_CREDENTIALS", "null", AccountProviderError, "INVALID_CREDENTIALS"),
        (401, "MISSING_CREDENTIALS", "list", AccountProviderError, "MISSING_CREDENTIALS"),
        (401, "UNAUTHORIZED", "missing", AccountProviderError, "UNAUTHORIZED"),
        (403, "ACCOUNT_NOT_ACTIVATED", "null", AccountProviderError, "ACCOUNT_NOT_ACTIVATED"),
        (403, "FORBIDDEN", "missing", AccountProviderError, "FORBIDDEN"),
        (403, "NOT_ENOUGH_PERMISSION_TO_LIST_ID", "list", PermanentProviderError, None),
        (400, "INSUFFICIENT_CREDIT", "null", AccountProviderError, "INSUFFICIENT_CREDIT"),
        (400, "BAD_REQUEST", "list", PermanentProviderError, "BAD_REQUEST"),
        (400, "TOO_MANY_RECIPIENTS", "missing", PermanentProviderError, "TOO_MANY_RECIPIENTS"),
        (404, "NOT_FOUND", "null", PermanentProviderError, "NOT_FOUND"),
        (405, "METHOD_NOT_ALLOWED", "null", PermanentProviderError, "METHOD_NOT_ALLOWED"),
        (429, "TOO_MANY_REQUESTS", "null", TemporaryProviderError, "TOO_MANY_REQUESTS"),
        (408, "REQUEST_TIMEOUT", "null", TemporaryProviderError, "REQUEST_TIMEOUT"),
        (500, "INTERNAL_ERROR", "null", AmbiguousProviderError, "INTERNAL_ERROR"),
        (503, "SOMETHING_IS_WRONG", "missing", AmbiguousProviderError, "SOMETHING_IS_WRONG"),
    ],
)
async def test_whole_request_errors(fake, status, code, data_mode, error, expected_code):
    fake.answer(status, json=_error_body(status, code, data_mode))
    with pytest.raises(error) as caught:
        await fake.client.send_batch([OutboundSms("a", "+15551230001", "x")])
    assert type(caught.value) is error
    assert caught.value.code == (expected_code or code)


@pytest.mark.parametrize(
    ("status", "content", "error"),
    [
        (502, b"<html>Bad gateway</html>", AmbiguousProviderError),
        (200, b"<html>maintenance</html>", AmbiguousProviderError),
        (200, b'{"http_code": 200, "response_code": "SUCC', AmbiguousProviderError),
        (200, b'["not", "an", "envelope"]', AmbiguousProviderError),
        (200, b"\xff\xfe", AmbiguousProviderError),
        (400, b"<html>bad</html>", PermanentProviderError),
        (401, b"", AccountProviderError),
        (403, b"<html>Forbidden</html>", AccountProviderError),
    ],
)
async def test_non_json_bodies(fake, status, content, error):
    fake.answer(status, content=content)
    with pytest.raises(error) as caught:
        await fake.client.send_batch([OutboundSms("a", "+15551230001", "x")])
    assert type(caught.value) is error


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("1.5", 1.5), ("-3", 0.0), (None, None), ("soon", None)],
)
async def test_429_retry_after_seconds(fake, header, expected):
    headers = {"Retry-After": header} if header is not None else {}
    fake.answer(429, json=_error_body(429, "TOO_MANY_REQUESTS"), headers=headers)
    with pytest.raises(TemporaryProviderError) as caught:
        await fake.client.get_account()
    assert caught.value.retry_after_s == expected


async def test_429_retry_after_http_date(fake):
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    header = email.utils.format_datetime(when, usegmt=True)
    fake.answer(429, json=_error_body(429, "TOO_MANY_REQUESTS"), headers={"Retry-After": header})
    with pytest.raises(TemporaryProviderError) as caught:
        await fake.client.get_account()
    assert caught.value.retry_after_s is not None
    assert 100 <= caught.value.retry_after_s <= 120


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        # Provably never reached ClickSend: safe to send again.
        (httpx.ConnectError("refused"), TemporaryProviderError),
        (httpx.ConnectTimeout("slow connect"), TemporaryProviderError),
        (httpx.PoolTimeout("no free connection"), TemporaryProviderError),
        # May have been accepted: the messages must be looked up, not re-sent.
        (httpx.ReadTimeout("slow read"), AmbiguousProviderError),
        (httpx.WriteTimeout("slow write"), AmbiguousProviderError),
        (httpx.ReadError("connection reset by peer"), AmbiguousProviderError),
        (
            httpx.RemoteProtocolError("peer closed connection without sending complete body"),
            AmbiguousProviderError,
        ),
    ],
)
async def test_transport_errors_split_by_whether_the_request_went_out(fake, exc, error):
    def boom(_request: httpx.Request) -> httpx.Response:
        raise exc

    fake.respond = boom
    with pytest.raises(TemporaryProviderError) as caught:
        await fake.client.send_batch([OutboundSms("a", "+15551230001", "x")])
    assert type(caught.value) is error


# -- inbound --------------------------------------------------------------------------


async def test_fetch_inbound_parses_fixture(fake):
    fake.answer(json=fixture("inbound_pull_page.json"))
    page = await fake.client.fetch_inbound()
    request = fake.last
    assert request.method == "GET"
    assert request.url.path == "/v3/sms/inbound"
    assert dict(request.url.params) == {"page": "1", "limit": "100", "order_by": "timestamp:asc"}
    assert request.headers["Authorization"] == AUTH_HEADER
    assert page.has_more is False
    assert len(page.items) == 3
    first = page.items[0]
    assert first.provider_message_id == "C557B56E-83C0-4070-A74C-9BF05474B418"
    assert (first.from_number, first.to_number) == ("+6141111111", "+6142222222")
    assert first.body == "Liquorice sweet roll fruitcake gummies. "
    assert first.timestamp == dt.datetime.fromtimestamp(1436174407, dt.UTC)
    assert first.custom_string == "22PKU978RF"
    assert first.original_message_id == "C557B56E-83C0-4070-A74C-9BF05474B418"


@pytest.mark.parametrize(
    ("page", "limit", "params"),
    [(1, 5, ("1", "15")), (2, 15, ("2", "15")), (0, 500, ("1", "100")), (3, 50, ("3", "50"))],
)
async def test_fetch_inbound_clamps_limit(fake, page, limit, params):
    fake.answer(json=ok({"data": []}))
    await fake.client.fetch_inbound(page, limit)
    assert (fake.last.url.params["page"], fake.last.url.params["limit"]) == params


@pytest.mark.parametrize(
    ("paging", "has_more"),
    [
        ({"current_page": 1, "last_page": 3}, True),
        ({"current_page": "3", "last_page": "3"}, False),
        ({"next_page_url": "https://x/?page=2"}, True),
        ({"next_page_url": None}, False),
        ({}, False),
    ],
)
async def test_has_more_from_paging_fields(fake, paging, has_more):
    fake.answer(json=ok({"data": []} | paging))
    assert (await fake.client.fetch_inbound()).has_more is has_more


@pytest.mark.parametrize("data", [None, [], {}])
async def test_fetch_inbound_tolerates_empty_data(fake, data):
    fake.answer(json=ok(data))
    page = await fake.client.fetch_inbound()
    assert list(page.items) == []
    assert page.has_more is False


async def test_malformed_inbound_item_is_skipped_not_fatal(fake):
    good = fixture("inbound_pull_page.json")["data"]["data"][0]
    fake.answer(json=ok({"data": [{"body": "no id or sender"}, "junk", good]}))
    page = await fake.client.fetch_inbound()
    assert [i.body for i in page.items] == [good["body"]]


async def test_mark_inbound_read_puts_to_id(fake):
    fake.answer(json=ok(1, "Receipt have been marked as read."))
    await fake.client.mark_inbound_read("C557B56E-83C0-4070-A74C-9BF05474B418")
    assert fake.last.method == "PUT"
    assert str(fake.last.url) == f"{BASE}/sms/inbound-read/C557B56E-83C0-4070-A74C-9BF05474B418"
    assert fake.last.headers["Authorization"] == AUTH_HEADER


async def test_mark_inbound_read_escapes_the_id(fake):
    await fake.client.mark_inbound_read("a/b c")
    assert fake.last.url.raw_path == b"/v3/sms/inbound-read/a%2Fb%20c"


async def test_mark_inbound_read_unknown_id_counts_as_read(fake):
    fake.answer(404, json=_error_body(404, "NOT_FOUND"))
    await fake.client.mark_inbound_read("GONE")


async def test_mark_inbound_read_other_errors_raise(fake):
    fake.answer(500, json=_error_body(500, "INTERNAL_ERROR"))
    with pytest.raises(TemporaryProviderError):
        await fake.client.mark_inbound_read("X")


# -- receipts -------------------------------------------------------------------------


async def test_fetch_receipts_parses_fixture(fake):
    fake.answer(json=fixture("receipts_pull_page.json"))
    page = await fake.client.fetch_receipts(limit=20)
    assert fake.last.url.path == "/v3/sms/receipts"
    assert dict(fake.last.url.params) == {
        "page": "1",
        "limit": "20",
        "order_by": "timestamp:asc",
    }
    assert fake.last.headers["Authorization"] == AUTH_HEADER
    assert [r.provider_message_id for r in page.items] == [
        "31BC271B-1E0C-45F6-9E7E-97186C46BB82",
        "23C8ADA3-FD8B-420B-801A-F829BB87AC6F",
        "3BD22FAD-A5D3-4D99-B4C0-16BF65BE052C",
    ]
    assert all(r.delivered and r.status_code == "201" for r in page.items)
    assert page.items[0].timestamp == dt.datetime.fromtimestamp(1442381791, dt.UTC)
    assert page.items[0].reason is None


async def test_receipt_other_status_code_is_undelivered(fake):
    item = {
        "timestamp": "1442381791",
        "message_id": "M1",
        "status_code": 301,
        "status_text": "Failed",
        "error_code": "301",
        "error_text": "Absent subscriber",
        "custom_string": "ref-9",
    }
    fake.answer(json=ok({"data": [item]}))
    [receipt] = (await fake.client.fetch_receipts()).items
    assert receipt.delivered is False
    assert receipt.status_code == "301"
    assert receipt.custom_string == "ref-9"
    assert receipt.reason == "301 Absent subscriber"


@pytest.mark.parametrize(
    "before",
    [
        dt.datetime(2015, 9, 16, 5, 30, 0, 900_000, tzinfo=dt.UTC),
        dt.datetime(2015, 9, 16, 5, 30, 0, 100_000),
        dt.datetime(2015, 9, 16, 15, 30, 0, tzinfo=dt.timezone(dt.timedelta(hours=10))),
    ],
)
async def test_mark_receipts_read_sends_whole_seconds(fake, before):
    fake.answer(json=ok([], "Receipts has been marked as read."))
    await fake.client.mark_receipts_read(before)
    assert fake.last.method == "PUT"
    assert str(fake.last.url) == f"{BASE}/sms/receipts-read"
    assert fake.last.headers["Authorization"] == AUTH_HEADER
    expected = int(dt.datetime(2015, 9, 16, 5, 30, tzinfo=dt.UTC).timestamp())
    assert json.loads(fake.last.content) == {"date_before": expected}


# -- account --------------------------------------------------------------------------


async def test_get_account_parses_fixture(fake):
    fake.answer(json=fixture("account.json"))
    account = await fake.client.get_account()
    assert fake.last.method == "GET"
    assert str(fake.last.url) == f"{BASE}/account"
    assert fake.last.headers["Authorization"] == AUTH_HEADER
    assert (account.balance, account.currency, account.active) == ("1117.461060", "AUD", True)


@pytest.mark.parametrize(
    ("fields", "balance", "active"),
    [
        ({"balance": 12.5, "active": "1", "banned": "0"}, "12.5", True),
        ({"balance": "0.000000", "active": 0, "banned": 0}, "0.000000", False),
        ({"balance": "5.000000", "active": 1, "banned": 1}, "5.000000", False),
    ],
)
async def test_get_account_flags_and_numbers(fake, fields, balance, active):
    data = fields | {"_currency": {"currency_name_short": "USD"}}
    fake.answer(json=ok(data))
    account = await fake.client.get_account()
    assert (account.balance, account.currency, account.active) == (balance, "USD", active)


@pytest.mark.parametrize("data", [None, [], {"_currency": {"currency_name_short": "USD"}}])
async def test_get_account_without_balance_is_temporary(fake, data):
    fake.answer(json=ok(data))
    with pytest.raises(TemporaryProviderError):
        await fake.client.get_account()


# -- contact lists (opt-out import) ---------------------------------------------------


async def test_fetch_list_numbers_parses_the_contacts_fixture(fake):
    fake.answer(json=fixture("contacts_page.json"))
    page = await fake.client.fetch_list_numbers(428, page=2, limit=50)
    request = fake.last
    assert request.method == "GET"
    assert str(request.url) == BASE + "/lists/428/contacts?page=2&limit=50"
    assert request.headers["Authorization"] == AUTH_HEADER
    assert list(page.items) == ["+16783270696", "+16783270697"]
    assert page.has_more is False


@pytest.mark.parametrize(
    ("page", "limit", "params"),
    [(1, 5, ("1", "15")), (0, 500, ("1", "100")), (3, 100, ("3", "100"))],
)
async def test_fetch_list_numbers_clamps_limit(fake, page, limit, params):
    fake.answer(json=ok({"data": [], "current_page": 1, "last_page": 1}))
    await fake.client.fetch_list_numbers(7, page, limit)
    assert (fake.last.url.params["page"], fake.last.url.params["limit"]) == params


async def test_fetch_list_numbers_skips_contacts_without_a_number(fake):
    contacts = [
        {"contact_id": 1, "phone_number": None, "email": "a@x.io"},
        {"contact_id": 2, "phone_number": ""},
        {"contact_id": 3},
        "junk",
        {"contact_id": 4, "phone_number": "+14155550101"},
    ]
    fake.answer(json=ok({"data": contacts, "current_page": 1, "last_page": 2}))
    page = await fake.client.fetch_list_numbers(428)
    assert list(page.items) == ["+14155550101"]
    assert page.has_more is True


async def test_fetch_list_numbers_of_an_unknown_list_is_permanent(fake):
    fake.answer(404, json=_error_body(404, "NOT_FOUND"))
    with pytest.raises(PermanentProviderError, match="^list 999 does not exist$"):
        await fake.client.fetch_list_numbers(999)
    assert fake.last.url.path == "/v3/lists/999/contacts"


async def test_fetch_list_numbers_other_errors_keep_their_class(fake):
    fake.answer(401, json=_error_body(401, "INVALID_CREDENTIALS"))
    with pytest.raises(AccountProviderError):
        await fake.client.fetch_list_numbers(428)


# -- sent history (reconciling messages in doubt) ---------------------------------------


def history_page(items: list[dict], page: int, last_page: int) -> dict:
    return ok({"total": len(items), "current_page": page, "last_page": last_page, "data": items})


def history_item(ref: str, message_id: str, date: str = "1700000000") -> dict:
    item = fixture("sms_history_page.json")["data"]["data"][0]
    return item | {"custom_string": ref, "message_id": message_id, "date": date}


WINDOW = (
    dt.datetime(2023, 11, 14, 22, 13, 20, 700000, tzinfo=dt.UTC),
    dt.datetime(2023, 11, 14, 22, 20, 0, 100000, tzinfo=dt.UTC),
)


async def test_find_sent_asks_for_the_window_in_whole_seconds_rounded_outwards(fake):
    fake.answer(json=history_page([history_item("7", "M-7")], 1, 1))
    found = await fake.client.find_sent(["7"], *WINDOW)
    request = fake.last
    assert (request.method, request.url.path) == ("GET", "/v3/sms/history")
    assert request.headers["Authorization"] == AUTH_HEADER
    assert dict(request.url.params) == {
        "date_from": "1700000000",  # 22:13:20.7 rounded down
        "date_to": "1700000401",  # 22:20:00.1 rounded up
        "page": "1",
        "limit": "100",
    }
    assert found == {
        "7": SentRecord(
            ref="7",
            provider_message_id="M-7",
            parts=1,
            price="0.070000",
            sent_at=dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC),
        )
    }


async def test_find_sent_pages_until_every_ref_is_found(fake):
    pages = {
        "1": [history_item("9", "M-9"), history_item("other", "M-X")],
        "2": [history_item("8", "M-8")],
        "3": [history_item("never-read", "M-N")],
    }
    fake.respond = lambda r: httpx.Response(
        200, json=history_page(pages[r.url.params["page"]], int(r.url.params["page"]), 3)
    )
    found = await fake.client.find_sent(["8", "9"], *WINDOW)
    assert {ref: r.provider_message_id for ref, r in found.items()} == {"8": "M-8", "9": "M-9"}
    assert [r.url.params["page"] for r in fake.requests] == ["1", "2"]


async def test_find_sent_reads_the_whole_window_before_reporting_absence(fake):
    fake.respond = lambda r: httpx.Response(
        200, json=history_page([history_item("1", "M-1")], int(r.url.params["page"]), 3)
    )
    assert await fake.client.find_sent(["2"], *WINDOW) == {}
    assert [r.url.params["page"] for r in fake.requests] == ["1", "2", "3"]


async def test_find_sent_ignores_items_without_a_message_id_or_malformed(fake):
    items = [history_item("1", ""), "junk", {"custom_string": None}, history_item("2", "M-2")]
    fake.answer(json=history_page(items, 1, 1))
    found = await fake.client.find_sent(["1", "2"], *WINDOW)
    assert list(found) == ["2"]


async def test_find_sent_failing_on_a_later_page_raises_instead_of_reporting_absence(fake):
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.params["page"] == "1":
            return httpx.Response(200, json=history_page([history_item("1", "M-1")], 1, 2))
        return httpx.Response(500, json=_error_body(500, "INTERNAL_ERROR"))

    fake.respond = respond
    with pytest.raises(TemporaryProviderError):
        await fake.client.find_sent(["1", "2"], *WINDOW)


# -- inbound rules and SMS templates (§9, §5) -------------------------------------------


async def test_fetch_inbound_rules_parses_the_rules_fixture(fake):
    fake.answer(json=fixture("inbound_rules_page.json"))
    page = await fake.client.fetch_inbound_rules(page=2, limit=15)
    request = fake.last
    assert request.method == "GET"
    assert str(request.url) == BASE + "/automations/sms/inbound?page=2&limit=15"
    assert request.headers["Authorization"] == AUTH_HEADER
    assert list(page.items) == [
        InboundRule(
            rule_id=10,
            name="My Rule 10",
            number="+61298441484",
            search_type=3,
            search_term="My Search Term",
            action="CREATE_CONTACT_PLUS_EMAIL",
            action_address="430",
            body="test@test.com",
            enabled=True,
        ),
        InboundRule(
            rule_id=9,
            name="My Rule 9",
            number="+61298441484",
            search_type=3,
            search_term="My Search Term",
            action="CREATE_CONTACT",
            action_address="john@doe.com",
            body=None,
            enabled=True,
        ),
    ]
    assert page.has_more is False


async def test_inbound_rules_accept_numbers_as_strings_and_skip_items_without_an_id(fake):
    items = [
        {"rule_name": "no id", "enabled": 1},
        "junk",
        {
            "inbound_rule_id": "12",
            "dedicated_number": "*",
            "rule_name": "Stop words",
            "message_search_type": "0",
            "message_search_term": None,
            "action": "URL",
            "action_address": "https://example.com/hook",
            "body": None,
            "enabled": "0",
            "webhook_type": "json",
        },
    ]
    fake.answer(json=ok({"data": items, "current_page": 1, "last_page": 2}))
    page = await fake.client.fetch_inbound_rules()
    assert list(page.items) == [
        InboundRule(12, "Stop words", "*", 0, None, "URL", "https://example.com/hook", None,
                    False, "json"),
    ]  # fmt: skip
    assert page.has_more is True
    assert (fake.last.url.params["page"], fake.last.url.params["limit"]) == ("1", "100")


async def test_fetch_sms_templates_parses_the_templates_fixture(fake):
    fake.answer(json=fixture("sms_templates_page.json"))
    page = await fake.client.fetch_sms_templates(limit=5)
    assert str(fake.last.url) == BASE + "/sms/templates?page=1&limit=15"
    assert list(page.items) == [
        SmsTemplate(1, "My Awesome Template", "This is a sample template."),
        SmsTemplate(2, "My Awesome Template 2", "This is my second sample template."),
    ]
    assert page.has_more is False


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (401, "INVALID_CREDENTIALS", AccountProviderError),
        (403, "FORBIDDEN", AccountProviderError),
        (500, "INTERNAL_ERROR", AmbiguousProviderError),
        (429, "TOO_MANY_REQUESTS", TemporaryProviderError),
        (404, "NOT_FOUND", PermanentProviderError),
    ],
)
async def test_rule_and_template_reads_sort_errors_into_the_tree(fake, status, code, error):
    fake.answer(status, json=_error_body(status, code))
    with pytest.raises(error):
        await fake.client.fetch_inbound_rules()
    with pytest.raises(error):
        await fake.client.fetch_sms_templates()
