"""Seed data for `smsdesk serve --demo`: an admin login and a few threads."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.contacts import get_or_create_contact, get_or_create_conversation
from bot.db import utcnow
from bot.models import Direction, Message, MessageStatus, Role, User
from inbox.auth import create_user

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
    return True


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
