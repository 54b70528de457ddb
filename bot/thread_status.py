"""A conversation's open/closed state as it was when an inbound message arrived.

Ingest reopens a closed conversation as soon as the customer writes again, so that
no agent misses the message; a keyword rule running after ingest would therefore
always see "open". Every close and every reopen made by a rule or a person writes a
thread line of kind :data:`CLOSED_EVENT` or :data:`REOPENED_EVENT` (use
:func:`set_status`), and ingest only ever reopens. So the state a message arrived to
is the one set by the last such line written after the previous inbound message
(that message reopened the thread) and before this one; with no such line, it was open.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Direction,
    Message,
)

CLOSED_EVENT = "closed"
REOPENED_EVENT = "reopened"
EVENT_FOR = {ConversationStatus.CLOSED: CLOSED_EVENT, ConversationStatus.OPEN: REOPENED_EVENT}


def set_status(
    session: AsyncSession,
    conversation: Conversation,
    status: ConversationStatus,
    text: str,
    *,
    user_id: int | None = None,
) -> None:
    """Close or reopen a conversation, with the thread line that records it."""
    conversation.status = status
    session.add(
        ConversationEvent(
            conversation_id=conversation.id, kind=EVENT_FOR[status], text=text, user_id=user_id
        )
    )


async def status_at_arrival(session: AsyncSession, message: Message) -> ConversationStatus:
    previous = await session.scalar(
        select(Message.created_at)
        .where(
            Message.conversation_id == message.conversation_id,
            Message.direction == Direction.IN,
            Message.id < message.id,
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    query = select(ConversationEvent.kind).where(
        ConversationEvent.conversation_id == message.conversation_id,
        ConversationEvent.kind.in_((CLOSED_EVENT, REOPENED_EVENT)),
        ConversationEvent.created_at <= message.created_at,
    )
    if previous is not None:
        query = query.where(ConversationEvent.created_at >= previous)
    last = await session.scalar(
        query.order_by(ConversationEvent.created_at.desc(), ConversationEvent.id.desc()).limit(1)
    )
    return ConversationStatus.CLOSED if last == CLOSED_EVENT else ConversationStatus.OPEN
