"""The rule engine in the pipeline: order, priority and continue, the ten-rule limit,
hit counts, compliance first, loop and storm protection, render failures, the
compiled-matcher cache and triage."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text, update

from bot import bot_settings
from bot.db import utcnow
from bot.events import EventBus
from bot.jobs import PipelineWorker
from bot.matching import Matcher
from bot.models import (
    ConversationLabel,
    Message,
    MessagePurpose,
    MessageStatus,
    OptOut,
    RuleCooldown,
)
from bot.optout_keywords import DEFAULT_VOCABULARY
from bot.pipeline import Pending, handle_inbound, triage
from bot.rule_actions import ACTIONS
from tests.bot.rule_helpers import (
    CUSTOMER,
    OURS,
    add_rule,
    add_template,
    bot_replies,
    conversation,
    count,
    labels,
    rule_row,
    store,
    text_in,
    thread_events,
)


def reply(body: str) -> dict:
    return {"type": "reply", "body": body}


async def test_matching_rule_replies_and_counts_a_hit(engine, sessionmaker):
    rule_id = await add_rule(
        sessionmaker, "PRICE", "only_word", ["price"], actions=[reply("Plans start at $10.")]
    )
    conversation_id = await text_in(engine, sessionmaker, " Price?! ")
    assert await bot_replies(sessionmaker) == ["Plans start at $10."]
    assert await thread_events(sessionmaker, conversation_id) == ["rule PRICE replied"]
    rule = await rule_row(sessionmaker, rule_id)
    assert rule.hit_count == 1
    assert utcnow() - rule.last_hit_at < dt.timedelta(seconds=30)
    async with sessionmaker() as session:
        inbound = await session.scalar(select(Message).where(Message.direction == "in"))
    assert inbound.status is MessageStatus.HANDLED
    await text_in(engine, sessionmaker, "price list please")  # only word: no match
    assert (await rule_row(sessionmaker, rule_id)).hit_count == 1


RULES = {
    # name: (priority, terms, continue_matching)
    "A": (10, ["price"], False),
    "B": (20, ["price", "cost"], True),
    "C": (20, ["cost"], False),
    "D": (30, ["cost"], False),
}


@pytest.mark.parametrize(
    ("body", "fired"),
    [
        ("price", ["A"]),  # A and B match; A (priority 10) stops matching
        ("cost", ["B", "C"]),  # B continues, C stops before D
        ("hello", []),
    ],
)
async def test_priority_and_continue_matching(engine, sessionmaker, body, fired):
    for name, (priority, terms, go_on) in RULES.items():
        await add_rule(
            sessionmaker,
            name,
            "first_word",
            terms,
            priority=priority,
            continue_matching=go_on,
            actions=[{"type": "add_label", "label": f"rule-{name}"}],
        )
    conversation_id = await text_in(engine, sessionmaker, body)
    assert await labels(sessionmaker, conversation_id) == [f"rule-{n}" for n in fired]


async def test_ties_run_in_rule_id_order(engine, sessionmaker):
    second = await add_rule(
        sessionmaker, "SECOND", "contains", ["hi"], priority=5, continue_matching=True
    )
    first = await add_rule(sessionmaker, "FIRST", "contains", ["hi"], priority=1)
    assert first > second
    await text_in(engine, sessionmaker, "hi")
    assert (await rule_row(sessionmaker, first)).hit_count == 1
    assert (await rule_row(sessionmaker, second)).hit_count == 0


async def test_at_most_ten_rules_fire_per_message(engine, sessionmaker):
    ids = [
        await add_rule(
            sessionmaker,
            f"R{n:02d}",
            "any",
            priority=n,
            continue_matching=True,
            actions=[{"type": "add_label", "label": f"r{n:02d}"}],
        )
        for n in range(12)
    ]
    conversation_id = await text_in(engine, sessionmaker, "anything")
    assert await labels(sessionmaker, conversation_id) == [f"r{n:02d}" for n in range(10)]
    hits = [(await rule_row(sessionmaker, rule_id)).hit_count for rule_id in ids]
    assert hits == [1] * 10 + [0, 0]


async def test_failing_conditions_let_the_next_rule_run(engine, sessionmaker):
    await add_rule(
        sessionmaker,
        "VIP",
        "any",
        priority=1,
        conditions=[{"type": "in_list", "list": "VIP"}],
        actions=[reply("VIP line")],
    )
    await add_rule(sessionmaker, "EVERYONE", "any", priority=2, actions=[reply("Hello!")])
    await text_in(engine, sessionmaker, "hey")
    assert await bot_replies(sessionmaker) == ["Hello!"]


async def test_disabled_rules_and_other_numbers_do_not_fire(engine, sessionmaker):
    await add_rule(sessionmaker, "OFF", "any", enabled=False, actions=[reply("off")])
    await add_rule(sessionmaker, "ELSEWHERE", "any", numbers=["+61400000000"], actions=[reply("x")])
    await add_rule(sessionmaker, "HERE", "any", numbers=[OURS], actions=[reply("here")])
    await text_in(engine, sessionmaker, "hey")
    assert await bot_replies(sessionmaker) == ["here"]


async def test_opted_out_sender_never_triggers_rules(engine, sessionmaker):
    rule_id = await add_rule(sessionmaker, "ANY", "any", actions=[reply("Hi!")])
    async with sessionmaker.begin() as session:
        session.add(OptOut(phone_number=CUSTOMER, our_number=""))
    conversation_id = await text_in(engine, sessionmaker, "what are your prices")
    assert await bot_replies(sessionmaker) == []
    assert await thread_events(sessionmaker, conversation_id) == []
    assert (await rule_row(sessionmaker, rule_id)).hit_count == 0


@pytest.mark.parametrize("body", ["STOP", "help", "please stop texting me"])
async def test_compliance_keywords_never_trigger_rules(engine, sessionmaker, body):
    rule_id = await add_rule(sessionmaker, "ANY", "any", actions=[reply("Hi!")])
    await text_in(engine, sessionmaker, body)
    assert await bot_replies(sessionmaker) == []
    assert (await rule_row(sessionmaker, rule_id)).hit_count == 0


async def test_rules_never_fire_on_a_stop_even_when_the_keyword_matches(engine, sessionmaker):
    await add_rule(sessionmaker, "STOPWORD", "only_word", ["stop"], actions=[reply("Bye")])
    await text_in(engine, sessionmaker, "stop")
    assert await bot_replies(sessionmaker) == []


async def test_cooldown_skips_the_reply_but_runs_other_actions(engine, sessionmaker):
    rule_id = await add_rule(
        sessionmaker,
        "PRICE",
        "only_word",
        ["price"],
        actions=[reply("Plans start at $10."), {"type": "add_label", "label": "sales"}],
    )
    conversation_id = await text_in(engine, sessionmaker, "price")
    async with sessionmaker() as session:
        await session.execute(update(ConversationLabel).values(label="old"))
        await session.commit()
    await text_in(engine, sessionmaker, "price")
    assert await bot_replies(sessionmaker) == ["Plans start at $10."]
    assert await labels(sessionmaker, conversation_id) == ["old", "sales"]
    events = await thread_events(sessionmaker, conversation_id)
    assert events[2:] == [
        "rule PRICE did not reply: it replied to this number 0 s ago (cooldown 5 min)",
        "label sales added by rule PRICE",
    ]
    assert (await rule_row(sessionmaker, rule_id)).hit_count == 2
    # Once the cooldown has passed the rule replies again.
    async with sessionmaker.begin() as session:
        await session.execute(
            update(RuleCooldown).values(last_fired_at=utcnow() - dt.timedelta(seconds=301))
        )
    await text_in(engine, sessionmaker, "price")
    assert len(await bot_replies(sessionmaker)) == 2


async def test_cooldown_is_per_number(engine, sessionmaker):
    await add_rule(sessionmaker, "PRICE", "only_word", ["price"], actions=[reply("$10")])
    await text_in(engine, sessionmaker, "price")
    await text_in(engine, sessionmaker, "price", sender="+14155550102")
    assert await bot_replies(sessionmaker) == ["$10", "$10"]


async def test_storm_cap_stops_replies_and_flags_the_conversation_once(engine, sessionmaker):
    await add_rule(sessionmaker, "ECHO", "any", cooldown_s=0, actions=[reply("Got it")])
    for n in range(7):
        conversation_id = await text_in(engine, sessionmaker, f"message {n}")
    assert len(await bot_replies(sessionmaker)) == 5
    flagged = await conversation(sessionmaker, conversation_id)
    reason = "bot reply cap reached (5 per hour): replies paused, left for an agent"
    assert (flagged.needs_agent, flagged.needs_agent_reason) == (True, reason)
    events = await thread_events(sessionmaker, conversation_id)
    assert events == ["rule ECHO replied"] * 5 + [reason]


async def test_storm_cap_follows_the_setting_and_counts_only_the_last_hour(engine, sessionmaker):
    async with sessionmaker.begin() as session:
        await bot_settings.save(session, {"bot_reply_cap_per_hour": "2"})
    await add_rule(sessionmaker, "ECHO", "any", cooldown_s=0, actions=[reply("Got it")])
    for _ in range(3):
        await text_in(engine, sessionmaker, "hello")
    assert len(await bot_replies(sessionmaker)) == 2
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Message)
            .where(Message.purpose == MessagePurpose.BOT_REPLY)
            .values(created_at=utcnow() - dt.timedelta(minutes=61))
        )
    await text_in(engine, sessionmaker, "hello")
    assert len(await bot_replies(sessionmaker)) == 3


async def test_two_bots_answering_each_other_stop_at_the_cap(engine, sessionmaker):
    """Our rule answers everything at once (no cooldown) and so does their bot: the
    exchange stops after five replies in the hour and waits for a person."""
    await add_rule(
        sessionmaker, "AUTO", "any", cooldown_s=0, actions=[reply("Thanks! We'll be in touch.")]
    )
    their_reply = "This is an automated message. Your text was received."
    conversation_id = await text_in(engine, sessionmaker, "Hello from their bot")
    answered = 0
    for _ in range(20):  # their bot answers each new reply of ours, and only those
        ours = len(await bot_replies(sessionmaker, conversation_id))
        if ours == answered:
            break
        answered = ours
        await text_in(engine, sessionmaker, their_reply)
    else:
        raise AssertionError("the bots never stopped")
    assert answered == 5
    assert (await conversation(sessionmaker, conversation_id)).needs_agent
    unhandled = await count(
        sessionmaker, Message, Message.direction == "in", Message.status != MessageStatus.HANDLED
    )
    assert unhandled == 0


async def test_default_cooldown_alone_stops_a_ping_pong(engine, sessionmaker):
    await add_rule(sessionmaker, "AUTO", "any", actions=[reply("Thanks!")])
    for _ in range(5):
        await text_in(engine, sessionmaker, "Automated: message received")
    assert await bot_replies(sessionmaker) == ["Thanks!"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("Hi {{ contact.__class__.__mro__ }}", "refused by the sandbox"),
        ("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}", ""),
        ("{{ 'x' * 5000 }}", ""),
        ("{{ 1 / 0 }}", "division by zero"),
    ],
)
async def test_failed_render_sends_nothing_and_leaves_it_for_an_agent(
    engine, sessionmaker, body, error
):
    await add_rule(
        sessionmaker,
        "BROKEN",
        "any",
        actions=[{"type": "reply", "body": body}, {"type": "add_label", "label": "seen"}],
    )
    conversation_id = await text_in(engine, sessionmaker, "hello")
    assert await bot_replies(sessionmaker) == []
    assert await count(sessionmaker, Message, Message.direction == "out") == 0
    flagged = await conversation(sessionmaker, conversation_id)
    assert flagged.needs_agent
    assert flagged.needs_agent_reason.startswith(
        "rule BROKEN: reply not sent, the template failed: "
    )
    assert error in flagged.needs_agent_reason
    events = await thread_events(sessionmaker, conversation_id)
    assert events == [flagged.needs_agent_reason, "label seen added by rule BROKEN"]
    assert await labels(sessionmaker, conversation_id) == ["seen"]


async def test_reply_from_a_stored_template_with_fallbacks(engine, sessionmaker):
    template_id = await add_template(
        sessionmaker,
        "welcome",
        "Hi {{ contact.first_name | default('there', true) }}, (Custom 1) from {{ business.name }}",
    )
    async with sessionmaker.begin() as session:
        await bot_settings.save(session, {"business_name": "Acme"})
    await add_rule(
        sessionmaker,
        "HI",
        "first_word",
        ["hi"],
        actions=[{"type": "reply", "template_id": template_id}],
    )
    await text_in(engine, sessionmaker, "hi there")
    assert await bot_replies(sessionmaker) == ["Hi there,  from Acme"]


async def test_unknown_template_is_skipped_with_an_event_and_the_message_handled(
    engine, sessionmaker
):
    await add_rule(sessionmaker, "T", "any", actions=[{"type": "reply", "template_id": 999}])
    conversation_id = await text_in(engine, sessionmaker, "hello")
    assert await thread_events(sessionmaker, conversation_id) == [
        "reply skipped: template 999 does not exist"
    ]
    assert await count(sessionmaker, Message, Message.status == MessageStatus.PENDING) == 0


async def test_a_database_error_in_an_action_leaves_the_message_pending(
    engine, sessionmaker, monkeypatch
):
    async def broken(ctx, fired, spec):
        await ctx.session.execute(text("SELECT * FROM no_such_table"))
        return "never"

    monkeypatch.setitem(ACTIONS, "close", broken)
    await add_rule(
        sessionmaker, "X", "any", actions=[{"type": "add_label", "label": "a"}, {"type": "close"}]
    )
    stored = await store(engine, "hello")
    with pytest.raises(Exception, match="no_such_table"):
        async with sessionmaker.begin() as session:
            await handle_inbound(session, stored.message_id)
    async with sessionmaker() as session:
        assert (await session.get(Message, stored.message_id)).status is MessageStatus.PENDING
    assert await labels(sessionmaker, stored.conversation_id) == []


def test_triage_is_quiet_only_without_compliance_or_rule_candidates():
    from bot.matching import MatchType, RuleSpec

    matcher = Matcher.compile(
        [
            RuleSpec(1, 1, MatchType.ONLY_WORD, ("price",)),
            RuleSpec(2, 1, MatchType.CONTAINS, ("refund",), frozenset({"+612"})),
        ]
    )
    batch = [
        Pending(1, "hello", "+1", False, "+611"),
        Pending(2, "Price?", "+2", False, "+611"),
        Pending(3, "price", "+3", True, "+611"),  # opted out: rules never run
        Pending(4, "a refund please", "+4", False, "+611"),  # rule 2 watches +612 only
        Pending(5, "a refund please", "+5", False, "+612"),
        Pending(6, "stop", "+6", False, "+611"),
    ]
    assert triage(batch, DEFAULT_VOCABULARY, matcher) == ([1, 3, 4], [2, 5, 6])
    assert triage(batch, DEFAULT_VOCABULARY) == ([1, 2, 3, 4, 5], [6])


async def test_worker_compiles_rules_once_per_rules_version(engine, sessionmaker, monkeypatch):
    compiled = []
    original = Matcher.compile.__func__

    def counting(cls, specs):
        specs = list(specs)
        compiled.append(len(specs))
        return original(cls, specs)

    monkeypatch.setattr(Matcher, "compile", classmethod(counting))
    worker = PipelineWorker(sessionmaker, EventBus())
    await add_rule(sessionmaker, "PRICE", "only_word", ["price"], actions=[reply("$10")])
    for body in ("hello", "price", "thanks"):
        await store(engine, body, sender="+14155550111")
        await worker.round()
    assert compiled == [1]
    assert await bot_replies(sessionmaker) == ["$10"]
    await add_rule(sessionmaker, "HOURS", "only_word", ["hours"], actions=[reply("9 to 5")])
    await store(engine, "hours", sender="+14155550112")
    await worker.round()
    assert compiled == [1, 2]
    assert await bot_replies(sessionmaker) == ["$10", "9 to 5"]
    assert await count(sessionmaker, Message, Message.status == MessageStatus.PENDING) == 0


async def test_hit_counts_do_not_bump_the_rules_version(engine, sessionmaker):
    await add_rule(sessionmaker, "ANY", "any", actions=[])
    async with sessionmaker() as session:
        before = await bot_settings.rules_version(session)
    await text_in(engine, sessionmaker, "hello")
    async with sessionmaker() as session:
        assert await bot_settings.rules_version(session) == before == 1
