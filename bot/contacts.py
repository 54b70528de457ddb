"""Race-safe find-or-create of contacts and conversations.

The insert runs in a SAVEPOINT; when another task won the race the unique
constraint fires and we read the row that won.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Contact, Conversation


class NotFound(LookupError):
    pass


async def get_or_create_contact(session: AsyncSession, phone_number: str) -> Contact:
    found = await find_contact(session, phone_number)
    if found is not None:
        return found
    try:
        async with session.begin_nested():
            contact = Contact(phone_number=phone_number, custom_fields={})
            session.add(contact)
        return contact
    except IntegrityError:
        return await _get(session, select(Contact).where(Contact.phone_number == phone_number))


async def find_contact(session: AsyncSession, phone_number: str) -> Contact | None:
    return await session.scalar(select(Contact).where(Contact.phone_number == phone_number))


async def get_or_create_conversation(
    session: AsyncSession, contact: Contact, our_number: str
) -> Conversation:
    query = select(Conversation).where(
        Conversation.contact_id == contact.id, Conversation.our_number == our_number
    )
    found = await session.scalar(query)
    if found is not None:
        return found
    try:
        async with session.begin_nested():
            conversation = Conversation(contact_id=contact.id, our_number=our_number)
            session.add(conversation)
        return conversation
    except IntegrityError:
        return await _get(session, query)


async def get_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    return conversation


async def _get(session: AsyncSession, query):
    row = await session.scalar(query)
    if row is None:
        raise NotFound("row vanished after a unique-constraint conflict")
    return row
