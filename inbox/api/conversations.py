"""GET /conversations and GET /conversations/{id}/messages: searchable pages.

Each page costs a constant number of statements whatever its size: a count, the
page itself, and for conversations one opt-out lookup for every number shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.contacts import NotFound, get_conversation
from bot.models import Contact, Conversation, ConversationStatus, Direction, Message, MessageStatus
from bot.optout import blocked_pairs
from inbox.api.envelope import envelope
from inbox.api.items import conversation_item, message_item
from inbox.api.pagination import PageRequest, page_data, page_request
from inbox.api.search import (
    MAX_ID,
    Searchable,
    choice_field,
    int_field,
    order_clause,
    text_field,
    where_clause,
)
from inbox.keys import SERVICES

CONVERSATIONS = Searchable(
    fields={
        "phone_number": text_field(Contact.phone_number),
        "our_number": text_field(Conversation.our_number),
        "status": choice_field(Conversation.status, ConversationStatus),
        "first_name": text_field(Contact.first_name),
        "last_name": text_field(Contact.last_name),
        "conversation_id": int_field(Conversation.id),
    },
    sorts={
        "last_message_at": (Conversation.last_message_at, Conversation.id),
        "conversation_id": (Conversation.id,),
        "phone_number": (Contact.phone_number, Conversation.id),
        "unread_count": (Conversation.unread_count, Conversation.id),
        "status": (Conversation.status, Conversation.id),
    },
    default_order=("last_message_at", "desc"),
)

MESSAGES = Searchable(
    fields={
        "direction": choice_field(Message.direction, Direction),
        "status": choice_field(Message.status, MessageStatus),
        "body": text_field(Message.body),
        "provider_message_id": text_field(Message.provider_message_id),
    },
    sorts={
        "date": (Message.created_at, Message.id),
        "message_id": (Message.id,),
    },
    default_order=("date", "asc"),
)


async def list_conversations(request: web.Request) -> web.Response:
    page = page_request(request.query)
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        total, items = await conversation_page(session, request.query, page)
    return envelope(page_data(request.rel_url, page, total, items))


async def list_messages(request: web.Request) -> web.Response:
    page = page_request(request.query)
    conversation_id = path_conversation_id(request)
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        total, items = await message_page(session, conversation_id, request.query, page)
    return envelope(page_data(request.rel_url, page, total, items))


def path_conversation_id(request: web.Request) -> int:
    """The ``{conversation_id}`` of the URL; NotFound when no row could have it."""
    conversation_id = int(request.match_info["conversation_id"])
    if conversation_id > MAX_ID:
        raise NotFound(f"conversation {conversation_id} does not exist")
    return conversation_id


async def conversation_page(
    session: AsyncSession, query: Mapping[str, str], page: PageRequest
) -> tuple[int, list[dict[str, Any]]]:
    """One page of conversations with their contacts and opt-out state (3 statements)."""
    order = order_clause(query, CONVERSATIONS)
    joined = select(Conversation, Contact).join(Contact, Contact.id == Conversation.contact_id)
    joined = _filtered(joined, query, CONVERSATIONS)
    total = await _count(session, joined)
    paged = joined.order_by(*order).limit(page.limit).offset(page.offset)
    rows = (await session.execute(paged)).all()
    pairs = {(contact.phone_number, conv.our_number) for conv, contact in rows}
    blocked = await blocked_pairs(session, pairs)
    return total, [
        conversation_item(conv, contact, (contact.phone_number, conv.our_number) in blocked)
        for conv, contact in rows
    ]


async def message_page(
    session: AsyncSession, conversation_id: int, query: Mapping[str, str], page: PageRequest
) -> tuple[int, list[dict[str, Any]]]:
    """One page of a conversation's messages; NotFound when it does not exist."""
    order = order_clause(query, MESSAGES)
    selected = _filtered(
        select(Message).where(Message.conversation_id == conversation_id), query, MESSAGES
    )
    await get_conversation(session, conversation_id)
    total = await _count(session, selected)
    messages = await session.scalars(
        selected.order_by(*order).limit(page.limit).offset(page.offset)
    )
    return total, [message_item(message) for message in messages]


def _filtered(statement: Select, query: Mapping[str, str], searchable: Searchable) -> Select:
    clause = where_clause(query, searchable)
    return statement if clause is None else statement.where(clause)


async def _count(session: AsyncSession, statement: Select) -> int:
    counted = statement.with_only_columns(func.count(), maintain_column_froms=True)
    return await session.scalar(counted) or 0
