"""POST /api/v1/rules/import-clicksend against the demo simulator's account."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.models import MessageTemplate, Rule

IMPORT = "/rules/import-clicksend"
DISABLED_NOTE = (
    "Imported rules are disabled: review them, switch the rules off at ClickSend, "
    "then enable them here."
)


def seed_account(api) -> None:
    state = api.services.simulator
    state.add_sms_template("Hours", "We are open 9 to 5, (First Name).")
    for name, action, address, body, enabled in [
        ("PRICE", "AUTO_REPLY", "", "From $5.", 1),
        ("TELL ME", "EMAIL_USER", "", None, 0),
        ("BROKEN", "AUTO_REPLY", "", None, 1),
    ]:
        state.add_inbound_rule(
            {
                "dedicated_number": "*",
                "rule_name": name,
                "message_search_type": 1,
                "message_search_term": name.split()[0].lower(),
                "action": action,
                "action_address": address,
                "body": body,
                "enabled": enabled,
            }
        )


async def counts(sessionmaker) -> tuple[int, int]:
    async with sessionmaker() as session:
        rules = await session.scalar(select(func.count()).select_from(Rule))
        templates = await session.scalar(select(func.count()).select_from(MessageTemplate))
        return rules, templates


async def test_the_import_answers_a_report_and_a_second_run_skips_everything(api, sessionmaker):
    seed_account(api)
    status, doc = await api.post(IMPORT, {})
    assert (status, doc["response_code"]) == (200, "SUCCESS"), doc
    assert (
        doc["response_msg"]
        == f"ClickSend import: 3 imported, 0 skipped, 1 refused. {DISABLED_NOTE}"
    )
    data = doc["data"]
    assert (data["imported"], data["skipped"], data["refused"], data["enabled"]) == (3, 0, 1, False)
    [template] = data["templates"]
    assert template == {
        "clicksend_id": 1,
        "name": "Hours",
        "status": "imported",
        "template_id": template["template_id"],
        "message": "imported",
        "warnings": [],
    }
    price, tell, broken = data["rules"]
    assert (price["clicksend_id"], price["status"], price["name"]) == (1, "imported", "PRICE")
    assert price["message"] == f"imported as rule {price['inbound_rule_id']}, disabled"
    assert broken == {
        "clicksend_id": 3,
        "name": "BROKEN",
        "status": "refused",
        "inbound_rule_id": None,
        "message": "body: is required for AUTO_REPLY: the reply text",
        "warnings": [],
    }
    status, rule = await api.get(f"/rules/{tell['inbound_rule_id']}")
    assert rule["data"]["actions"] == [{"type": "forward_email", "to": api.email}]
    assert rule["data"]["enabled"] == 0

    status, again = await api.post(IMPORT)
    assert status == 200
    assert [item["status"] for item in again["data"]["rules"]] == ["skipped", "skipped", "refused"]
    assert again["data"]["templates"][0]["status"] == "skipped"
    assert await counts(sessionmaker) == (2, 1)


async def test_enable_true_enables_what_clicksend_had_enabled(api, sessionmaker):
    seed_account(api)
    status, doc = await api.post(IMPORT, {"enable": True})
    assert status == 200
    assert doc["response_msg"] == "ClickSend import: 3 imported, 0 skipped, 1 refused."
    status, listed = await api.get("/rules")
    assert [(r["rule_name"], r["enabled"]) for r in listed["data"]["data"]] == [
        ("PRICE", 1),
        ("TELL ME", 0),
    ]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"enable": "yes"}, "enable: must be true or false"),
        ({"enable": 1}, "enable: must be true or false"),
        ({"enabled": True}, "enabled: is not a field of the import; send enable"),
        ([True], "request body: must be a JSON object"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(api, sessionmaker, payload, message):
    seed_account(api)
    status, doc = await api.post(IMPORT, payload)
    assert (status, doc["response_code"], doc["response_msg"]) == (400, "BAD_REQUEST", message)
    assert await counts(sessionmaker) == (0, 0)


async def test_malformed_json_is_a_400(api):
    headers = {**api.auth_headers, "Content-Type": "application/json"}
    response = await api.client.post("/api/v1" + IMPORT, data=b"{nope", headers=headers)
    doc = await response.json()
    assert (response.status, doc["response_msg"]) == (400, "request body: is not valid JSON")


async def test_clicksend_refusing_the_credentials_is_a_502_and_imports_nothing(api, sessionmaker):
    seed_account(api)
    api.services.simulator.config.api_key = "rotated-at-clicksend"
    status, doc = await api.post(IMPORT, {"enable": False})
    assert (status, doc["response_code"]) == (502, "PROVIDER_ERROR")
    assert doc["response_msg"].startswith(
        "ClickSend refused the account's credentials or the account cannot be used "
        "(check SMSDESK_CLICKSEND_USERNAME and SMSDESK_CLICKSEND_API_KEY): ClickSend HTTP 401"
    )
    assert await counts(sessionmaker) == (0, 0)


async def test_the_import_needs_api_credentials(api):
    status, doc = await api.post(IMPORT, {}, headers={})
    assert (status, doc["response_code"]) == (401, "UNAUTHORIZED")
