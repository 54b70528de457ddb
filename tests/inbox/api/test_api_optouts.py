"""Opt-outs over the API: list, record, re-subscribe, history, CSV export, import,
and confirming or dismissing a possible opt-out."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from sqlalchemy import select

from bot import events
from bot.models import (
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    ConversationEvent,
    Direction,
    Message,
    MessagePurpose,
    MessageStatus,
    OptOut,
    Role,
)
from bot.optout_import import MAX_ROWS
from inbox.api.openapi import DOCUMENT
from inbox.auth import create_api_key, create_user, find_user
from tests.consent_helpers import ledger, opt_outs

EPOCH = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
T0 = int(EPOCH.timestamp())
OUR_NUMBER = "+15550001111"
CUSTOMER = "+14155550101"
ADMIN_EMAIL = "admin@example.com"

OPT_OUT_FIELDS = {"phone_number", "scope", "created_at"}
EVENT_FIELDS = {
    "id", "phone_number", "kind", "method", "scope", "keyword", "raw_text",
    "provider_message_id", "message_id", "reason", "evidence", "user_id", "created_at",
}  # fmt: skip


@pytest.fixture
async def admin(api, sessionmaker):
    """An API client for an admin (``api`` is an agent)."""
    async with sessionmaker.begin() as session:
        user = await create_user(session, ADMIN_EMAIL, "correct horse battery", Role.ADMIN)
        key = await create_api_key(session, user)
    return type(api)(api.client, ADMIN_EMAIL, key)


async def _user_id(sessionmaker, email: str) -> int:
    async with sessionmaker() as session:
        return (await find_user(session, email)).id


def _assert_error(status: int, doc: dict, http_code: int, response_code: str, field: str) -> None:
    assert (status, doc["http_code"], doc["response_code"], doc["data"]) == (
        http_code,
        http_code,
        response_code,
        [],
    )
    assert doc["response_msg"].startswith(field), doc["response_msg"]


async def _delete(client, path: str, payload=None):
    response = await client.client.delete(
        "/api/v1" + path, json=payload, headers=client.auth_headers
    )
    return response.status, await response.json()


async def _post_raw(client, path: str, data: bytes, content_type: str):
    headers = {**client.auth_headers, "Content-Type": content_type}
    response = await client.client.post("/api/v1" + path, data=io.BytesIO(data), headers=headers)
    return response.status, await response.json()


async def _ledger(sessionmaker) -> list[tuple]:
    """(phone_number, scope, kind, method, reason, evidence, user_id) of every event."""
    return await ledger(sessionmaker, ConsentEvent.evidence, ConsentEvent.user_id)


async def _statuses(sessionmaker) -> dict[int, MessageStatus]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Message.id, Message.status).where(Message.direction == Direction.OUT)
        )
        return dict(rows.all())


async def _add_opt_out(sessionmaker, phone_number: str, at: dt.datetime, scope: str = "") -> None:
    async with sessionmaker.begin() as session:
        session.add(OptOut(phone_number=phone_number, our_number=scope, created_at=at))


async def _add_event(sessionmaker, phone_number: str, at: dt.datetime, **fields) -> None:
    fields.setdefault("kind", ConsentKind.OPT_OUT)
    fields.setdefault("method", ConsentMethod.KEYWORD)
    async with sessionmaker.begin() as session:
        session.add(ConsentEvent(phone_number=phone_number, created_at=at, **fields))


# -- GET /opt-outs -----------------------------------------------------------------


@pytest.fixture
async def three(sessionmaker):
    await _add_opt_out(sessionmaker, "+14155550103", EPOCH)
    await _add_opt_out(sessionmaker, "+14155550101", EPOCH + dt.timedelta(hours=1), OUR_NUMBER)
    await _add_opt_out(sessionmaker, "+61411111111", EPOCH + dt.timedelta(hours=2))


async def test_an_opt_out_item_has_exactly_the_documented_fields(api, three):
    status, doc = await api.get("/opt-outs")
    assert (status, doc["response_code"]) == (200, "SUCCESS")
    page = doc["data"]
    assert (page["total"], page["current_page"], page["from"], page["to"]) == (3, 1, 1, 3)
    assert page["data"] == [
        {"phone_number": "+61411111111", "scope": "", "created_at": T0 + 7200},
        {"phone_number": "+14155550101", "scope": OUR_NUMBER, "created_at": T0 + 3600},
        {"phone_number": "+14155550103", "scope": "", "created_at": T0},
    ]
    schema = DOCUMENT["components"]["schemas"]["OptOut"]
    assert set(schema["required"]) == set(schema["properties"]) == OPT_OUT_FIELDS


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "phone_number:+1415"}, ["+14155550101", "+14155550103"]),
        ({"q": "phone_number: 1415"}, ["+14155550101", "+14155550103"]),  # unencoded +
        ({"q": "phone_number:0103"}, ["+14155550103"]),
        ({"q": "phone_number:+44"}, []),
        ({"order_by": "phone_number:asc"}, ["+14155550101", "+14155550103", "+61411111111"]),
        ({"order_by": "created_at:asc"}, ["+14155550103", "+14155550101", "+61411111111"]),
    ],
)
async def test_opt_outs_are_searchable_and_sortable(api, three, params, expected):
    status, doc = await api.get("/opt-outs", params)
    assert status == 200, doc
    assert [item["phone_number"] for item in doc["data"]["data"]] == expected
    assert doc["data"]["total"] == len(expected)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "scope:1"}, "q: unknown field 'scope'"),
        ({"order_by": "reason:asc"}, "order_by: unknown field"),
        ({"page": "x"}, "page: "),
    ],
)
async def test_bad_list_parameters_are_a_400_naming_them(api, three, params, field):
    status, doc = await api.get("/opt-outs", params)
    _assert_error(status, doc, 400, "BAD_REQUEST", field)


async def test_opt_outs_are_paginated(api, sessionmaker):
    for i in range(20):
        await _add_opt_out(sessionmaker, f"+141555502{i:02d}", EPOCH + dt.timedelta(minutes=i))
    _, first = await api.get("/opt-outs")
    _, second = await api.get("/opt-outs", {"page": "2"})
    assert (first["data"]["total"], first["data"]["last_page"]) == (20, 2)
    numbers = [item["phone_number"] for doc in (first, second) for item in doc["data"]["data"]]
    assert numbers == [f"+141555502{i:02d}" for i in reversed(range(20))]


async def test_the_api_needs_credentials(api):
    response = await api.client.get("/api/v1/opt-outs")
    assert response.status == 401
    response = await api.client.get("/api/v1/consent/export.csv")
    assert response.status == 401


# -- POST /opt-outs ---------------------------------------------------------------


async def test_posting_an_opt_out_records_it_and_suppresses_queued_messages(
    api, sessionmaker, seed
):
    _, queued = await api.post("/messages", {"to": "(415) 555-0101", "body": "Sale!"})
    _, other = await api.post("/messages", {"to": "+14155550199", "body": "Hello"})
    before = int(dt.datetime.now(dt.UTC).timestamp())
    status, doc = await api.post(
        "/opt-outs", {"phone_number": "415.555.0101", "reason": "  asked by email  "}
    )
    assert (status, doc["response_code"], doc["response_msg"]) == (
        200,
        "SUCCESS",
        "Opt-out recorded.",
    )
    item = doc["data"]
    assert item == {
        "phone_number": CUSTOMER,
        "scope": "",
        "created_at": item["created_at"],
        "already_opted_out": False,
    }
    assert before <= item["created_at"] <= before + 5
    user_id = await _user_id(sessionmaker, api.email)
    assert await _ledger(sessionmaker) == [
        (CUSTOMER, "", "opt_out", "api", "asked by email", None, user_id)
    ]
    assert await opt_outs(sessionmaker) == [(CUSTOMER, "")]
    assert await _statuses(sessionmaker) == {
        queued["data"]["message_id"]: MessageStatus.SUPPRESSED,
        other["data"]["message_id"]: MessageStatus.QUEUED,
    }
    status, doc = await api.post("/messages", {"to": CUSTOMER, "body": "Still there?"})
    assert (status, doc["response_code"]) == (403, "OPTED_OUT")


async def test_posting_an_opt_out_twice_is_idempotent(api, sessionmaker):
    _, first = await api.post("/opt-outs", {"phone_number": CUSTOMER, "reason": "asked"})
    status, doc = await api.post("/opt-outs", {"phone_number": CUSTOMER, "reason": "again"})
    assert (status, doc["response_msg"]) == (200, "Already opted out.")
    assert doc["data"] == {**first["data"], "already_opted_out": True}
    assert len(await _ledger(sessionmaker)) == 1


async def test_an_opt_out_for_one_of_our_numbers_suppresses_only_that_thread(
    api, seed, sessionmaker
):
    ours = await seed.conversation(CUSTOMER, our_number=OUR_NUMBER)
    theirs = await seed.conversation(CUSTOMER, our_number="+15550002222")
    _, on_ours = await api.post(f"/conversations/{ours}/messages", {"body": "a"})
    _, on_theirs = await api.post(f"/conversations/{theirs}/messages", {"body": "b"})
    status, doc = await api.post(
        "/opt-outs",
        {"phone_number": CUSTOMER, "reason": "asked", "our_number": "+1 (555) 000-1111"},
    )
    assert (status, doc["data"]["scope"], doc["data"]["already_opted_out"]) == (
        200,
        OUR_NUMBER,
        False,
    )
    assert await opt_outs(sessionmaker) == [(CUSTOMER, OUR_NUMBER)]
    assert await _statuses(sessionmaker) == {
        on_ours["data"]["message_id"]: MessageStatus.SUPPRESSED,
        on_theirs["data"]["message_id"]: MessageStatus.QUEUED,
    }


async def test_a_number_opted_out_everywhere_is_already_opted_out_for_one_number(api, sessionmaker):
    await _add_opt_out(sessionmaker, CUSTOMER, EPOCH)
    status, doc = await api.post(
        "/opt-outs", {"phone_number": CUSTOMER, "reason": "asked", "our_number": OUR_NUMBER}
    )
    assert (status, doc["data"]) == (
        200,
        {"phone_number": CUSTOMER, "scope": "", "created_at": T0, "already_opted_out": True},
    )
    assert await _ledger(sessionmaker) == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"phone_number": CUSTOMER}, "reason: is required"),
        ({"phone_number": CUSTOMER, "reason": None}, "reason: is required"),
        ({"phone_number": CUSTOMER, "reason": "   "}, "reason: is required"),
        ({"phone_number": CUSTOMER, "reason": 7}, "reason: must be a string"),
        ({"phone_number": CUSTOMER, "reason": "x" * 2001}, "reason: is longer than 2000"),
        ({"reason": "asked"}, "phone_number: is required"),
        ({"phone_number": "call me", "reason": "asked"}, "phone_number: 'call me' is not a"),
        ({"phone_number": "12", "reason": "asked"}, "phone_number: "),
        ({"phone_number": 4155550101, "reason": "asked"}, "phone_number: must be a string"),
        ({"phone_number": CUSTOMER, "reason": "a", "our_number": "x" * 21}, "our_number: "),
        ({"phone_number": CUSTOMER, "reason": "a", "our_number": "1\x002"}, "our_number: "),
        ({"phone_number": CUSTOMER, "reason": "a", "our_number": 5}, "our_number: must be"),
    ],
)
async def test_bad_opt_out_input_is_a_400_naming_the_field(api, sessionmaker, payload, field):
    status, doc = await api.post("/opt-outs", payload)
    _assert_error(status, doc, 400, "BAD_REQUEST", field)
    assert await _ledger(sessionmaker) == []
    assert await opt_outs(sessionmaker) == []


async def test_an_opt_out_body_that_is_not_json_is_a_400(api):
    status, doc = await _post_raw(api, "/opt-outs", b"phone=1", "application/json")
    _assert_error(status, doc, 400, "BAD_REQUEST", "request body: is not valid JSON")


# -- DELETE /opt-outs/{phone_number} -------------------------------------------------

PROOF = {"reason": "customer asked by phone", "evidence": "call recording 2024-05-02"}


async def test_an_agent_may_not_resubscribe_a_number(api, sessionmaker):
    await _add_opt_out(sessionmaker, CUSTOMER, EPOCH)
    for payload in (PROOF, {}):
        status, doc = await _delete(api, "/opt-outs/%2B14155550101", payload)
        _assert_error(status, doc, 403, "FORBIDDEN", "Only an admin may re-subscribe")
    assert await opt_outs(sessionmaker) == [(CUSTOMER, "")]
    assert await _ledger(sessionmaker) == []


@pytest.mark.parametrize(
    "path_number", ["%2B14155550101", "+14155550101", "(415)%20555-0101", "4155550101"]
)
async def test_an_admin_resubscribes_a_number_with_reason_and_evidence(
    admin, sessionmaker, seed, path_number
):
    conversation_id = await seed.conversation(CUSTOMER)
    await _add_opt_out(sessionmaker, CUSTOMER, EPOCH)
    await _add_opt_out(sessionmaker, CUSTOMER, EPOCH, OUR_NUMBER)
    status, doc = await _delete(admin, f"/opt-outs/{path_number}", PROOF)
    assert (status, doc["response_code"], doc["response_msg"]) == (200, "SUCCESS", "Re-subscribed.")
    admin_id = await _user_id(sessionmaker, ADMIN_EMAIL)
    item = doc["data"]
    assert item == {
        "id": item["id"],
        "phone_number": CUSTOMER,
        "kind": "opt_in",
        "method": "admin",
        "scope": "",
        "keyword": None,
        "raw_text": None,
        "provider_message_id": None,
        "message_id": None,
        "reason": PROOF["reason"],
        "evidence": PROOF["evidence"],
        "user_id": admin_id,
        "created_at": item["created_at"],
    }
    assert await opt_outs(sessionmaker) == []
    assert await _ledger(sessionmaker) == [
        (CUSTOMER, "", "opt_in", "admin", PROOF["reason"], PROOF["evidence"], admin_id)
    ]
    status, _ = await admin.post(f"/conversations/{conversation_id}/messages", {"body": "Hi"})
    assert status == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"evidence": "form"}, "reason: is required"),
        ({"reason": " ", "evidence": "form"}, "reason: is required"),
        ({"reason": "asked"}, "evidence: is required"),
        ({"reason": "asked", "evidence": ""}, "evidence: is required"),
        ({"reason": "asked", "evidence": ["form"]}, "evidence: must be a string"),
    ],
)
async def test_resubscribing_needs_a_reason_and_evidence(admin, sessionmaker, payload, field):
    await _add_opt_out(sessionmaker, CUSTOMER, EPOCH)
    status, doc = await _delete(admin, "/opt-outs/%2B14155550101", payload)
    _assert_error(status, doc, 400, "BAD_REQUEST", field)
    assert await opt_outs(sessionmaker) == [(CUSTOMER, "")]
    assert await _ledger(sessionmaker) == []


async def test_resubscribing_a_number_that_is_not_opted_out_is_a_404(admin, sessionmaker):
    status, doc = await _delete(admin, "/opt-outs/%2B14155550101", PROOF)
    _assert_error(status, doc, 404, "NOT_FOUND", "+14155550101 is not opted out")
    assert await _ledger(sessionmaker) == []


async def test_resubscribing_a_bad_number_is_a_400_naming_phone_number(admin):
    status, doc = await _delete(admin, "/opt-outs/not-a-number", PROOF)
    _assert_error(status, doc, 400, "BAD_REQUEST", "phone_number: ")


# -- GET /opt-outs/{phone_number}/history ---------------------------------------------


async def test_history_lists_the_numbers_ledger_oldest_first(api, sessionmaker):
    await _add_event(
        sessionmaker,
        CUSTOMER,
        EPOCH,
        keyword="stop",
        raw_text="STOP",
        provider_message_id="P-1",
        scope=OUR_NUMBER,
    )
    await _add_event(sessionmaker, "+14155550199", EPOCH)
    await _add_event(
        sessionmaker,
        CUSTOMER,
        EPOCH + dt.timedelta(days=1),
        kind=ConsentKind.OPT_IN,
        method=ConsentMethod.ADMIN,
        reason="asked",
        evidence="form",
    )
    status, doc = await api.get("/opt-outs/%2B1%20415%20555%200101/history")
    assert status == 200, doc
    items = doc["data"]["data"]
    assert doc["data"]["total"] == 2
    assert [set(item) for item in items] == [EVENT_FIELDS, EVENT_FIELDS]
    assert [
        (i["kind"], i["method"], i["scope"], i["keyword"], i["raw_text"], i["created_at"])
        for i in items
    ] == [
        ("opt_out", "keyword", OUR_NUMBER, "stop", "STOP", T0),
        ("opt_in", "admin", "", None, None, T0 + 86400),
    ]
    assert (items[0]["provider_message_id"], items[1]["reason"], items[1]["evidence"]) == (
        "P-1",
        "asked",
        "form",
    )
    assert items[0]["id"] < items[1]["id"]
    schema = DOCUMENT["components"]["schemas"]["ConsentEvent"]
    assert set(schema["required"]) == set(schema["properties"]) == EVENT_FIELDS


async def test_history_of_a_number_without_events_is_an_empty_page(api):
    status, doc = await api.get("/opt-outs/4155550101/history")
    assert (status, doc["data"]["total"], doc["data"]["data"]) == (200, 0, [])


async def test_history_of_a_bad_number_is_a_400(api):
    status, doc = await api.get("/opt-outs/abc/history")
    _assert_error(status, doc, 400, "BAD_REQUEST", "phone_number: ")


# -- GET /consent/export.csv ----------------------------------------------------------


@pytest.fixture
async def ledger_rows(sessionmaker):
    await _add_event(sessionmaker, CUSTOMER, EPOCH, keyword="stop", raw_text="STOP")
    await _add_event(
        sessionmaker,
        "+14155550199",
        EPOCH + dt.timedelta(hours=1),
        method=ConsentMethod.ADMIN,
        reason="=HYPERLINK(1)",
    )
    await _add_event(
        sessionmaker,
        CUSTOMER,
        EPOCH + dt.timedelta(hours=2),
        kind=ConsentKind.OPT_IN,
        method=ConsentMethod.ADMIN,
        reason="asked",
        evidence="form",
    )


async def _export(api, **params):
    response = await api.client.get(
        "/api/v1/consent/export.csv", params=params, headers=api.auth_headers
    )
    return response, await response.text()


def _phones_and_kinds(text: str) -> list[tuple[str, str]]:
    rows = [line.split(",") for line in text.splitlines()[1:]]
    return [(row[2], row[4]) for row in rows]


async def test_the_ledger_downloads_as_a_csv_attachment(api, ledger_rows):
    response, text = await _export(api)
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert response.charset == "utf-8"
    assert response.headers["Content-Disposition"] == ('attachment; filename="consent-ledger.csv"')
    assert response.headers["Cache-Control"] == "no-store"
    lines = text.splitlines()
    assert lines[0] == (
        "id,created_at,phone_number,scope,kind,method,keyword,raw_text,"
        "provider_message_id,message_id,user_id,reason,evidence"
    )
    assert lines[1].endswith(
        ",2024-05-01T12:00:00+00:00,+14155550101,,opt_out,keyword,stop,STOP,,,,,"
    )
    assert ",'=HYPERLINK(1)," in lines[2]
    assert _phones_and_kinds(text) == [
        (CUSTOMER, "opt_out"),
        ("+14155550199", "opt_out"),
        (CUSTOMER, "opt_in"),
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"phone_number": "(415) 555-0101"}, [(CUSTOMER, "opt_out"), (CUSTOMER, "opt_in")]),
        ({"date_from": str(T0 + 1)}, [("+14155550199", "opt_out"), (CUSTOMER, "opt_in")]),
        ({"date_to": str(T0 + 3600)}, [(CUSTOMER, "opt_out"), ("+14155550199", "opt_out")]),
        ({"date_from": str(T0 + 3600), "date_to": str(T0 + 3600)}, [("+14155550199", "opt_out")]),
        ({"phone_number": "+14155550101", "date_from": str(T0 + 60)}, [(CUSTOMER, "opt_in")]),
        ({"phone_number": "+61411111111"}, []),
        ({"date_from": "", "phone_number": " "}, None),  # empty parameters are absent
    ],
)
async def test_the_export_filters_by_number_and_dates(api, ledger_rows, params, expected):
    response, text = await _export(api, **params)
    assert response.status == 200, text
    everything = [(CUSTOMER, "opt_out"), ("+14155550199", "opt_out"), (CUSTOMER, "opt_in")]
    assert _phones_and_kinds(text) == (everything if expected is None else expected)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "yesterday"}, "date_from: "),
        ({"date_from": "-5"}, "date_from: "),
        ({"date_to": "1.5"}, "date_to: "),
        ({"date_to": "9" * 30}, "date_to: "),
        ({"date_from": "200", "date_to": "100"}, "date_to: is before date_from"),
        ({"phone_number": "nobody"}, "phone_number: "),
    ],
)
async def test_bad_export_parameters_are_a_400_envelope(api, params, field):
    response, text = await _export(api, **params)
    doc = json.loads(text)
    assert response.content_type == "application/json"
    _assert_error(response.status, doc, 400, "BAD_REQUEST", field)


# -- POST /opt-outs/import ------------------------------------------------------------

CSV = (
    "\ufeffName;Phone;Reason\r\n"
    "Ann;(415) 555-0101;asked by email\r\n"
    "Bob;call me;\r\n"
    "\r\n"
    "Cy;+14155550102;\r\n"
    "Ann;415-555-0101;\r\n"
    "Dee;+14155550103;\r\n"
)
NOT_A_NUMBER = "(The string supplied did not seem to be a phone number.)"
REPORT_ROWS = [
    (2, "(415) 555-0101", "added", "+14155550101 opted out"),
    (3, "call me", "invalid", f"'call me' is not a phone number {NOT_A_NUMBER}"),
    (5, "+14155550102", "added", "+14155550102 opted out"),
    (6, "415-555-0101", "already", "+14155550101 repeats line 2"),
    (7, "+14155550103", "already", "+14155550103 is already opted out"),
]
REPORT = {
    "added": 2,
    "already": 2,
    "invalid": 1,
    "total": 5,
    "rows": [
        dict(zip(("line", "raw", "status", "message"), row, strict=True)) for row in REPORT_ROWS
    ],
}


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (CSV.encode("utf-8"), "text/csv"),
        (CSV.encode("utf-8"), "text/csv; charset=utf-8"),
        (CSV.encode("utf-16"), "text/plain; charset=utf-16"),
        (json.dumps({"csv": CSV}).encode(), "application/json"),
    ],
)
async def test_an_admin_imports_a_list_and_gets_a_report_per_row(
    admin, sessionmaker, data, content_type
):
    await _add_opt_out(sessionmaker, "+14155550103", EPOCH)
    status, doc = await _post_raw(admin, "/opt-outs/import", data, content_type)
    assert (status, doc["response_code"]) == (200, "SUCCESS"), doc
    assert doc["response_msg"] == "Imported: 2 added, 2 already, 1 invalid."
    assert doc["data"] == REPORT
    admin_id = await _user_id(sessionmaker, ADMIN_EMAIL)
    assert await _ledger(sessionmaker) == [
        (CUSTOMER, "", "opt_out", "import", "asked by email", None, admin_id),
        ("+14155550102", "", "opt_out", "import", "imported opt-out list", None, admin_id),
    ]
    schema = DOCUMENT["components"]["schemas"]["ImportReport"]
    assert set(schema["required"]) == set(schema["properties"]) == set(doc["data"])
    row_schema = DOCUMENT["components"]["schemas"]["ImportRow"]
    assert set(row_schema["required"]) == set(doc["data"]["rows"][0])


async def test_an_import_suppresses_messages_queued_to_the_numbers(admin, sessionmaker):
    _, queued = await admin.post("/messages", {"to": CUSTOMER, "body": "Sale!"})
    status, _ = await _post_raw(admin, "/opt-outs/import", b"4155550101\n", "text/csv")
    assert status == 200
    assert await _statuses(sessionmaker) == {queued["data"]["message_id"]: MessageStatus.SUPPRESSED}


async def test_an_agent_may_not_import(api, sessionmaker):
    status, doc = await _post_raw(api, "/opt-outs/import", CSV.encode(), "text/csv")
    _assert_error(status, doc, 403, "FORBIDDEN", "Only an admin may import opt-outs")
    assert await _ledger(sessionmaker) == []


@pytest.mark.parametrize(
    ("data", "content_type", "http_code", "field"),
    [
        (b"name,email\nAnn,a@x.io\n", "text/csv", 400, "csv: no phone column"),
        (b"", "text/csv", 400, "csv: the file has no rows"),
        (b"phone\n\xff\xfe\n", "text/csv", 400, "csv: is not valid utf-8 text"),
        (b"phone\n4155550101\n", "text/csv; charset=klingon", 400, "csv: is not valid klingon"),
        (b'{"csv": 5}', "application/json", 400, "csv: must be a string"),
        (b"{}", "application/json", 400, "csv: is required"),
        (b'{"csv": "phone\\n\\ud800"}', "application/json", 400, "csv: must be valid Unicode"),
        (b"[1]", "application/json", 400, "request body: must be a JSON object"),
        (b"phone\n4155550101", "application/xml", 400, "Content-Type: "),
        (b"phone\n4155550101", "multipart/form-data", 400, "Content-Type: "),
        (
            ("phone\n" + "\n".join(f"415{i:07d}" for i in range(MAX_ROWS + 1))).encode(),
            "text/csv",
            413,
            f"csv: the file has more than {MAX_ROWS} rows",
        ),
        (b"phone\n" + b" " * (10 * 1024 * 1024 + 1), "text/csv", 413, "The request body is larger"),
    ],
)
async def test_a_bad_import_is_refused_whole(
    admin, sessionmaker, data, content_type, http_code, field
):
    status, doc = await _post_raw(admin, "/opt-outs/import", data, content_type)
    code = "BAD_REQUEST" if http_code == 400 else "PAYLOAD_TOO_LARGE"
    _assert_error(status, doc, http_code, code, field)
    assert await _ledger(sessionmaker) == []


async def test_a_chunked_import_larger_than_the_cap_is_a_413(admin):
    async def chunks():
        for _ in range(11):
            yield b" " * (1024 * 1024)

    headers = {**admin.auth_headers, "Content-Type": "text/csv"}
    response = await admin.client.post("/api/v1/opt-outs/import", data=chunks(), headers=headers)
    doc = await response.json()
    _assert_error(response.status, doc, 413, "PAYLOAD_TOO_LARGE", "The request body is larger")


# -- possible opt-outs ---------------------------------------------------------------


async def _flagged(seed, sessionmaker) -> tuple[int, int]:
    """A conversation flagged as a possible opt-out, with a reply queued to it."""
    conversation_id = await seed.conversation(
        CUSTOMER, possible_opt_out=True, possible_opt_out_at=EPOCH
    )
    queued = await seed.message(
        conversation_id,
        "Your order shipped",
        direction=Direction.OUT,
        status=MessageStatus.QUEUED,
        purpose=MessagePurpose.AGENT_REPLY,
    )
    return conversation_id, queued


async def _outbound(sessionmaker, conversation_id: int) -> list[tuple]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Message.purpose, Message.status)
            .where(Message.conversation_id == conversation_id, Message.direction == Direction.OUT)
            .order_by(Message.id)
        )
        return [tuple(row) for row in rows]


async def test_confirming_a_possible_opt_out_opts_the_number_out(api, seed, sessionmaker):
    conversation_id, _ = await _flagged(seed, sessionmaker)
    path = f"/conversations/{conversation_id}/possible-opt-out/confirm"
    before = int(dt.datetime.now(dt.UTC).timestamp())
    async with api.services.bus.subscribe(events.OUTBOX_QUEUED) as wakeups:
        status, doc = await api.post(path)
    assert (status, doc["response_code"], doc["response_msg"]) == (
        200,
        "SUCCESS",
        "Opt-out confirmed.",
    )
    assert doc["data"] == {
        "conversation_id": conversation_id,
        "phone_number": CUSTOMER,
        "our_number": OUR_NUMBER,
        "status": "open",
        "unread_count": 0,
        "last_message_at": doc["data"]["last_message_at"],  # the confirmation is newer
        "opted_out": True,
        "possible_opt_out": False,
        "needs_agent": False,
        "needs_agent_reason": None,
        "assigned_user_id": None,
        "first_name": None,
        "last_name": None,
    }
    assert before <= doc["data"]["last_message_at"] <= before + 5
    user_id = await _user_id(sessionmaker, api.email)
    assert await _ledger(sessionmaker) == [
        (CUSTOMER, "", "opt_out", "agent", "agent confirmed a possible opt-out", None, user_id)
    ]
    assert await opt_outs(sessionmaker) == [(CUSTOMER, "")]
    assert await _outbound(sessionmaker, conversation_id) == [
        (MessagePurpose.AGENT_REPLY, MessageStatus.SUPPRESSED),
        (MessagePurpose.OPT_OUT_CONFIRMATION, MessageStatus.QUEUED),
    ]
    assert wakeups.qsize() == 1
    assert api.services.simulator.requests == []


async def test_confirming_when_nothing_is_flagged_is_a_400(api, seed, sessionmaker):
    conversation_id = await seed.conversation(CUSTOMER)
    status, doc = await api.post(f"/conversations/{conversation_id}/possible-opt-out/confirm")
    _assert_error(status, doc, 400, "BAD_REQUEST", "conversation: has no possible opt-out")
    assert await _ledger(sessionmaker) == []
    assert await _outbound(sessionmaker, conversation_id) == []


async def test_dismissing_a_possible_opt_out_clears_the_flag_only(api, seed, sessionmaker):
    conversation_id, queued = await _flagged(seed, sessionmaker)
    status, doc = await api.post(f"/conversations/{conversation_id}/possible-opt-out/dismiss")
    assert (status, doc["response_msg"]) == (200, "Possible opt-out dismissed.")
    assert (doc["data"]["conversation_id"], doc["data"]["opted_out"]) == (conversation_id, False)
    assert doc["data"]["possible_opt_out"] is False
    assert await _ledger(sessionmaker) == []
    assert await _statuses(sessionmaker) == {queued: MessageStatus.QUEUED}
    async with sessionmaker() as session:
        texts = (await session.scalars(select(ConversationEvent.text))).all()
    assert texts == ["Possible opt-out dismissed by an agent"]


async def test_dismissing_when_nothing_is_flagged_is_a_400_naming_conversation(api, seed):
    conversation_id = await seed.conversation(CUSTOMER)
    status, doc = await api.post(f"/conversations/{conversation_id}/possible-opt-out/dismiss")
    _assert_error(status, doc, 400, "BAD_REQUEST", "conversation: has no possible opt-out")


@pytest.mark.parametrize("verb", ["confirm", "dismiss"])
async def test_an_unknown_conversation_is_a_404(api, verb):
    status, doc = await api.post(f"/conversations/424242/possible-opt-out/{verb}")
    _assert_error(status, doc, 404, "NOT_FOUND", "conversation")


# -- POST /opt-outs/import-clicksend-list ----------------------------------------------

CLICKSEND_IMPORT = "/opt-outs/import-clicksend-list"


def _sim_list(client, *numbers: str) -> int:
    state = client.services.simulator
    list_id = state.add_list("Opt-Out List")
    state.add_list_contacts(list_id, list(numbers))
    return list_id


async def test_an_admin_imports_a_clicksend_list(admin, sessionmaker):
    await _add_opt_out(sessionmaker, "+14155550103", EPOCH)
    many = [f"+1415666{i:04d}" for i in range(120)]  # two provider pages
    list_id = _sim_list(admin, "(415) 555-0101", "call me", "+14155550101", "+14155550103", *many)
    status, doc = await admin.post(CLICKSEND_IMPORT, {"list_id": list_id})
    assert (status, doc["response_code"]) == (200, "SUCCESS"), doc
    assert doc["response_msg"] == "Imported: 121 added, 2 already, 1 invalid."
    data = doc["data"]
    assert (data["added"], data["already"], data["invalid"], data["total"]) == (121, 2, 1, 124)
    assert data["rows"][:4] == [
        {"line": 1, "raw": "(415) 555-0101", "status": "added", "message": f"{CUSTOMER} opted out"},
        {
            "line": 2,
            "raw": "call me",
            "status": "invalid",
            "message": f"'call me' is not a phone number {NOT_A_NUMBER}",
        },
        {"line": 3, "raw": CUSTOMER, "status": "already", "message": f"{CUSTOMER} repeats line 1"},
        {
            "line": 4,
            "raw": "+14155550103",
            "status": "already",
            "message": "+14155550103 is already opted out",
        },
    ]
    admin_id = await _user_id(sessionmaker, ADMIN_EMAIL)
    ledger = await _ledger(sessionmaker)
    assert len(ledger) == 121
    assert ledger[0] == (
        CUSTOMER, "", "opt_out", "provider", f"ClickSend list {list_id}", None, admin_id
    )  # fmt: skip
    assert {row[3] for row in ledger} == {ConsentMethod.PROVIDER}
    status, listed = await admin.get("/opt-outs", {"q": f"phone_number:{CUSTOMER}"})
    assert [item["phone_number"] for item in listed["data"]["data"]] == [CUSTOMER]


async def test_an_agent_may_not_import_a_clicksend_list(api, sessionmaker):
    list_id = _sim_list(api, CUSTOMER)
    status, doc = await api.post(CLICKSEND_IMPORT, {"list_id": list_id})
    _assert_error(status, doc, 403, "FORBIDDEN", "Only an admin may import opt-outs")
    assert await _ledger(sessionmaker) == []


async def test_an_unknown_clicksend_list_is_a_502_provider_error(admin, sessionmaker):
    status, doc = await admin.post(CLICKSEND_IMPORT, {"list_id": 999_999})
    _assert_error(status, doc, 502, "PROVIDER_ERROR", "list 999999 does not exist")
    assert await _ledger(sessionmaker) == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "list_id: is required"),
        ({"list_id": "428"}, "list_id: must be a positive integer"),
        ({"list_id": 0}, "list_id: must be a positive integer"),
        ({"list_id": True}, "list_id: must be a positive integer"),
        ({"list_id": 4.5}, "list_id: must be a positive integer"),
        ({"list_id": 2**64}, "list_id: must be a positive integer"),
        ([1], "request body: must be a JSON object"),
    ],
)
async def test_a_bad_list_id_is_a_400_naming_it(admin, sessionmaker, payload, field):
    status, doc = await admin.post(CLICKSEND_IMPORT, payload)
    _assert_error(status, doc, 400, "BAD_REQUEST", field)
    assert await _ledger(sessionmaker) == []
