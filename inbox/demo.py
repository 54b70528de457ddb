"""Seed data for `smsdesk serve --demo`: an admin login, a few threads, and keyword
rules with templates (texting "price?" on the simulate page gets a reply)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import message_templates, rules
from bot.contacts import get_or_create_contact, get_or_create_conversation
from bot.db import utcnow
from bot.models import Direction, Message, MessageStatus, Role, User
from inbox.auth import create_user

if TYPE_CHECKING:
    from bot.providers.simulator_state import SimulatorState

DEMO_EMAIL = "admin@demo.smsdesk.local"
DEMO_PASSWORD = "smsdesk-demo"  # noqa: S105 - demo only, bound to 127.0.0.1
DEMO_OUR_NUMBER = "+61411111111"

THREADS = [
    (
        "+14155550101",
        "Ava",
        "Nguyen",
        [
            (Direction.IN, "Hi, is my order #1042 shipped yet?", 50),
            (Direction.OUT, "Hi Ava, it left our warehouse this morning.", 45),
            (Direction.IN, "Great, thanks!", 44),
        ],
    ),
    (
        "+14155550102",
        "Liam",
        "Okafor",
        [(Direction.IN, "What are your opening hours on Sunday?", 20)],
    ),
    ("+61422222222", None, None, [(Direction.IN, "PRICE", 5)]),
]


async def seed_demo(session: AsyncSession) -> bool:
    """Create the demo admin and threads once; False when they already exist."""
    if await session.scalar(select(func.count()).select_from(User)):
        return False
    await create_user(session, DEMO_EMAIL, DEMO_PASSWORD, Role.ADMIN, name="Demo Admin")
    for phone, first, last, messages in THREADS:
        await _seed_thread(session, phone, first, last, messages)
    await seed_rules(session)
    return True


PRICES = (
    "Hi {{ contact.first_name | default('there', true) }}! Prices start at $5 a month. "
    "Reply HOURS for our opening hours."
)
DEMO_RULES = [
    {
        "name": "Label price questions",
        "match_type": "contains",
        "terms": ["price", "cost"],
        "continue_matching": True,
        "actions": [{"type": "add_label", "label": "sales"}],
    },
    {"name": "PRICE", "match_type": "first_word", "terms": ["price", "prices"]},
    {
        "name": "HOURS",
        "match_type": "first_word",
        "terms": ["hours", "open"],
        "conditions": [{"type": "business_hours", "inside": True}],
        "actions": [{"type": "reply", "body": "We're open now, until 17:00 today."}],
    },
    {
        "name": "HOURS after hours",
        "match_type": "first_word",
        "terms": ["hours", "open"],
        "conditions": [{"type": "business_hours", "inside": False}],
        "actions": [
            {"type": "reply", "body": "We're closed right now; we open at 9:00 on weekdays."}
        ],
    },
]


async def seed_rules(session: AsyncSession) -> None:
    """A template and the demo rules, through the same services as the workbench."""
    draft = message_templates.parse_template("Prices", PRICES)
    template = (await message_templates.create_template(session, draft)).template
    for fields in DEMO_RULES:
        reply = [{"type": "reply", "template_id": template.id}]
        data = {"actions": reply, **fields}
        await rules.create_rule(session, rules.parse_rule(data))


# What the demo's ClickSend account already has, for "Import from ClickSend" on the
# rules page: an SMS template and inbound rules as ClickSend's own API returns them.
SIMULATOR_TEMPLATES = [("Opening hours", "Hi (First Name), we are open 9:00-17:00 on weekdays.")]
SIMULATOR_RULES = [
    {
        "dedicated_number": "*",
        "rule_name": "INFO auto-reply",
        "message_search_type": 1,
        "message_search_term": "info",
        "action": "AUTO_REPLY",
        "action_address": "",
        "body": "Hi (First Name), see example.com/info or reply PRICE for prices.",
        "enabled": 1,
    },
    {
        "dedicated_number": DEMO_OUR_NUMBER,
        "rule_name": "Order updates to the warehouse",
        "message_search_type": 2,
        "message_search_term": "order",
        "action": "URL",
        "action_address": "https://example.com/warehouse-hook",
        "body": None,
        "enabled": 0,
    },
]


def seed_simulator(state: SimulatorState) -> None:
    """Give the demo's ClickSend account its own template and inbound rules (kept in
    the simulator's memory, so they are there again at every start)."""
    for name, body in SIMULATOR_TEMPLATES:
        state.add_sms_template(name, body)
    for fields in SIMULATOR_RULES:
        state.add_inbound_rule(dict(fields))


async def _seed_thread(session, phone, first, last, messages) -> None:
    contact = await get_or_create_contact(session, phone)
    contact.first_name, contact.last_name = first, last
    conversation = await get_or_create_conversation(session, contact, DEMO_OUR_NUMBER)
    now = utcnow()
    for index, (direction, body, minutes_ago) in enumerate(messages):
        at = now - dt.timedelta(minutes=minutes_ago)
        session.add(_message(conversation.id, direction, body, at, f"DEMO-{phone}-{index}"))
        conversation.last_message_at = at
    conversation.unread_count = 1 if messages[-1][0] is Direction.IN else 0


def _message(conversation_id, direction, body, at, ref) -> Message:
    inbound = direction is Direction.IN
    return Message(
        conversation_id=conversation_id,
        direction=direction,
        body=body,
        status=MessageStatus.HANDLED if inbound else MessageStatus.DELIVERED,
        provider_message_id=ref,
        created_at=at,
        updated_at=at,
    )
