"""Rule invariants and service functions: every bad input gets its message, and
every change bumps the rules version in the same transaction."""

from __future__ import annotations

import pytest

from bot import bot_settings, rules
from bot.contacts import NotFound
from bot.models import MessageTemplate, Role
from bot.rules import InvalidRule, parse_rule
from inbox.auth import create_user

BASE = {"name": "PRICE", "match_type": "first_word", "terms": ["price"]}


def errors_of(**changes) -> dict[str, str]:
    with pytest.raises(InvalidRule) as caught:
        parse_rule({**BASE, **changes})
    return caught.value.errors


# -- parse_rule: the table of refusals ------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "path", "problem"),
    [
        ({"name": None}, "name", "is required"),
        ({"name": "   "}, "name", "must be 1 to 100 characters"),
        ({"name": "x" * 101}, "name", "must be 1 to 100 characters"),
        ({"name": 7}, "name", "must be a string"),
        ({"priority": "first"}, "priority", "must be a whole number from -1000000 to 1000000"),
        ({"priority": 10**7}, "priority", "must be a whole number from -1000000 to 1000000"),
        ({"priority": True}, "priority", "must be a whole number from -1000000 to 1000000"),
        ({"enabled": "maybe"}, "enabled", "must be true or false (or 1 / 0)"),
        ({"continue_matching": 2}, "continue_matching", "must be true or false (or 1 / 0)"),
        ({"cooldown_s": -1}, "cooldown_s", "must be a whole number from 0 to 2592000"),
        ({"cooldown_s": 1.5}, "cooldown_s", "must be a whole number from 0 to 2592000"),
        ({"numbers": "+15550001111"}, "numbers", "must be '*' or a list of phone numbers"),
        ({"numbers": [15550001111]}, "numbers[0]", "must be a string"),
        (
            {"numbers": ["*nope*"]},
            "numbers[0]",
            "'*nope*' is not a phone number "
            "(The string supplied did not seem to be a phone number.)",
        ),
        ({"match_type": None}, "match_type", "is required"),
        ({"match_type": 4}, "match_type", "a ClickSend search type must be 0, 1, 2 or 3"),
        (
            {"match_type": "fuzzy"},
            "match_type",
            "must be one of: any, starts_with, contains, not_contains, only_word, first_word, "
            "regex (or 0 to 3)",
        ),
        ({"terms": "price"}, "terms", "must be a list of keywords"),
        ({"terms": [3]}, "terms[0]", "must be a string"),
        ({"terms": []}, "terms", "a 'first word' rule needs at least one term"),
        ({"match_type": "any"}, "terms", "an 'any message' rule takes no terms"),
        (
            {"match_type": "regex", "terms": ["(unclosed"]},
            "terms",
            "regex '(unclosed' does not compile: missing ), unterminated subpattern at position 0",
        ),
        (
            {"terms": ["?!"]},
            "terms",
            "term '?!' has no letters or digits (punctuation and emoji are ignored)",
        ),
        ({"colour": "red"}, "colour", "is not a field of a rule"),
        ({"conditions": {}}, "conditions", "must be a list of objects"),
        ({"conditions": ["vip"]}, "conditions[0]", "must be an object with a type"),
        (
            {"conditions": [{"type": "weather"}]},
            "conditions[0].type",
            "'weather' is not a known type; use one of: business_hours, in_list, not_in_list, "
            "has_tag, conversation_status, first_message",
        ),
        (
            {"conditions": [{"type": "business_hours"}]},
            "conditions[0].inside",
            "is required (true or false)",
        ),
        (
            {"conditions": [{"type": "business_hours", "inside": "yes"}]},
            "conditions[0].inside",
            "must be true or false",
        ),
        ({"conditions": [{"type": "in_list"}]}, "conditions[0].list", "is required"),
        (
            {"conditions": [{"type": "has_tag", "tag": ""}]},
            "conditions[0].tag",
            "must not be empty",
        ),
        (
            {"conditions": [{"type": "conversation_status", "status": "snoozed"}]},
            "conditions[0].status",
            "must be one of: open, closed",
        ),
        (
            {"conditions": [{"type": "first_message", "ever": True}]},
            "conditions[0].ever",
            "is not a field of a first_message entry",
        ),
        ({"conditions": [{"type": "first_message"}] * 21}, "conditions", "at most 20 entries"),
        (
            {"actions": [{"type": "teleport"}]},
            "actions[0].type",
            "'teleport' is not a known type; use one of: reply, add_label, remove_label, "
            "assign, add_to_list, remove_from_list, set_field, contact_from_message, close, "
            "reopen, forward_url, forward_sms, forward_email",
        ),
        ({"actions": [{"type": "reply"}]}, "actions[0]", "give either template_id or body"),
        (
            {"actions": [{"type": "reply", "body": "x", "template_id": 1}]},
            "actions[0]",
            "give either template_id or body",
        ),
        (
            {"actions": [{"type": "reply", "template_id": 0}]},
            "actions[0].template_id",
            "must be a positive whole number",
        ),
        (
            {"actions": [{"type": "reply", "body": "   "}]},
            "actions[0].body",
            "must be a non-empty string",
        ),
        (
            {"actions": [{"type": "reply", "body": "x" * 1601}]},
            "actions[0].body",
            "must be at most 1600 characters",
        ),
        (
            {"actions": [{"type": "close"}, {"type": "reply", "body": "Hi {{ contact.first_name"}]},
            "actions[1].body",
            "line 1, column 25: unexpected end of template, expected 'end of print statement'.",
        ),
        (
            {"actions": [{"type": "add_label", "label": "x" * 51}]},
            "actions[0].label",
            "must be at most 50 characters",
        ),
        (
            {"actions": [{"type": "assign", "email": "sam"}]},
            "actions[0].email",
            "'sam' is not an email address",
        ),
        (
            {"actions": [{"type": "add_to_list", "list": "a\nb"}]},
            "actions[0].list",
            "must not contain control characters",
        ),
        (
            {"actions": [{"type": "set_field", "field": "shoe size", "value": "9"}]},
            "actions[0].field",
            "must be one of first_name, last_name, email, custom_1, custom_2, custom_3, "
            "custom_4 or a custom field name",
        ),
        (
            {"actions": [{"type": "set_field", "field": "custom_1"}]},
            "actions[0]",
            "give either value or regex (with group)",
        ),
        (
            {"actions": [{"type": "set_field", "field": "custom_1", "regex": "order ("}]},
            "actions[0].regex",
            "is not a valid regular expression (missing ), unterminated subpattern at position 6)",
        ),
        (
            {
                "actions": [
                    {"type": "set_field", "field": "custom_1", "regex": "order (\\d+)", "group": 2}
                ]
            },
            "actions[0].group",
            "must be a group of the regex (0 to 1 or a name)",
        ),
        (
            {"actions": [{"type": "contact_from_message", "field": "phone"}]},
            "actions[0].field",
            "must be one of: name, email",
        ),
        (
            {"actions": [{"type": "forward_url", "url": "ftp://example.com/x"}]},
            "actions[0].url",
            "must be an http(s) URL",
        ),
        (
            {"actions": [{"type": "forward_url", "url": "https://"}]},
            "actions[0].url",
            "must be an http(s) URL",
        ),
        (
            {"actions": [{"type": "forward_url", "url": "https://example.com", "method": "put"}]},
            "actions[0].method",
            "must be one of: post, get, json",
        ),
        (
            {"actions": [{"type": "forward_sms", "to": "12"}]},
            "actions[0].to",
            "'12' has the wrong length for a phone number",
        ),
        (
            {"actions": [{"type": "forward_email", "to": "ops@"}]},
            "actions[0].to",
            "'ops@' is not an email address",
        ),
    ],
)
def test_a_bad_field_is_refused_with_its_path_and_problem(changes, path, problem):
    assert errors_of(**changes) == {path: problem}


def test_sandbox_escape_in_a_reply_is_refused():
    body = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    errors = errors_of(actions=[{"type": "reply", "body": body}])
    assert errors == {
        "actions[0].body": "line 1: '__subclasses__' is not available in message templates"
    }


def test_every_bad_field_is_reported_at_once():
    errors = errors_of(name="", cooldown_s=-5, actions=[{"type": "close", "x": 1}])
    assert set(errors) == {"name", "cooldown_s", "actions[0].x"}


def test_a_valid_rule_is_normalised():
    draft = parse_rule(
        {
            "name": "  Price   list ",
            "match_type": 1,
            "terms": [" price ", "price", "cost"],
            "numbers": ["(415) 555-0101", "+14155550101"],
            "enabled": 0,
            "continue_matching": "1",
            "cooldown_s": "60",
            "priority": "-5",
            "conditions": [{"type": "has_tag", "tag": "VIP"}],
            "actions": [
                {"type": "reply", "body": "Hi {{ contact.first_name | default('there', true) }}"},
                {"type": "assign", "email": "Sam@Example.com"},
                {"type": "forward_sms", "to": "415 555 0199"},
                {"type": "forward_url", "url": "https://example.com/hook"},
                {"type": "set_field", "field": "custom_1", "regex": "order (\\d+)"},
            ],
        }
    )
    assert draft == rules.RuleDraft(
        name="Price list",
        match_type="starts_with",
        terms=("price", "cost"),
        enabled=False,
        priority=-5,
        numbers=("+14155550101",),
        conditions=({"type": "has_tag", "tag": "vip"},),
        actions=(
            {"type": "reply", "body": "Hi {{ contact.first_name | default('there', true) }}"},
            {"type": "assign", "email": "sam@example.com"},
            {"type": "forward_sms", "to": "+14155550199"},
            {"type": "forward_url", "url": "https://example.com/hook", "method": "post"},
            {"type": "set_field", "field": "custom_1", "regex": "order (\\d+)", "group": 1},
        ),
        continue_matching=True,
        cooldown_s=60,
    )


def test_an_unknown_template_variable_is_a_warning_not_an_error():
    draft = parse_rule({**BASE, "actions": [{"type": "reply", "body": "Hi {{ contact.nmae }}"}]})
    assert draft.warnings == (
        "actions[0].body: line 1: unknown variable 'contact.nmae' (it will render empty)",
    )


def test_star_means_every_number():
    assert parse_rule({**BASE, "numbers": "*"}).numbers == ()
    assert parse_rule({**BASE, "numbers": ["+14155550101", "*"]}).numbers == ()


# -- service functions ----------------------------------------------------------------


async def create(sessionmaker, **fields) -> int:
    async with sessionmaker.begin() as session:
        saved = await rules.create_rule(session, parse_rule({**BASE, **fields}))
        return saved.rule.id


async def order(sessionmaker) -> list[tuple[str, int]]:
    async with sessionmaker() as session:
        return [(rule.name, rule.priority) for rule in await rules.list_rules(session)]


async def version(sessionmaker) -> int:
    async with sessionmaker() as session:
        return await bot_settings.rules_version(session)


async def test_new_rules_run_in_creation_order_and_each_change_bumps_the_version(sessionmaker):
    assert await version(sessionmaker) == 0
    await create(sessionmaker, name="A", terms=["a"])
    b = await create(sessionmaker, name="B", terms=["b"])
    await create(sessionmaker, name="C", terms=["c"])
    assert await order(sessionmaker) == [("A", 10), ("B", 20), ("C", 30)]
    assert await version(sessionmaker) == 3
    async with sessionmaker.begin() as session:
        await rules.move_rule(session, b, -1)
    assert await order(sessionmaker) == [("B", 10), ("A", 20), ("C", 30)]
    async with sessionmaker.begin() as session:
        await rules.set_enabled(session, b, False)
    async with sessionmaker.begin() as session:
        await rules.update_rule(session, b, parse_rule({**BASE, "name": "B2", "priority": 99}))
    assert await order(sessionmaker) == [("A", 20), ("C", 30), ("B2", 99)]
    async with sessionmaker.begin() as session:
        await rules.delete_rule(session, b)
    assert await order(sessionmaker) == [("A", 20), ("C", 30)]
    assert await version(sessionmaker) == 7


async def test_moving_between_equal_priorities_renumbers_in_the_new_order(sessionmaker):
    for name in ("A", "B", "C"):
        await create(sessionmaker, name=name, terms=[name.lower()], priority=5)
    async with sessionmaker() as session:
        last = (await rules.list_rules(session))[-1].id
    async with sessionmaker.begin() as session:
        await rules.move_rule(session, last, -1)
    assert await order(sessionmaker) == [("A", 10), ("C", 20), ("B", 30)]


async def test_moving_the_first_rule_up_changes_nothing(sessionmaker):
    first = await create(sessionmaker, name="A", terms=["a"])
    before = await version(sessionmaker)
    async with sessionmaker.begin() as session:
        await rules.move_rule(session, first, -1)
    assert await order(sessionmaker) == [("A", 10)]
    assert await version(sessionmaker) == before


async def test_a_failed_change_leaves_the_version_alone(sessionmaker):
    with pytest.raises(InvalidRule):
        async with sessionmaker.begin() as session:
            draft = parse_rule({**BASE, "actions": [{"type": "reply", "template_id": 42}]})
            await rules.create_rule(session, draft)
    assert await version(sessionmaker) == 0
    assert await order(sessionmaker) == []


async def test_unknown_rules_are_not_found(sessionmaker):
    async with sessionmaker.begin() as session:
        for call in (
            rules.get_rule(session, 404),
            rules.delete_rule(session, 404),
            rules.set_enabled(session, 404, True),
            rules.move_rule(session, 404, 1),
            rules.update_rule(session, 404, parse_rule(BASE)),
        ):
            with pytest.raises(NotFound, match="rule 404 does not exist"):
                await call


async def test_references_must_exist_and_missing_lists_are_warned_about(sessionmaker):
    draft = parse_rule(
        {
            **BASE,
            "conditions": [{"type": "in_list", "list": "VIP"}],
            "actions": [
                {"type": "reply", "template_id": 1},
                {"type": "assign", "email": "sam@example.com"},
            ],
        }
    )
    async with sessionmaker.begin() as session:
        with pytest.raises(InvalidRule) as caught:
            await rules.create_rule(session, draft)
    assert caught.value.errors == {
        "actions[0].template_id": "no template 1",
        "actions[1].email": "no user 'sam@example.com'",
    }
    async with sessionmaker.begin() as session:
        session.add(MessageTemplate(id=1, name="Prices", body="From $5"))
        await create_user(session, "sam@example.com", "correct horse battery", Role.AGENT)
    async with sessionmaker.begin() as session:
        saved = await rules.create_rule(session, draft)
    assert saved.warnings == ["conditions[0].list: no list 'VIP' yet"]


async def test_conflicts_are_warned_about_with_rule_names(sessionmaker):
    first = await create(sessionmaker, name="Prices", match_type="contains", terms=["price"])
    async with sessionmaker.begin() as session:
        saved = await rules.create_rule(session, parse_rule({**BASE, "name": "Price list"}))
    second = saved.rule.id
    assert saved.warnings == [
        f"rule {second} “Price list” (first word) only runs when rule {first} “Prices” "
        "(contains), which runs first and matches every message it matches, continues to "
        "the next rule or fails its conditions"
    ]
    async with sessionmaker.begin() as session:
        again = await rules.create_rule(session, parse_rule({**BASE, "name": "Dup"}))
        warnings = await rules.conflict_warnings(session, second)
    assert any("both match first word 'price'" in w for w in again.warnings)
    assert any(f"rule {again.rule.id} “Dup”" in w for w in warnings)
    async with sessionmaker.begin() as session:
        await rules.set_enabled(session, first, False)
        await rules.set_enabled(session, again.rule.id, False)
        assert await rules.conflict_warnings(session, second) == []


async def test_a_rule_that_continues_shadows_nothing(sessionmaker):
    await create(
        sessionmaker, name="Label", match_type="contains", terms=["price"], continue_matching=True
    )
    async with sessionmaker.begin() as session:
        saved = await rules.create_rule(session, parse_rule(BASE))
    assert saved.warnings == []


async def test_a_rule_with_conditions_lets_a_same_keyword_rule_act(sessionmaker):
    inside = {"type": "business_hours", "inside": True}
    await create(sessionmaker, name="Open", conditions=[inside])
    async with sessionmaker.begin() as session:
        saved = await rules.create_rule(session, parse_rule({**BASE, "name": "Closed"}))
    assert saved.warnings == []
    async with sessionmaker.begin() as session:
        again = await rules.create_rule(session, parse_rule({**BASE, "name": "Again"}))
    assert any("both match first word 'price'" in w for w in again.warnings)
