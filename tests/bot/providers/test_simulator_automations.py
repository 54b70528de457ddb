"""The simulator's inbound rules (§9) and SMS templates (§5) over HTTP."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.providers.simulator import SimulatorConfig, create_simulator_app

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "providers" / "fixtures"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"demo:secret").decode()}
RULES, TEMPLATES = "/v3/automations/sms/inbound", "/v3/sms/templates"
# The reference's create request (§9), and its answer without the id.
CREATE = {
    "dedicated_number": "+61298441484",
    "rule_name": "My Rule",
    "message_search_type": 3,
    "message_search_term": "My Search Term",
    "action": "EMAIL_FIXED",
    "action_address": "john@doe.com",
    "enabled": 1,
    "webhook_type": "json",
}
ECHOED = {k: v for k, v in CREATE.items() if k != "webhook_type"} | {"body": None}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Sim:
    def __init__(self, client: Any, state: Any) -> None:
        self.client, self.state = client, state

    async def call(self, method: str, path: str, payload: Any = None) -> tuple[int, dict]:
        response = await self.client.request(method, path, headers=AUTH, json=payload)
        return response.status, await response.json()


@pytest.fixture
async def sim(aiohttp_client):
    sub, state = create_simulator_app(SimulatorConfig(username="demo", api_key="secret"))
    root = web.Application()
    root.add_subapp("/v3", sub)
    return Sim(await aiohttp_client(root), state)


async def test_a_created_rule_is_echoed_without_webhook_type_and_listed(sim):
    status, created = await sim.call("POST", RULES, CREATE)
    assert (status, created["response_msg"]) == (200, "Your record has been added.")
    assert created["data"] == {"inbound_rule_id": 1, **ECHOED}
    status, one = await sim.call("GET", f"{RULES}/1")
    assert (status, one["response_msg"], one["data"]) == (
        200,
        "Your inbound rule.",
        created["data"],
    )
    status, listed = await sim.call("GET", RULES)
    assert listed["response_msg"] == fixture("inbound_rules_page.json")["response_msg"]
    page = listed["data"]
    expected_keys = set(fixture("inbound_rules_page.json")["data"])
    assert set(page) == expected_keys
    assert page["data"] == [created["data"]]
    assert set(page["data"][0]) == set(fixture("inbound_rules_page.json")["data"]["data"][0])


async def test_rules_are_listed_newest_first_as_in_the_reference_and_paginated(sim):
    for number in range(17):
        await sim.call("POST", RULES, CREATE | {"rule_name": f"R{number}"})
    status, first = await sim.call("GET", RULES + "?limit=15")
    assert [r["inbound_rule_id"] for r in first["data"]["data"]] == list(range(17, 2, -1))
    assert (first["data"]["total"], first["data"]["last_page"]) == (17, 2)
    status, second = await sim.call("GET", RULES + "?limit=15&page=2")
    assert [r["inbound_rule_id"] for r in second["data"]["data"]] == [2, 1]


async def test_a_rule_is_updated_and_deleted(sim):
    await sim.call("POST", RULES, CREATE)
    changed = CREATE | {"rule_name": "Renamed", "enabled": 0, "action": "AUTO_REPLY", "body": "Hi"}
    status, updated = await sim.call("PUT", f"{RULES}/1", changed)
    assert (status, updated["response_msg"]) == (200, "Your record has been updated.")
    assert updated["data"] == {
        "inbound_rule_id": 1,
        **ECHOED,
        "rule_name": "Renamed",
        "enabled": 0,
        "action": "AUTO_REPLY",
        "body": "Hi",
    }
    status, deleted = await sim.call("DELETE", f"{RULES}/1")
    assert (status, deleted["data"]) == (200, [])
    assert sim.state.inbound_rules == {}
    status, missing = await sim.call("GET", f"{RULES}/1")
    assert (status, missing["response_code"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"rule_name": None}, "MISSING_REQUIRED_FIELDS", "rule_name must not be empty."),
        ({"action": "TELEPATHY"}, "BAD_REQUEST", "action must be one of AUTO_REPLY, "),
        ({"message_search_type": 4}, "BAD_REQUEST", "message_search_type must be 0, 1, 2 or 3."),
        ({"message_search_type": "x"}, "BAD_REQUEST", "message_search_type must be an integer."),
        ({"message_search_term": ""}, "MISSING_REQUIRED_FIELDS", "message_search_term must not"),
        ({"webhook_type": "xml"}, "BAD_REQUEST", "webhook_type must be one of post, get, json."),
        ({"rule_name": 5}, "BAD_REQUEST", "rule_name must be a string"),
    ],
)
async def test_a_bad_rule_is_refused_with_the_field(sim, change, code, message):
    status, body = await sim.call("POST", RULES, CREATE | change)
    assert (status, body["response_code"]) == (400, code)
    assert body["response_msg"].startswith(message)
    assert sim.state.inbound_rules == {}


async def test_missing_fields_are_named_and_type_0_needs_no_term(sim):
    status, body = await sim.call("POST", RULES, {"rule_name": "x"})
    assert (status, body["response_code"]) == (400, "MISSING_REQUIRED_FIELDS")
    assert "dedicated_number" in body["response_msg"] and "enabled" in body["response_msg"]
    status, body = await sim.call(
        "POST", RULES, CREATE | {"message_search_type": 0, "message_search_term": None}
    )
    assert (status, body["data"]["message_search_term"]) == (200, None)
    status, body = await sim.call("POST", RULES, [1])
    assert (status, body["response_msg"]) == (400, "The request body must be a JSON object.")


async def test_templates_are_created_listed_updated_and_deleted(sim):
    status, created = await sim.call("POST", TEMPLATES, {"template_name": "Hi", "body": "Hello"})
    assert (status, created["response_msg"]) == (200, "New template has been saved.")
    assert created["data"] == {"template_id": 1, "body": "Hello", "template_name": "Hi"}
    await sim.call("POST", TEMPLATES, {"template_name": "Bye", "body": "See you"})
    status, listed = await sim.call("GET", TEMPLATES)
    reference = fixture("sms_templates_page.json")
    assert listed["response_msg"] == reference["response_msg"]
    assert set(listed["data"]["data"][0]) == set(reference["data"]["data"][0])
    assert [t["template_id"] for t in listed["data"]["data"]] == [2, 1]
    status, updated = await sim.call(
        "PUT", f"{TEMPLATES}/1", {"template_name": "Hey", "body": "Yo"}
    )
    assert (status, updated["response_msg"]) == (200, "Your template has been updated.")
    assert updated["data"] == {"template_id": 1, "body": "Yo", "template_name": "Hey"}
    status, deleted = await sim.call("DELETE", f"{TEMPLATES}/2")
    assert (status, deleted["response_msg"]) == (200, "Your template has been deleted.")
    assert list(sim.state.sms_templates) == [1]


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "message"),
    [
        ("POST", TEMPLATES, {"body": "x"}, 400, "Missing fields: template_name."),
        ("POST", TEMPLATES, {"template_name": "x", "body": ""}, 400, "body must not be empty."),
        ("PUT", TEMPLATES + "/9", {"template_name": "x", "body": "y"}, 404, "Template #9 was"),
        ("DELETE", TEMPLATES + "/abc", None, 404, "Template #abc was not found."),
        ("PUT", RULES + "/99999999999999999999", CREATE, 404, "Inbound rule #"),
    ],
)
async def test_bad_template_requests_and_unknown_ids(sim, method, path, payload, status, message):
    got, body = await sim.call(method, path, payload)
    assert got == status
    assert body["response_msg"].startswith(message)
