"""try_message: the workbench's dry run shows what the rules would do, writing and
sending nothing; and the bot settings it reads."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot import bot_settings
from bot.db import Base
from bot.models import OptOut, Role
from bot.rule_conditions import ConditionResult
from bot.rule_engine import RuleTrace, try_message
from inbox.auth import create_user
from tests.bot.rule_helpers import CUSTOMER, OURS, add_rule, text_in

MONDAY_10_UTC = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)


async def row_counts(sessionmaker) -> dict[str, int]:
    async with sessionmaker() as session:
        return {
            table.name: await session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }


async def dry_run(sessionmaker, body, sender=CUSTOMER, **kw):
    async with sessionmaker() as session:
        return await try_message(session, body=body, from_number=sender, our_number=OURS, **kw)


async def test_dry_run_shows_rules_in_order_and_writes_nothing(engine, sessionmaker):
    async with sessionmaker.begin() as session:
        await create_user(session, "sam@example.com", "password123", Role.AGENT)
        await bot_settings.save(session, {"business_name": "Acme"})
    vip = await add_rule(
        sessionmaker,
        "VIP",
        "first_word",
        ["price", "cost"],
        priority=1,
        conditions=[{"type": "in_list", "list": "VIP"}],
        actions=[{"type": "reply", "body": "VIP prices"}],
    )
    price = await add_rule(
        sessionmaker,
        "PRICE",
        "first_word",
        ["price", "cost"],
        priority=2,
        continue_matching=True,
        conditions=[{"type": "business_hours", "inside": True}],
        actions=[
            {
                "type": "reply",
                "body": "Hi {{ contact.first_name | default('there', true) }}, "
                "{{ business.name }} plans start at $10.",
            },
            {"type": "assign", "email": "sam@example.com"},
            {"type": "forward_url", "url": "https://hooks.example.com/x"},
        ],
    )
    all_ = await add_rule(
        sessionmaker, "ALL", "any", priority=3, actions=[{"type": "add_label", "label": "seen"}]
    )
    later = await add_rule(sessionmaker, "LATER", "contains", ["cost"], priority=4)
    before = await row_counts(sessionmaker)
    traces = await dry_run(sessionmaker, "Cost?", now=MONDAY_10_UTC)
    assert traces == [
        RuleTrace(vip, "VIP", "cost", [ConditionResult("contact in list VIP", False)], False),
        RuleTrace(
            price,
            "PRICE",
            "cost",
            [ConditionResult("inside business hours", True)],
            True,
            replies=["Hi there, Acme plans start at $10."],
            actions=[
                "rule PRICE replied",
                "assigned to sam@example.com by rule PRICE",
                "forward to https://hooks.example.com/x (post) queued by rule PRICE",
            ],
        ),
        RuleTrace(all_, "ALL", None, [], True, actions=["label seen added by rule ALL"]),
        RuleTrace(
            later,
            "LATER",
            "cost",
            [],
            False,
            errors=["not reached: rule ALL fired first and stops matching"],
        ),
    ]
    assert await row_counts(sessionmaker) == before


async def test_dry_run_reports_cooldown_and_cap(engine, sessionmaker):
    await add_rule(
        sessionmaker, "PRICE", "only_word", ["price"], actions=[{"type": "reply", "body": "$10"}]
    )
    await text_in(engine, sessionmaker, "price")
    (trace,) = await dry_run(sessionmaker, "price")
    assert trace.would_fire
    assert trace.replies == ["$10"]
    assert trace.actions == []
    assert trace.errors[0].startswith("rule PRICE did not reply: it replied to this number")
    async with sessionmaker.begin() as session:
        await bot_settings.save(session, {"bot_reply_cap_per_hour": 1})
    await add_rule(
        sessionmaker, "ECHO", "any", cooldown_s=0, actions=[{"type": "reply", "body": "echo"}]
    )
    traces = await dry_run(sessionmaker, "hello")
    assert [t.errors for t in traces] == [
        ["bot reply cap reached (1 per hour): replies paused, left for an agent"]
    ]


async def test_dry_run_counts_replies_of_earlier_rules_against_the_cap(sessionmaker):
    async with sessionmaker.begin() as session:
        await bot_settings.save(session, {"bot_reply_cap_per_hour": 1})
    for name in ("ONE", "TWO"):
        await add_rule(
            sessionmaker,
            name,
            "any",
            continue_matching=True,
            actions=[{"type": "reply", "body": name.lower()}],
        )
    first, second = await dry_run(sessionmaker, "hello")
    assert (first.actions, first.errors) == (["rule ONE replied"], [])
    assert second.actions == []
    assert second.errors == [
        "bot reply cap reached (1 per hour): replies paused, left for an agent"
    ]


async def test_dry_run_shows_render_errors(sessionmaker):
    await add_rule(sessionmaker, "BAD", "any", actions=[{"type": "reply", "body": "{{ 1 / 0 }}"}])
    (trace,) = await dry_run(sessionmaker, "hello")
    assert trace.replies == []
    (error,) = trace.errors
    assert error.startswith("rule BAD: reply not sent, the template failed:")
    assert "division by zero" in error


@pytest.mark.parametrize(
    ("body", "opted_out", "error"),
    [
        ("STOP", False, "rules do not run: the compliance step handles this message (opt_out)"),
        ("HELP", False, "rules do not run: the compliance step handles this message (help)"),
        ("hello", True, "rules do not run: this number has opted out"),
    ],
)
async def test_dry_run_says_when_rules_would_not_run(sessionmaker, body, opted_out, error):
    rule_id = await add_rule(sessionmaker, "ANY", "any")
    if opted_out:
        async with sessionmaker.begin() as session:
            session.add(OptOut(phone_number=CUSTOMER, our_number=""))
    assert await dry_run(sessionmaker, body) == [
        RuleTrace(rule_id, "ANY", None, [], False, errors=[error])
    ]


async def test_dry_run_with_no_matching_rule_is_empty(sessionmaker):
    await add_rule(sessionmaker, "PRICE", "only_word", ["price"])
    assert await dry_run(sessionmaker, "hello") == []


async def test_bot_settings_round_trip_and_validation(sessionmaker):
    hours = {"timezone": "Europe/Paris", "windows": {"mon": [["08:00", "12:00"]]}, "holidays": []}
    async with sessionmaker.begin() as session:
        saved = await bot_settings.save(
            session,
            {
                "business_hours": hours,
                "bot_reply_cap_per_hour": "7",
                "business_name": "  Acme   Ltd ",
            },
        )
    assert saved.to_json() == {
        "business_hours": {**hours, "holidays": []},
        "bot_reply_cap_per_hour": 7,
        "business_name": "Acme Ltd",
    }
    async with sessionmaker() as session:
        assert (await bot_settings.load(session)).to_json() == saved.to_json()


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        ({"bot_reply_cap_per_hour": "0"}, "bot_reply_cap_per_hour", "between 1 and 100"),
        ({"bot_reply_cap_per_hour": "many"}, "bot_reply_cap_per_hour", "not a whole number"),
        ({"bot_reply_cap_per_hour": 2.5}, "bot_reply_cap_per_hour", "not a whole number"),
        ({"bot_reply_cap_per_hour": True}, "bot_reply_cap_per_hour", "whole number"),
        ({"business_name": "x" * 61}, "business_name", "at most 60"),
        ({"business_name": 5}, "business_name", "must be text"),
        ({"business_hours": "{"}, "business_hours", "not valid JSON"),
        ({"business_hours": {"timezone": "Nowhere/Land"}}, "business_hours.timezone", "IANA"),
        (
            {"business_hours": {"windows": {"mon": [["9", "5"]]}}},
            "business_hours.windows.mon[0]",
            "'9' is not a time",
        ),
        ({"rules_version": "5"}, "rules_version", "is not a bot setting"),
    ],
)
async def test_bad_bot_settings_are_refused_naming_the_field(sessionmaker, data, field, problem):
    async with sessionmaker.begin() as session:
        with pytest.raises(bot_settings.InvalidSetting, match=problem) as caught:
            await bot_settings.save(session, data)
    assert caught.value.field == field


async def test_unreadable_stored_setting_falls_back_to_its_default(sessionmaker):
    from bot import appsettings

    async with sessionmaker.begin() as session:
        await appsettings.put(session, bot_settings.REPLY_CAP, "not json")
    async with sessionmaker() as session:
        assert (await bot_settings.load(session)).reply_cap_per_hour == 5


async def test_rules_version_bumps(sessionmaker):
    async with sessionmaker.begin() as session:
        assert await bot_settings.rules_version(session) == 0
        assert await bot_settings.bump_rules_version(session) == 1
        assert await bot_settings.bump_rules_version(session) == 2
    async with sessionmaker() as session:
        assert await bot_settings.rules_version(session) == 2
