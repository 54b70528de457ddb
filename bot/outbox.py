"""The only constructor of outbound messages.

An outbound message is born ``queued`` here, after the send gate said yes. The
sender picks it up later; nothing here talks to a provider. Callers commit and
then publish ``events.OUTBOX_QUEUED`` to wake the sender.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.contacts import get_conversation, get_or_create_contact, get_or_create_conversation
from bot.db import utcnow
from bot.encoding import MAX_PARTS, measure
from bot.models import (
    DEFAULT_PRIORITY,
    PRIORITY,
    Contact,
    Conversation,
    Direction,
    Message,
    MessagePurpose,
    MessageStatus,
)
from bot.optout import check_send_allowed


class InvalidMessage(ValueError):
    """The message cannot be sent as written; ``field`` names the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def clean_body(body: str) -> tuple[str, int]:
    """Strip NULs and surrounding whitespace; return the body and its part count."""
    if not isinstance(body, str):
        raise InvalidMessage("body", "must be text")
    text = body.replace("\x00", "").strip()
    if not text:
        raise InvalidMessage("body", "is empty")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidMessage("body", "holds invalid Unicode (a lone surrogate)") from None
    size = measure(text)
    if size.too_long:
        raise InvalidMessage(
            "body", f"needs {size.parts} SMS parts ({size.encoding}); the limit is {MAX_PARTS}"
        )
    return text, size.parts


async def enqueue_reply(
    session: AsyncSession,
    conversation_id: int,
    body: str,
    *,
    author_user_id: int | None = None,
    purpose: MessagePurpose = MessagePurpose.AGENT_REPLY,
    consent_event_id: int | None = None,
) -> Message:
    """Queue a reply in an existing thread, from the number the customer texted."""
    conversation = await get_conversation(session, conversation_id)
    contact = await session.get_one(Contact, conversation.contact_id)
    message = _new(body, purpose, author_user_id, consent_event_id)
    queued = await _enqueue(session, contact, conversation, message)
    if purpose is MessagePurpose.AGENT_REPLY:  # a person took over from the bot
        conversation.needs_agent, conversation.needs_agent_reason = False, None
    return queued


async def enqueue_to_number(
    session: AsyncSession,
    phone_number: str,
    body: str,
    *,
    our_number: str = "",
    author_user_id: int | None = None,
    purpose: MessagePurpose = MessagePurpose.API,
) -> Message:
    """Queue a message to a number (E.164), opening its thread if there is none."""
    message = _new(body, purpose, author_user_id, None)
    contact = await get_or_create_contact(session, phone_number)
    conversation = await get_or_create_conversation(session, contact, our_number)
    return await _enqueue(session, contact, conversation, message)


def _new(
    body: str, purpose: MessagePurpose, author_user_id: int | None, consent_event_id: int | None
) -> Message:
    text, parts = clean_body(body)
    return Message(
        direction=Direction.OUT,
        body=text,
        status=MessageStatus.QUEUED,
        parts=parts,
        purpose=purpose,
        priority=PRIORITY.get(purpose, DEFAULT_PRIORITY),
        author_user_id=author_user_id,
        consent_event_id=consent_event_id,
    )


async def _enqueue(
    session: AsyncSession, contact: Contact, conversation: Conversation, message: Message
) -> Message:
    await check_send_allowed(
        session, contact.phone_number, conversation.our_number, message.purpose
    )
    message.conversation_id = conversation.id
    session.add(message)
    conversation.last_message_at = message.created_at = message.updated_at = utcnow()
    await session.flush()
    return message
