"""Each rule condition, passing and failing, through the pipeline."""

from __future__ import annotations

import datetime as dt

import pytest

from bot import bot_settings
from bot.contacts import get_or_create_contact
from bot.models import ContactList, ContactListMember, ContactTag, Conversation, ConversationStatus
from bot.rule_conditions import CONDITIONS, check
from bot.rule_context import RuleContext
from tests.bot.rule_helpers import CUSTOMER, add_rule, bot_replies, text_in

ALWAYS = {
    "timezone": "UTC",
    "windows": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}
NEVER = {"timezone": "UTC", "windows": {}}


async def in_vip_list(sessionmaker):
    async with sessionmaker.begin() as session:
        contact = await get_or_create_contact(session, CUSTOMER)
        vip = ContactList(name="VIP")
        session.add(vip)
        await session.flush()
        session.add(ContactListMember(list_id=vip.id, contact_id=contact.id))


async def tagged_vip(sessionmaker):
    async with sessionmaker.begin() as session:
        contact = await get_or_create_contact(session, CUSTOMER)
        session.add(ContactTag(contact_id=contact.id, tag="vip"))


async def hours(sessionmaker, schedule):
    async with sessionmaker.begin() as session:
        await bot_settings.save(session, {"business_hours": schedule})


async def earlier_message(engine, sessionmaker):
    await text_in(engine, sessionmaker, "an earlier message")


async def nothing(*_):
    return None


def setup_of(name):
    """Setups that need the engine take it; the others only the sessionmaker."""
    return {
        "vip_list": lambda e, s: in_vip_list(s),
        "vip_tag": lambda e, s: tagged_vip(s),
        "always_open": lambda e, s: hours(s, ALWAYS),
        "never_open": lambda e, s: hours(s, NEVER),
        "earlier": earlier_message,
        "none": nothing,
    }[name]


@pytest.mark.parametrize(
    ("condition", "setup", "fires"),
    [
        ({"type": "business_hours", "inside": True}, "always_open", True),
        ({"type": "business_hours", "inside": True}, "never_open", False),
        ({"type": "business_hours", "inside": False}, "never_open", True),
        ({"type": "business_hours", "inside": False}, "always_open", False),
        ({"type": "in_list", "list": "VIP"}, "vip_list", True),
        ({"type": "in_list", "list": "VIP"}, "none", False),
        ({"type": "in_list", "list": "Other"}, "vip_list", False),
        ({"type": "not_in_list", "list": "VIP"}, "none", True),
        ({"type": "not_in_list", "list": "VIP"}, "vip_list", False),
        ({"type": "has_tag", "tag": "vip"}, "vip_tag", True),
        ({"type": "has_tag", "tag": "vip"}, "none", False),
        ({"type": "conversation_status", "status": "open"}, "none", True),
        ({"type": "conversation_status", "status": "closed"}, "none", False),
        ({"type": "first_message"}, "none", True),
        ({"type": "first_message"}, "earlier", False),
        ({"type": "no_such_condition"}, "none", False),
        ("not an object", "none", False),
    ],
)
async def test_condition_decides_whether_the_rule_fires(
    engine, sessionmaker, condition, setup, fires
):
    await setup_of(setup)(engine, sessionmaker)
    await add_rule(
        sessionmaker,
        "R",
        "only_word",
        ["price"],
        conditions=[condition],
        actions=[{"type": "reply", "body": "ok"}],
    )
    await text_in(engine, sessionmaker, "price")
    assert await bot_replies(sessionmaker) == (["ok"] if fires else [])


async def test_first_message_counts_messages_to_any_of_our_numbers(engine, sessionmaker):
    await text_in(engine, sessionmaker, "hello", ours="+61400000001")
    await add_rule(
        sessionmaker,
        "WELCOME",
        "any",
        conditions=[{"type": "first_message"}],
        actions=[{"type": "reply", "body": "Welcome!"}],
    )
    await text_in(engine, sessionmaker, "hi", ours="+61400000002")
    assert await bot_replies(sessionmaker) == []


async def test_all_conditions_must_pass(engine, sessionmaker):
    await tagged_vip(sessionmaker)
    await add_rule(
        sessionmaker,
        "R",
        "any",
        conditions=[{"type": "has_tag", "tag": "vip"}, {"type": "in_list", "list": "VIP"}],
        actions=[{"type": "reply", "body": "ok"}],
    )
    await text_in(engine, sessionmaker, "hi")
    assert await bot_replies(sessionmaker) == []


@pytest.mark.parametrize(
    ("spec", "description"),
    [
        ({"type": "business_hours", "inside": True}, "inside business hours"),
        ({"type": "business_hours", "inside": False}, "outside business hours"),
        ({"type": "in_list", "list": "VIP"}, "contact in list VIP"),
        ({"type": "not_in_list", "list": "VIP"}, "contact not in list VIP"),
        ({"type": "has_tag", "tag": "vip"}, "contact has tag vip"),
        ({"type": "conversation_status", "status": "closed"}, "conversation is closed"),
        ({"type": "first_message"}, "first message from this number"),
        ({"type": "weather"}, "unknown condition 'weather'"),
    ],
)
async def test_conditions_describe_what_they_test(sessionmaker, spec, description):
    async with sessionmaker() as session:
        ctx = RuleContext(
            session=session,
            body="hi",
            phone_number=CUSTOMER,
            our_number="",
            now=dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC),  # a Monday, 10:00 UTC
            settings=bot_settings.BotSettings(),
            dry_run=True,
        )
        result = await check(ctx, spec)
    assert result.description == description


def test_every_documented_condition_is_in_the_table():
    assert set(CONDITIONS) == {
        "business_hours",
        "in_list",
        "not_in_list",
        "has_tag",
        "conversation_status",
        "first_message",
    }


@pytest.mark.parametrize(
    ("status", "wanted", "passed"),
    [
        (ConversationStatus.OPEN, "open", True),
        (ConversationStatus.OPEN, "closed", False),
        (ConversationStatus.CLOSED, "closed", True),
        (ConversationStatus.CLOSED, "open", False),
        (None, "open", True),  # a number that never texted would start an open thread
        (None, "closed", False),
    ],
)
async def test_conversation_status_compares_the_thread_status(sessionmaker, status, wanted, passed):
    thread = None if status is None else Conversation(id=1, contact_id=1, status=status)
    async with sessionmaker() as session:
        ctx = RuleContext(
            session=session,
            body="hi",
            phone_number=CUSTOMER,
            our_number="",
            now=dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC),
            settings=bot_settings.BotSettings(),
            conversation=thread,
            dry_run=True,
        )
        result = await check(ctx, {"type": "conversation_status", "status": wanted})
    assert result.passed is passed
