"""Read models of the inbox pages: plain frozen dataclasses, never ORM objects.

A thread is one timeline: its messages and its system events ("Opted out by
"stop"", "HELP answered") merged in time order.

The conversation list is keyset-paginated on ``(last_message_at, id)``, newest
first, and costs a fixed number of statements per page whatever its length: the
page itself, the last message of each listed thread, the opt-out state of the
listed numbers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Contact, Conversation, ConversationEvent, Message
from bot.optout import blocked_pairs

PAGE_SIZE = 50
PREVIEW_CHARS = 80
THREAD_LIMIT = 500
MAX_ID = 2**31 - 1  # ids are SQL integers (int4 on PostgreSQL); larger ones cannot exist


class BadCursor(ValueError):
    """The ``before`` parameter is not a cursor this page produced."""


@dataclass(frozen=True, slots=True)
class Cursor:
    at: dt.datetime
    id: int

    def __str__(self) -> str:
        return f"{self.at.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}:{self.id}"


@dataclass(frozen=True, slots=True)
class ConversationRow:
    id: int
    name: str
    phone_number: str
    our_number: str
    status: str
    unread_count: int
    opted_out: bool
    possible_opt_out: bool
    needs_agent: bool
    last_message_at: str
    last_message_iso: str
    preview: str
    preview_direction: str


@dataclass(frozen=True, slots=True)
class ConversationPage:
    rows: list[ConversationRow]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ThreadHeader:
    id: int
    name: str
    phone_number: str
    our_number: str
    status: str
    opted_out: bool
    possible_opt_out: bool
    possible_opt_out_at: dt.datetime | None
    needs_agent_reason: str | None = None  # set while the bot has left the thread to a person


@dataclass(frozen=True, slots=True)
class MessageView:
    is_event: ClassVar[bool] = False
    id: int
    direction: str
    body: str
    status: str
    at: str
    at_iso: str
    error_text: str | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class EventView:
    """A system line of the thread, written by the bot or an agent's action."""

    is_event: ClassVar[bool] = True
    id: int
    kind: str
    text: str
    at: str
    at_iso: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Thread:
    header: ThreadHeader
    messages: list[MessageView]
    events: list[EventView]
    older_hidden: bool

    @property
    def timeline(self) -> list[MessageView | EventView]:
        """Messages and events in time order; a message goes before an event of the same instant."""
        entries: list[MessageView | EventView] = [*self.messages, *self.events]
        return sorted(entries, key=lambda entry: (entry.created_at, entry.is_event))


def parse_cursor(text: str) -> Cursor:
    """``<ISO 8601 or unix seconds>:<conversation id>``; naive times are UTC."""
    at_text, _, id_text = text.rpartition(":")
    if not id_text.isdigit() or not at_text or int(id_text) > MAX_ID:
        raise BadCursor("before must be <time>:<conversation id>")
    return Cursor(_parse_time(at_text), int(id_text))


def _parse_time(text: str) -> dt.datetime:
    try:
        if text.replace(".", "", 1).isdigit():
            return dt.datetime.fromtimestamp(float(text), dt.UTC)
        value = dt.datetime.fromisoformat(text)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise BadCursor("before has a time that is neither ISO 8601 nor unix seconds") from None


def readable(at: dt.datetime, *, seconds: bool = True) -> str:
    return at.astimezone(dt.UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    )


def iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat()


def display_name(first: str | None, last: str | None, phone_number: str) -> str:
    return " ".join(p for p in (first, last) if p) or phone_number


# -- the conversation list -----------------------------------------------------------


async def conversation_page(
    session: AsyncSession, before: Cursor | None, limit: int = PAGE_SIZE
) -> ConversationPage:
    rows = (await session.execute(_page_query(before, limit + 1))).all()
    page = rows[:limit]
    previews = await _previews(session, [row.id for row in page])
    blocked = await blocked_pairs(session, {(row.phone_number, row.our_number) for row in page})
    items = [_row(row, previews.get(row.id, ("", "")), blocked) for row in page]
    more = len(rows) > limit
    return ConversationPage(
        items, str(Cursor(page[-1].last_message_at, page[-1].id)) if more else None
    )


def _page_query(before: Cursor | None, limit: int):
    query = (
        select(
            Conversation.id,
            Conversation.our_number,
            Conversation.status,
            Conversation.unread_count,
            Conversation.possible_opt_out,
            Conversation.needs_agent,
            Conversation.last_message_at,
            Contact.phone_number,
            Contact.first_name,
            Contact.last_name,
        )
        .join(Contact, Contact.id == Conversation.contact_id)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    if before is None:
        return query
    return query.where(
        or_(
            Conversation.last_message_at < before.at,
            and_(Conversation.last_message_at == before.at, Conversation.id < before.id),
        )
    )


async def _previews(session: AsyncSession, ids: list[int]) -> dict[int, tuple[str, str]]:
    """The newest message of each listed conversation: its direction and first characters."""
    if not ids:
        return {}
    newest = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(ids))
        .group_by(Message.conversation_id)
    )
    rows = await session.execute(
        select(
            Message.conversation_id,
            Message.direction,
            func.substr(Message.body, 1, PREVIEW_CHARS + 1),
        ).where(Message.id.in_(newest))
    )
    return {cid: (str(direction), _truncate(text)) for cid, direction, text in rows}


def _truncate(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def _row(row, preview: tuple[str, str], blocked: set[tuple[str, str]]) -> ConversationRow:
    direction, text = preview
    return ConversationRow(
        id=row.id,
        name=display_name(row.first_name, row.last_name, row.phone_number),
        phone_number=row.phone_number,
        our_number=row.our_number,
        status=str(row.status),
        unread_count=row.unread_count,
        opted_out=(row.phone_number, row.our_number) in blocked,
        possible_opt_out=row.possible_opt_out,
        needs_agent=row.needs_agent,
        last_message_at=readable(row.last_message_at, seconds=False),
        last_message_iso=iso(row.last_message_at),
        preview=text,
        preview_direction=direction,
    )


# -- one thread ----------------------------------------------------------------------


async def find_thread(session: AsyncSession, conversation_id: int) -> Thread | None:
    """The thread, oldest message first (the newest THREAD_LIMIT of them) with the system
    events of the same period; None if unknown."""
    found = (
        await session.execute(
            select(Conversation, Contact)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Conversation.id == conversation_id)
        )
    ).first()
    if found is None:
        return None
    conversation, contact = found
    messages = await _messages(session, conversation_id, THREAD_LIMIT + 1)
    older_hidden = len(messages) > THREAD_LIMIT
    messages = messages[-THREAD_LIMIT:]
    since = messages[0].created_at if older_hidden else None
    blocked = await blocked_pairs(session, {(contact.phone_number, conversation.our_number)})
    return Thread(
        header=_header(conversation, contact, bool(blocked)),
        messages=messages,
        events=await _events(session, conversation_id, since, THREAD_LIMIT),
        older_hidden=older_hidden,
    )


async def _messages(session: AsyncSession, conversation_id: int, limit: int) -> list[MessageView]:
    rows = await session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return [_message(m) for m in reversed(rows.all())]


def _message(message: Message) -> MessageView:
    return MessageView(
        id=message.id,
        direction=str(message.direction),
        body=message.body,
        status=str(message.status),
        at=readable(message.created_at),
        at_iso=iso(message.created_at),
        error_text=message.error_text,
        created_at=message.created_at,
    )


async def _events(
    session: AsyncSession, conversation_id: int, since: dt.datetime | None, limit: int
) -> list[EventView]:
    """The newest ``limit`` events (those from ``since`` on when older messages are hidden)."""
    query = (
        select(ConversationEvent)
        .where(ConversationEvent.conversation_id == conversation_id)
        .order_by(ConversationEvent.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(ConversationEvent.created_at >= since)
    rows = (await session.scalars(query)).all()
    return [
        EventView(
            id=e.id,
            kind=e.kind,
            text=e.text,
            at=readable(e.created_at),
            at_iso=iso(e.created_at),
            created_at=e.created_at,
        )
        for e in reversed(rows)
    ]


def _header(conversation: Conversation, contact: Contact, opted_out: bool) -> ThreadHeader:
    return ThreadHeader(
        id=conversation.id,
        name=display_name(contact.first_name, contact.last_name, contact.phone_number),
        phone_number=contact.phone_number,
        our_number=conversation.our_number,
        status=str(conversation.status),
        opted_out=opted_out,
        possible_opt_out=conversation.possible_opt_out,
        possible_opt_out_at=conversation.possible_opt_out_at,
        needs_agent_reason=(conversation.needs_agent_reason or "the bot stopped")
        if conversation.needs_agent
        else None,
    )


async def mark_read(session: AsyncSession, conversation_id: int) -> None:
    """Reset the unread count (a write only when there is something to reset)."""
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.unread_count != 0)
        .values(unread_count=0)
    )
