"""ClickSend's inbound rule shape ↔ our rules: every listed action maps, unknown
ones are refused, and a rule read back gives the same ClickSend fields."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from bot.rule_clicksend import (
    CLICKSEND_ACTIONS,
    InvalidClickSendRule,
    disagreements,
    from_request,
    to_item,
)
from bot.rules import draft_rule, parse_rule
from tests.conftest import FIXTURES

USER = "owner@example.com"


def mapped_actions(action: str, address: str = "", body=None, **extra) -> list[dict]:
    payload = {"action": action, "action_address": address, "body": body, **extra}
    return from_request(payload, {}, user_email=USER).fields["actions"]


@pytest.mark.parametrize(
    ("action", "address", "body", "expected"),
    [
        (
            "AUTO_REPLY",
            "",
            "Thanks (First Name)!",
            [{"type": "reply", "body": "Thanks (First Name)!"}],
        ),
        ("EMAIL_USER", "", None, [{"type": "forward_email", "to": USER}]),
        (
            "EMAIL_FIXED",
            "ops@example.com",
            None,
            [{"type": "forward_email", "to": "ops@example.com"}],
        ),
        (
            "URL",
            "https://example.com/in",
            None,
            [{"type": "forward_url", "url": "https://example.com/in", "method": "post"}],
        ),
        ("SMS", "+61411111112", None, [{"type": "forward_sms", "to": "+61411111112"}]),
        (
            "GROUP_SMS",
            "+61411111112, +61411111113",
            None,
            [
                {"type": "forward_sms", "to": "+61411111112"},
                {"type": "forward_sms", "to": "+61411111113"},
            ],
        ),
        ("POLL", "", None, []),
        ("NONE", "", None, []),
        ("SMPP", "", None, []),
        ("MOVE_CONTACT", "430", None, [{"type": "add_to_list", "list": "430"}]),
        ("CREATE_CONTACT", "430", None, [{"type": "add_to_list", "list": "430"}]),
        (
            "CREATE_CONTACT_PLUS_NAME",
            "430",
            None,
            [
                {"type": "contact_from_message", "field": "name"},
                {"type": "add_to_list", "list": "430"},
            ],
        ),
        (
            "CREATE_CONTACT_PLUS_EMAIL",
            "430",
            None,
            [
                {"type": "contact_from_message", "field": "email"},
                {"type": "add_to_list", "list": "430"},
            ],
        ),
        (
            "CREATE_CONTACT_PLUS_NAME_EMAIL",
            "",
            None,
            [
                {"type": "contact_from_message", "field": "name"},
                {"type": "contact_from_message", "field": "email"},
            ],
        ),
    ],
)
def test_every_clicksend_action_maps_to_ours(action, address, body, expected):
    assert mapped_actions(action, address, body) == expected


def test_the_table_covers_every_action_the_reference_lists():
    reference = (
        "AUTO_REPLY, EMAIL_USER, EMAIL_FIXED, URL, SMS, POLL, GROUP_SMS, MOVE_CONTACT, "
        "CREATE_CONTACT, CREATE_CONTACT_PLUS_EMAIL, CREATE_CONTACT_PLUS_NAME_EMAIL, "
        "CREATE_CONTACT_PLUS_NAME, SMPP, NONE"
    )
    assert set(CLICKSEND_ACTIONS) == set(reference.split(", "))


@pytest.mark.parametrize(
    ("payload", "field", "problem"),
    [
        (
            {"action": "FAX"},
            "action",
            "'FAX' is not a ClickSend action; use one of: " + ", ".join(CLICKSEND_ACTIONS),
        ),
        ({"action": 3}, "action", "use one of: " + ", ".join(CLICKSEND_ACTIONS)),
        ({"action": "AUTO_REPLY"}, "body", "is required for AUTO_REPLY: the reply text"),
        ({"action": "URL"}, "action_address", "is required for action URL"),
        (
            {"action": "URL", "action_address": "https://x.io", "webhook_type": "xml"},
            "webhook_type",
            "must be one of: post, get, json",
        ),
        ({"action_address": "x"}, "action_address", "needs action"),
        ({"message_search_term": 5}, "message_search_term", "must be a string"),
        ({"dedicated_number": 61411111111}, "dedicated_number", "must be '*' or a phone number"),
        ({"flavour": "x"}, "flavour", "is not a field of a rule"),
    ],
)
def test_unreadable_clicksend_fields_are_refused(payload, field, problem):
    with pytest.raises(InvalidClickSendRule) as caught:
        from_request(payload, {}, user_email=USER)
    assert (caught.value.field, caught.value.problem) == (field, problem)


def test_ignored_fields_are_warned_about():
    mapped = from_request(
        {"action": "SMPP", "body": "x", "webhook_type": "json"}, {}, user_email=USER
    )
    assert mapped.warnings == [
        "webhook_type: only used by action URL; ignored for SMPP",
        "action: SMPP delivery is not available; messages stay in the inbox "
        "(use URL to forward them)",
        "body: not used by action SMPP; ignored",
    ]


def item_of(payload: dict) -> dict:
    mapped = from_request(payload, {}, user_email=USER)
    rule = draft_rule(parse_rule(mapped.fields), rule_id=7)
    return to_item(rule, last_hit_at=None, templates={})


CLICKSEND_KEYS = (
    "dedicated_number",
    "rule_name",
    "message_search_type",
    "message_search_term",
    "action",
    "action_address",
    "enabled",
)


@pytest.mark.parametrize(
    "payload",
    [
        {
            "dedicated_number": "+61298441484",
            "rule_name": "My Rule",
            "message_search_type": 3,
            "message_search_term": "My Search Term",
            "action": "EMAIL_FIXED",
            "action_address": "john@doe.com",
            "enabled": 1,
        },
        {
            "dedicated_number": "*",
            "rule_name": "Prices",
            "message_search_type": 1,
            "message_search_term": "price",
            "action": "AUTO_REPLY",
            "action_address": "",
            "body": "From $5, (First Name)",
            "enabled": 0,
        },
        {
            "dedicated_number": "*",
            "rule_name": "Everything",
            "message_search_type": 0,
            "message_search_term": None,
            "action": "URL",
            "action_address": "https://example.com/in",
            "webhook_type": "json",
            "enabled": 1,
        },
        {
            "dedicated_number": "+61298441484",
            "rule_name": "Leads",
            "message_search_type": 2,
            "message_search_term": "join",
            "action": "CREATE_CONTACT_PLUS_NAME_EMAIL",
            "action_address": "430",
            "enabled": 1,
        },
        {
            "dedicated_number": "*",
            "rule_name": "Staff",
            "message_search_type": 2,
            "message_search_term": "urgent",
            "action": "GROUP_SMS",
            "action_address": "+61411111112,+61411111113",
            "enabled": 1,
        },
    ],
)
def test_a_clicksend_rule_reads_back_with_the_same_clicksend_fields(payload):
    item = item_of(payload)
    assert {k: item[k] for k in CLICKSEND_KEYS} == {k: payload[k] for k in CLICKSEND_KEYS}
    assert item.get("body") == payload.get("body")
    assert item["webhook_type"] == payload.get("webhook_type")
    assert item["inbound_rule_id"] == 7
    assert disagreements({**payload, **{k: item[k] for k in ("actions", "terms")}}, item) == []


def test_the_reference_fixture_rules_can_be_imported():
    page = json.loads((FIXTURES / "inbound_rules_page.json").read_text())
    for rule in page["data"]["data"]:
        item = item_of(rule)
        assert item["rule_name"] == rule["rule_name"]
        assert item["action"] == rule["action"]
        assert item["action_address"] == rule["action_address"]


def test_our_extensions_win_and_the_clicksend_view_names_the_first_expressible_action():
    payload = {
        "rule_name": "Hours",
        "match_type": "only_word",
        "terms": ["hours", "open"],
        "actions": [
            {"type": "add_label", "label": "hours"},
            {"type": "reply", "template_id": 3},
            {"type": "close"},
        ],
    }
    mapped = from_request(payload, {}, user_email=USER)
    rule = draft_rule(parse_rule(mapped.fields), rule_id=1)
    item = to_item(rule, last_hit_at=1700000000, templates={3: "Open 9 to 5"})
    assert {
        k: item[k] for k in ("message_search_type", "message_search_term", "action", "body")
    } == {
        "message_search_type": None,
        "message_search_term": "hours",
        "action": "AUTO_REPLY",
        "body": "Open 9 to 5",
    }
    assert item["terms"] == ["hours", "open"]
    assert item["last_hit_at"] == 1700000000


def test_clicksend_fields_that_contradict_the_extensions_are_found():
    payload = {
        "rule_name": "x",
        "match_type": "first_word",
        "terms": ["price"],
        "message_search_type": 2,
        "message_search_term": "price",
        "actions": [],
        "action": "NONE",
    }
    item = item_of({k: v for k, v in payload.items() if k not in ("message_search_type",)})
    assert disagreements(payload, item) == ["message_search_type"]


def test_an_update_keeps_what_the_request_leaves_out():
    base = {
        "name": "Prices",
        "match_type": "contains",
        "terms": ["price"],
        "priority": 5,
        "actions": [{"type": "close"}],
    }
    mapped = from_request({"message_search_type": 0}, base, user_email=USER)
    assert mapped.fields == {**base, "match_type": 0}
    mapped = from_request({"message_search_term": "cost"}, base, user_email=USER)
    assert mapped.fields["terms"] == ["cost"]
    assert parse_rule(mapped.fields).actions == ({"type": "close"},)


def test_errors_are_named_as_the_request_named_the_field():
    mapped = from_request(
        {"rule_name": "", "action": "URL", "action_address": "nope", "dedicated_number": "x"},
        {},
        user_email=USER,
    )
    names = {mapped.request_field(p) for p in ("name", "actions[0].url", "numbers[0]")}
    assert names == {"rule_name", "action_address", "dedicated_number"}
    assert mapped.request_field("conditions[0].list") == "conditions[0].list"


def test_a_template_reply_without_a_known_body_shows_none():
    rule = SimpleNamespace(
        id=1,
        name="x",
        enabled=True,
        priority=1,
        numbers=[],
        match_type="any",
        terms=[],
        conditions=[],
        actions=[{"type": "reply", "template_id": 9}],
        continue_matching=False,
        cooldown_s=300,
        hit_count=4,
    )
    item = to_item(rule, last_hit_at=None, templates={})
    assert (item["action"], item["body"], item["hit_count"]) == ("AUTO_REPLY", None, 4)
