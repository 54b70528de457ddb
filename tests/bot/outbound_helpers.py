"""Outbound messages in bulk and in the states a crash or a slow provider leaves,
for the sender, reconciler and load tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update

from bot.db import utcnow
from bot.models import Contact, Conversation, Message, MessagePurpose, MessageStatus


async def seed_queued(
    engine,
    messages: Sequence[tuple[str, str]],
    *,
    our_number: str,
    purpose: MessagePurpose = MessagePurpose.API,
    priority: int = 1,
) -> list[int]:
    """One contact, conversation and queued message per (number, body), inserted in
    bulk into an empty database; the message ids in the same order."""
    now = utcnow()
    stamps = {"created_at": now, "updated_at": now}
    async with engine.begin() as conn:
        await conn.execute(
            insert(Contact),
            [{"phone_number": to, "custom_fields": {}, **stamps} for to, _ in messages],
        )
        contacts = (await conn.execute(select(Contact.id).order_by(Contact.id))).scalars().all()
        await conn.execute(
            insert(Conversation),
            [
                {
                    "contact_id": contact_id,
                    "our_number": our_number,
                    "created_at": now,
                    "last_message_at": now,
                    "status": "open",
                    "unread_count": 0,
                    "possible_opt_out": False,
                }
                for contact_id in contacts
            ],
        )
        conversations = (
            (await conn.execute(select(Conversation.id).order_by(Conversation.id))).scalars().all()
        )
        await conn.execute(
            insert(Message),
            [
                {
                    "conversation_id": conversation_id,
                    "direction": "out",
                    "body": body,
                    "status": MessageStatus.QUEUED,
                    "purpose": purpose,
                    "priority": priority,
                    "parts": 1,
                    "attempts": 0,
                    "provider": "clicksend",
                    **stamps,
                }
                for conversation_id, (_, body) in zip(conversations, messages, strict=True)
            ],
        )
        return (await conn.execute(select(Message.id).order_by(Message.id))).scalars().all()


async def handed_over(sessionmaker, message_id: int, seconds_ago: float, **values: Any) -> None:
    """Set the message's latest hand-over to the provider ``seconds_ago``, and ``values``."""
    past = utcnow() - dt.timedelta(seconds=seconds_ago)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(provider_timestamp=past, **values)
        )
