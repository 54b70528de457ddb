"""/api/v1/rules, /rules/test and /templates: ClickSend shapes, 400s naming the
field, 404s, auth, and a dry run that sends nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.models import Message, Rule
from tests.inbox.api.conftest import api_delete, api_put

CLICKSEND_RULE = {
    "dedicated_number": "*",
    "rule_name": "Prices",
    "message_search_type": 1,
    "message_search_term": "price",
    "action": "AUTO_REPLY",
    "action_address": "",
    "body": "Hi {{ contact.first_name | default('there', true) }}, from $5.",
    "enabled": 1,
}


async def test_a_clicksend_rule_is_created_read_listed_updated_and_deleted(api):
    status, answer = await api.post("/rules", CLICKSEND_RULE)
    assert status == 200, answer
    assert answer["response_msg"] == "Your record has been added."
    rule = answer["data"]
    assert {k: rule[k] for k in CLICKSEND_RULE} == CLICKSEND_RULE
    assert rule["match_type"] == "starts_with"
    assert rule["actions"] == [{"type": "reply", "body": CLICKSEND_RULE["body"]}]
    assert (rule["priority"], rule["hit_count"], rule["last_hit_at"], rule["warnings"]) == (
        10,
        0,
        None,
        [],
    )
    rule_id = rule["inbound_rule_id"]

    status, answer = await api.get(f"/rules/{rule_id}")
    assert (status, answer["response_msg"]) == (200, "Your inbound rule.")
    assert answer["data"]["rule_name"] == "Prices"

    status, answer = await api_put(api, f"/rules/{rule_id}", {"enabled": 0, "terms": ["cost"]})
    assert (status, answer["response_msg"]) == (200, "Your record has been updated.")
    assert (answer["data"]["enabled"], answer["data"]["message_search_term"]) == (0, "cost")
    assert answer["data"]["body"] == CLICKSEND_RULE["body"]

    status, answer = await api.get("/rules")
    assert answer["response_msg"] == "Your list of inbound rules."
    assert [r["inbound_rule_id"] for r in answer["data"]["data"]] == [rule_id]

    status, answer = await api_delete(api, f"/rules/{rule_id}")
    assert (status, answer["data"], answer["response_msg"]) == (
        200,
        [],
        "Your record has been deleted.",
    )
    assert (await api.get(f"/rules/{rule_id}"))[0] == 404


async def test_rules_are_listed_in_priority_order_and_searchable(api):
    for name, priority in (("Late", 50), ("Early", 5), ("Middle", 20)):
        await api.post("/rules", {"rule_name": name, "match_type": "any", "priority": priority})
    _, answer = await api.get("/rules")
    assert [r["rule_name"] for r in answer["data"]["data"]] == ["Early", "Middle", "Late"]
    _, answer = await api.get("/rules", {"q": "rule_name:mid"})
    assert [r["rule_name"] for r in answer["data"]["data"]] == ["Middle"]
    status, answer = await api.get("/rules", {"order_by": "colour:asc"})
    assert status == 400 and answer["response_msg"].startswith("order_by: unknown field")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({**CLICKSEND_RULE, "rule_name": ""}, "rule_name: must be 1 to 100 characters"),
        (
            {**CLICKSEND_RULE, "action": "FAX"},
            "action: 'FAX' is not a ClickSend action; use one of:",
        ),
        (
            {**CLICKSEND_RULE, "message_search_type": 7},
            "message_search_type: a ClickSend search type must be 0, 1, 2 or 3",
        ),
        (
            {**CLICKSEND_RULE, "message_search_term": ""},
            "message_search_term: a 'starts with' rule needs at least one term",
        ),
        (
            {**CLICKSEND_RULE, "dedicated_number": "abc"},
            "dedicated_number: 'abc' is not a phone number",
        ),
        (
            {**CLICKSEND_RULE, "body": "Hi {{ name"},
            "body: line 1, column 11: unexpected end of template",
        ),
        (
            {**CLICKSEND_RULE, "body": "{{ ''.__class__.__mro__ }}"},
            "body: line 1: '__mro__' is not available in message templates",
        ),
        (
            {**CLICKSEND_RULE, "action": "URL", "action_address": "javascript:alert(1)"},
            "action_address: must be an http(s) URL",
        ),
        ({**CLICKSEND_RULE, "enabled": "yes"}, "enabled: must be true or false"),
        ({**CLICKSEND_RULE, "priority": "high"}, "priority: must be a whole number"),
        ({**CLICKSEND_RULE, "cooldown_s": -1}, "cooldown_s: must be a whole number from 0"),
        (
            {**CLICKSEND_RULE, "actions": [{"type": "forward_url", "url": "x"}]},
            "actions[0].url: must be an http(s) URL",
        ),
        (
            {"rule_name": "x", "match_type": 0, "actions": [{"type": "reply", "template_id": 99}]},
            "actions[0].template_id: no template 99",
        ),
        (
            {**CLICKSEND_RULE, "match_type": "first_word"},
            "message_search_type: does not agree with match_type; send one or the other",
        ),
        ({**CLICKSEND_RULE, "conditions": "vip"}, "conditions: must be a list of objects"),
        ({**CLICKSEND_RULE, "colour": "red"}, "colour: is not a field of a rule"),
        ({"message_search_type": 0}, "rule_name: is required"),
        ({**CLICKSEND_RULE, "rule_name": "bad \ud800"}, "rule_name: must be valid Unicode text"),
        ({**CLICKSEND_RULE, "body": "\ud800"}, "body: must be valid Unicode text"),
        (
            {**CLICKSEND_RULE, "conditions": [{"type": "in_list", "list": "VIP\udfff"}]},
            "conditions[0].list: must be valid Unicode text",
        ),
        (
            {**CLICKSEND_RULE, "body": "{{ " + "-" * 1500 + "1 }}"},
            "body: the template nests brackets or operators too deeply",
        ),
    ],
)
async def test_bad_rules_are_refused_naming_the_field(api, sessionmaker, payload, message):
    status, answer = await api.post("/rules", payload)
    assert status == 400, answer
    assert answer["response_code"] == "BAD_REQUEST"
    assert answer["response_msg"].startswith(message), answer["response_msg"]
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Rule)) == 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "request body: is not valid JSON"),
        (b"[1, 2]", "request body: must be a JSON object"),
    ],
)
async def test_bodies_that_are_not_a_json_object_are_refused(api, raw, message):
    headers = {**api.auth_headers, "Content-Type": "application/json"}
    for method in ("post", "put"):
        path = "/api/v1/rules" if method == "post" else "/api/v1/rules/1"
        response = await getattr(api.client, method)(path, data=raw, headers=headers)
        answer = await response.json()
        assert (response.status, answer["response_msg"]) == (400, message)


async def test_updates_with_lone_surrogates_are_refused_and_change_nothing(api):
    _, answer = await api.post("/rules", CLICKSEND_RULE)
    rule_id = answer["data"]["inbound_rule_id"]
    _, answer = await api.post("/templates", {"template_name": "T", "body": "b"})
    template_id = answer["data"]["template_id"]
    for path, payload, field in (
        (f"/rules/{rule_id}", {"rule_name": "\ud800"}, "rule_name"),
        (f"/templates/{template_id}", {"template_name": "T", "body": "\ud800"}, "body"),
    ):
        status, answer = await api_put(api, path, payload)
        assert (status, answer["response_msg"]) == (400, f"{field}: must be valid Unicode text")
    assert (await api.get(f"/rules/{rule_id}"))[1]["data"]["rule_name"] == "Prices"
    assert (await api.get(f"/templates/{template_id}"))[1]["data"]["body"] == "b"


async def test_unknown_ids_are_404_and_credentials_are_required(api):
    for call in (
        api.get("/rules/77"),
        api_put(api, "/rules/77", {"enabled": 1}),
        api_delete(api, "/rules/77"),
        api.get("/templates/77"),
        api_delete(api, "/templates/77"),
    ):
        status, answer = await call
        assert (status, answer["response_code"]) == (404, "NOT_FOUND")
    assert (await api.get("/rules/99999999999999"))[0] == 404
    for path in ("/rules", "/templates"):
        assert (await api.get(path, headers={}))[0] == 401
        assert (await api.post(path, {}, headers={}))[0] == 401
    assert (await api.post("/rules/test", {"body": "x", "from": "+1"}, headers={}))[0] == 401


async def test_a_conflict_is_returned_as_a_warning(api):
    await api.post("/rules", {"rule_name": "Catch all", "match_type": "any"})
    status, answer = await api.post("/rules", {**CLICKSEND_RULE})
    assert status == 200
    assert len(answer["data"]["warnings"]) == 1
    assert "“Catch all”" in answer["data"]["warnings"][0]


async def test_the_dry_run_lists_matching_rules_with_rendered_replies_and_sends_nothing(
    api, sessionmaker, seed
):
    await seed.conversation("+14155550101", first_name="Ava")
    await api.post("/rules", CLICKSEND_RULE)
    await api.post(
        "/rules",
        {
            "rule_name": "Label",
            "match_type": "contains",
            "terms": ["price"],
            "actions": [{"type": "add_label", "label": "sales"}],
            "priority": 1,
            "continue_matching": True,
        },
    )
    status, answer = await api.post("/rules/test", {"body": "Price?", "from": "(415) 555-0101"})
    assert status == 200, answer
    assert [t["rule_name"] for t in answer["data"]] == ["Label", "Prices"]
    assert [t["would_fire"] for t in answer["data"]] == [True, True]
    assert answer["data"][1]["replies"] == ["Hi Ava, from $5."]
    assert answer["data"][1]["matched_term"] == "price"
    _, none = await api.post("/rules/test", {"body": "hello", "from": "+14155550101"})
    assert none["data"] == []
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0
        hits = await session.scalars(select(Rule.hit_count))
        assert set(hits) == {0}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"from": "+14155550101"}, "body: is required"),
        ({"body": "  ", "from": "+14155550101"}, "body: is empty"),
        ({"body": "hi"}, "from: is required"),
        ({"body": "hi", "from": 14155550101}, "from: must be a string"),
        ({"body": "hi", "from": "nope"}, "from: 'nope' is not a phone number"),
        ({"body": "hi", "from": "+14155550101", "to": "12"}, "to: '12' has the wrong length"),
    ],
)
async def test_bad_dry_runs_are_refused(api, payload, message):
    status, answer = await api.post("/rules/test", payload)
    assert status == 400
    assert answer["response_msg"].startswith(message), answer["response_msg"]


# -- templates ------------------------------------------------------------------------


async def test_templates_in_the_clicksend_shape(api):
    status, answer = await api.post(
        "/templates", {"template_name": "Prices", "body": "Hi (First Name), from $5."}
    )
    assert (status, answer["response_msg"]) == (200, "New template has been saved.")
    template = answer["data"]
    assert template == {
        "template_id": template["template_id"],
        "template_name": "Prices",
        "body": "Hi (First Name), from $5.",
        "warnings": [],
    }
    template_id = template["template_id"]
    status, answer = await api_put(api, f"/templates/{template_id}", {"body": "{{ contact.nope }}"})
    assert (status, answer["response_msg"]) == (200, "Your template has been updated.")
    assert answer["data"]["template_name"] == "Prices"
    assert answer["data"]["warnings"] == [
        "body: line 1: unknown variable 'contact.nope' (it will render empty)"
    ]
    _, answer = await api.get("/templates")
    assert answer["data"]["data"] == [
        {"template_id": template_id, "template_name": "Prices", "body": "{{ contact.nope }}"}
    ]
    status, answer = await api.get(f"/templates/{template_id}")
    assert answer["data"]["body"] == "{{ contact.nope }}"


async def test_a_template_in_use_cannot_be_deleted(api):
    _, answer = await api.post("/templates", {"template_name": "Prices", "body": "From $5"})
    template_id = answer["data"]["template_id"]
    _, answer = await api.post(
        "/rules",
        {
            "rule_name": "PRICE",
            "match_type": "first_word",
            "terms": ["price"],
            "actions": [{"type": "reply", "template_id": template_id}],
        },
    )
    rule = answer["data"]
    assert (rule["action"], rule["body"]) == ("AUTO_REPLY", "From $5")
    status, answer = await api_delete(api, f"/templates/{template_id}")
    assert (status, answer["response_msg"]) == (
        400,
        "template_id: is used by rule 'PRICE'; change the rule first",
    )
    await api_delete(api, f"/rules/{rule['inbound_rule_id']}")
    status, answer = await api_delete(api, f"/templates/{template_id}")
    assert (status, answer["response_msg"]) == (200, "Your template has been deleted.")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"body": "x"}, "template_name: is required"),
        ({"template_name": "x"}, "body: is required"),
        ({"template_name": 5, "body": "x"}, "template_name: must be a string"),
        ({"template_name": "x", "body": ""}, "body: must not be empty"),
        ({"template_name": "x", "body": "y" * 1601}, "body: must be at most 1600 characters"),
        ({"template_name": "x", "body": "{% if %}"}, "body: line 1, column"),
        ({"template_name": "x", "body": "{{ self.__init__ }}"}, "body: line 1: "),
        ({"template_name": "x", "body": "y", "id": 3}, "id: is not a field of a template"),
        ({"template_name": "\ud800", "body": "y"}, "template_name: must be valid Unicode text"),
        ({"template_name": "x", "body": "Hi \ud800"}, "body: must be valid Unicode text"),
        (
            {"template_name": "x", "body": "{{ " + "[" * 790 + "]" * 790 + " }}"},
            "body: the template nests brackets or operators too deeply",
        ),
    ],
)
async def test_bad_templates_are_refused_naming_the_field(api, payload, message):
    status, answer = await api.post("/templates", payload)
    assert status == 400
    assert answer["response_msg"].startswith(message), answer["response_msg"]


async def test_template_names_are_unique(api):
    await api.post("/templates", {"template_name": "Prices", "body": "a"})
    status, answer = await api.post("/templates", {"template_name": " Prices ", "body": "b"})
    assert (status, answer["response_msg"]) == (
        400,
        "template_name: a template named 'Prices' already exists",
    )
