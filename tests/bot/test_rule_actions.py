"""Each rule action through the pipeline: what it changes and the line it writes in
the thread; bad references are skipped with a line and the message ends handled."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.contacts import get_or_create_contact
from bot.models import (
    Contact,
    ContactList,
    ContactListMember,
    Conversation,
    ConversationLabel,
    ConversationStatus,
    Forward,
    Message,
    MessagePurpose,
    MessageStatus,
    OptOut,
    Role,
)
from bot.pipeline import handle_inbound
from bot.rule_actions import ACTIONS
from inbox.auth import create_user
from tests.bot.rule_helpers import (
    CUSTOMER,
    OURS,
    add_rule,
    conversation,
    count,
    labels,
    store,
    text_in,
    thread_events,
)


async def run(engine, sessionmaker, actions, body="join Ada Lovelace", match_type="first_word"):
    await add_rule(
        sessionmaker, "R", match_type, ["join"] if match_type != "any" else [], actions=actions
    )
    return await text_in(engine, sessionmaker, body)


async def contact(sessionmaker) -> Contact:
    async with sessionmaker() as session:
        return await session.scalar(select(Contact).where(Contact.phone_number == CUSTOMER))


async def list_members(sessionmaker, name: str) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(Contact.phone_number)
            .join(ContactListMember, ContactListMember.contact_id == Contact.id)
            .join(ContactList, ContactList.id == ContactListMember.list_id)
            .where(ContactList.name == name)
        )
        return list(rows.all())


async def test_labels_are_added_once_and_removed(engine, sessionmaker):
    conversation_id = await run(
        engine,
        sessionmaker,
        [
            {"type": "add_label", "label": "sales"},
            {"type": "add_label", "label": "sales"},
            {"type": "add_label", "label": "new"},
            {"type": "remove_label", "label": "new"},
        ],
    )
    assert await labels(sessionmaker, conversation_id) == ["sales"]
    assert await thread_events(sessionmaker, conversation_id) == [
        "label sales added by rule R",
        "label sales added by rule R",
        "label new added by rule R",
        "label new removed by rule R",
    ]


async def test_assign_to_an_agent_by_email(engine, sessionmaker):
    async with sessionmaker.begin() as session:
        user = await create_user(session, "sam@example.com", "password123", Role.AGENT)
        user.name = "Sam"
    conversation_id = await run(
        engine, sessionmaker, [{"type": "assign", "email": "sam@example.com"}]
    )
    assert (await conversation(sessionmaker, conversation_id)).assigned_user_id == user.id
    assert await thread_events(sessionmaker, conversation_id) == ["assigned to Sam by rule R"]


async def test_list_membership_added_creating_the_list_then_removed(engine, sessionmaker):
    conversation_id = await run(engine, sessionmaker, [{"type": "add_to_list", "list": "VIP"}])
    assert await list_members(sessionmaker, "VIP") == [CUSTOMER]
    await text_in(engine, sessionmaker, "join again")  # already a member: no duplicate
    assert await list_members(sessionmaker, "VIP") == [CUSTOMER]
    await add_rule(
        sessionmaker,
        "LEAVE",
        "only_word",
        ["leave"],
        actions=[{"type": "remove_from_list", "list": "VIP"}],
    )
    await text_in(engine, sessionmaker, "leave")
    assert await list_members(sessionmaker, "VIP") == []
    assert (await thread_events(sessionmaker, conversation_id))[
        -1
    ] == "removed from list VIP by rule LEAVE"


@pytest.mark.parametrize(
    ("action", "body", "expected", "event"),
    [
        (
            {"type": "set_field", "field": "custom_1", "value": "gold"},
            "join",
            {"custom_fields": {"custom_1": "gold"}},
            "custom_1 set to 'gold' by rule R",
        ),
        (
            {"type": "set_field", "field": "order", "regex": r"order #?(\d+)", "group": 1},
            "join order #4711 please",
            {"custom_fields": {"order": "4711"}},
            "order set to '4711' by rule R",
        ),
        (
            {"type": "set_field", "field": "first_name", "value": "Ada"},
            "join",
            {"first_name": "Ada"},
            "first_name set to 'Ada' by rule R",
        ),
        (
            {"type": "set_field", "field": "email", "regex": r"(\S+@\S+)"},
            "join ada@example.com",
            {"email": "ada@example.com"},
            "email set to 'ada@example.com' by rule R",
        ),
        (
            {"type": "contact_from_message", "field": "name"},
            "JOIN Ada Lovelace",
            {"first_name": "Ada", "last_name": "Lovelace"},
            "name set to 'Ada Lovelace' by rule R",
        ),
        (
            {"type": "contact_from_message", "field": "name"},
            "join Zoë, thanks 123",
            {"first_name": "Zoë", "last_name": "thanks"},
            "name set to 'Zoë thanks' by rule R",
        ),
        (
            {"type": "contact_from_message", "field": "email"},
            "join me at ada@example.com please",
            {"email": "ada@example.com"},
            "email set to 'ada@example.com' by rule R",
        ),
    ],
)
async def test_contact_fields_are_set(engine, sessionmaker, action, body, expected, event):
    conversation_id = await run(engine, sessionmaker, [action], body=body)
    found = await contact(sessionmaker)
    assert {key: getattr(found, key) for key in expected} == expected
    assert await thread_events(sessionmaker, conversation_id) == [event]


async def test_set_field_keeps_other_custom_fields(engine, sessionmaker):
    async with sessionmaker.begin() as session:
        (await get_or_create_contact(session, CUSTOMER)).custom_fields = {"custom_2": "x"}
    await run(
        engine, sessionmaker, [{"type": "set_field", "field": "custom_1", "value": 7}], body="join"
    )
    assert (await contact(sessionmaker)).custom_fields == {"custom_1": "7", "custom_2": "x"}


async def test_close_and_reopen(engine, sessionmaker):
    conversation_id = await run(engine, sessionmaker, [{"type": "close"}], body="join")
    assert (await conversation(sessionmaker, conversation_id)).status is ConversationStatus.CLOSED
    await add_rule(
        sessionmaker, "BACK", "only_word", ["back"], actions=[{"type": "reopen"}], priority=1
    )
    await text_in(engine, sessionmaker, "back")
    assert (await conversation(sessionmaker, conversation_id)).status is ConversationStatus.OPEN
    assert await thread_events(sessionmaker, conversation_id) == [
        "closed by rule R",
        "reopened by rule BACK",
    ]


async def test_forwards_are_queued_as_rows_not_delivered_inline(engine, sessionmaker):
    conversation_id = await run(
        engine,
        sessionmaker,
        [
            {"type": "forward_url", "url": "https://hooks.example.com/sms", "method": "json"},
            {"type": "forward_url", "url": "https://hooks.example.com/form"},
            {"type": "forward_email", "to": "ops@example.com"},
        ],
        body="join now",
    )
    async with sessionmaker() as session:
        rows = (await session.scalars(select(Forward).order_by(Forward.id))).all()
    assert [(f.kind, f.target, f.method, f.status.value, f.attempts) for f in rows] == [
        ("url", "https://hooks.example.com/sms", "json", "pending", 0),
        ("url", "https://hooks.example.com/form", "post", "pending", 0),
        ("email", "ops@example.com", None, "pending", 0),
    ]
    assert {k: rows[0].payload[k] for k in ("from", "to", "body")} == {
        "from": CUSTOMER,
        "to": OURS,
        "body": "join now",
    }
    assert await thread_events(sessionmaker, conversation_id) == [
        "forward to https://hooks.example.com/sms (json) queued by rule R",
        "forward to https://hooks.example.com/form (post) queued by rule R",
        "email forward to ops@example.com queued by rule R",
    ]


async def test_forward_sms_goes_through_the_outbox(engine, sessionmaker):
    conversation_id = await run(
        engine,
        sessionmaker,
        [{"type": "forward_sms", "to": "+15551234567"}],
        body="join <b>now</b>",
    )
    async with sessionmaker() as session:
        (forwarded,) = (
            await session.scalars(select(Message).where(Message.direction == "out"))
        ).all()
        staff_thread = await session.get_one(Conversation, forwarded.conversation_id)
        staff = await session.get_one(Contact, staff_thread.contact_id)
    assert (forwarded.purpose, forwarded.status, forwarded.body) == (
        MessagePurpose.FORWARD,
        MessageStatus.QUEUED,
        f"From {CUSTOMER}: join <b>now</b>",
    )
    assert (staff.phone_number, staff_thread.our_number) == ("+15551234567", OURS)
    assert await thread_events(sessionmaker, conversation_id) == [
        "forwarded by SMS to +15551234567 by rule R"
    ]


async def test_forward_sms_to_an_opted_out_number_is_skipped_leaving_no_thread(
    engine, sessionmaker
):
    async with sessionmaker.begin() as session:
        session.add(OptOut(phone_number="+15551234567", our_number=""))
    conversation_id = await run(
        engine,
        sessionmaker,
        [{"type": "forward_sms", "to": "+15551234567"}, {"type": "add_label", "label": "x"}],
        body="join",
    )
    assert await count(sessionmaker, Message, Message.direction == "out") == 0
    assert await count(sessionmaker, Contact) == 1
    assert await thread_events(sessionmaker, conversation_id) == [
        "rule R: forward_sms skipped, +15551234567 opted out",
        "label x added by rule R",
    ]


@pytest.mark.parametrize(
    ("action", "event"),
    [
        (
            {"type": "assign", "email": "nobody@example.com"},
            "rule R: assign skipped, no user nobody@example.com",
        ),
        (
            {"type": "remove_from_list", "list": "Ghosts"},
            "rule R: remove_from_list skipped, no list Ghosts",
        ),
        ({"type": "reply", "template_id": 42}, "reply skipped: template 42 does not exist"),
        ({"type": "reply"}, "reply skipped: the action has neither a template nor a body"),
        ({"type": "add_label"}, "rule R: add_label skipped, no label given"),
        (
            {"type": "set_field", "field": "order", "regex": r"order (\d+)"},
            "rule R: set_field skipped, the message has no match",
        ),
        (
            {"type": "set_field", "field": "order", "regex": r"(("},
            "rule R: set_field skipped, bad regex: missing ) at position 2",
        ),
        (
            {"type": "set_field", "field": "email", "value": "not-mail"},
            "rule R: set_field skipped, 'not-mail' is not an email",
        ),
        (
            {"type": "contact_from_message", "field": "email"},
            "rule R: no email address in the message",
        ),
        (
            {"type": "contact_from_message", "field": "phone"},
            "rule R: contact_from_message needs field name or email",
        ),
        (
            {"type": "forward_url", "url": "ftp://x"},
            "rule R: forward_url skipped, bad URL or method",
        ),
        (
            {"type": "forward_email", "to": "ops"},
            "rule R: forward_email skipped, 'ops' is not an email",
        ),
        (
            {"type": "forward_sms", "to": "call me"},
            "rule R: forward_sms skipped, 'call me' is not a phone number "
            "(The string supplied did not seem to be a phone number.)",
        ),
        ({"type": "launch_rockets"}, "rule R: unknown action 'launch_rockets' skipped"),
        ("reply", "rule R: unknown action None skipped"),
    ],
)
async def test_bad_actions_are_skipped_with_a_line_and_the_message_handled(
    engine, sessionmaker, action, event
):
    conversation_id = await run(
        engine, sessionmaker, [action, {"type": "add_label", "label": "after"}], body="join"
    )
    assert await thread_events(sessionmaker, conversation_id) == [
        event,
        "label after added by rule R",
    ]
    assert await count(sessionmaker, Message, Message.status == MessageStatus.PENDING) == 0
    assert await count(sessionmaker, Forward) == 0


async def test_a_set_field_regex_that_runs_out_of_time_is_skipped(engine, sessionmaker):
    action = {"type": "set_field", "field": "order", "regex": r"(a|a)*$"}
    conversation_id = await run(
        engine,
        sessionmaker,
        [action, {"type": "add_label", "label": "after"}],
        "join " + "a" * 26 + "?",
    )
    assert await thread_events(sessionmaker, conversation_id) == [
        "rule R: set_field skipped, the regex ran out of time",
        "label after added by rule R",
    ]
    assert (await contact(sessionmaker)).custom_fields == {}
    assert await count(sessionmaker, Message, Message.status == MessageStatus.PENDING) == 0


def test_every_documented_action_is_in_the_table():
    assert set(ACTIONS) == {
        "reply",
        "add_label",
        "remove_label",
        "assign",
        "add_to_list",
        "remove_from_list",
        "set_field",
        "contact_from_message",
        "close",
        "reopen",
        "forward_url",
        "forward_sms",
        "forward_email",
    }


async def test_actions_never_run_for_a_message_another_worker_took(engine, sessionmaker):
    await add_rule(sessionmaker, "R", "any", actions=[{"type": "add_label", "label": "x"}])
    stored = await store(engine, "hi")
    async with sessionmaker.begin() as session:
        assert await handle_inbound(session, stored.message_id)
    async with sessionmaker.begin() as session:
        assert not await handle_inbound(session, stored.message_id)
    assert await count(sessionmaker, ConversationLabel) == 1
