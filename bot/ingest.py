"""Store inbound messages durably, once, with their contact and conversation.

Push (bot/web.py) and pull (bot/poller.py) both come through here, via the group
commit writer: :func:`normalize` checks one message, :func:`store_inbound_batch`
stores a batch in the caller's transaction. A provider message id already stored
is a duplicate: acknowledged again, never stored twice (the unique constraint on
``(provider, provider_message_id)`` backs this up across processes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db import utcnow
from bot.models import Contact, Conversation, ConversationStatus, Direction, Message, MessageStatus
from bot.phones import to_e164, to_e164_or_raw
from bot.providers.base import InboundSms, InvalidPayload

MAX_BODY_BYTES = 10 * 1024
KIND = "inbound"


@dataclass(frozen=True, slots=True)
class NewInbound:
    provider: str
    provider_message_id: str
    from_number: str  # E.164
    our_number: str
    body: str
    timestamp: dt.datetime | None
    custom_string: str | None


@dataclass(frozen=True, slots=True)
class IngestResult:
    message_id: int
    conversation_id: int
    duplicate: bool


def normalize(sms: InboundSms, *, provider: str, default_region: str) -> NewInbound:
    """Check and normalise one inbound message; raise InvalidPayload naming the field."""
    body = sms.body.replace("\x00", "")
    if len(body.encode("utf-8")) > MAX_BODY_BYTES:
        raise InvalidPayload(f"body is longer than {MAX_BODY_BYTES} bytes")
    message_id = sms.provider_message_id.replace("\x00", "").strip()
    if not message_id or len(message_id) > 64:
        raise InvalidPayload("message_id must be 1 to 64 characters")
    try:
        sender = to_e164(sms.from_number.replace("\x00", ""), default_region)
    except ValueError as exc:
        raise InvalidPayload(f"from: {exc}") from None
    return NewInbound(
        provider=provider,
        provider_message_id=message_id,
        from_number=sender,
        our_number=to_e164_or_raw(sms.to_number.replace("\x00", ""), default_region),
        body=body,
        timestamp=sms.timestamp,
        custom_string=(sms.custom_string or "").replace("\x00", "")[:255] or None,
    )


async def store_inbound_batch(
    conn: AsyncConnection, items: Sequence[NewInbound]
) -> list[IngestResult]:
    """Store ``items`` in the caller's transaction; results in the same order."""
    known = await _existing(conn, items)
    fresh = first_of_each(item for item in items if key_of(item) not in known)
    stored: dict = {}
    if fresh:
        contacts = await _contact_ids(conn, {item.from_number for item in fresh})
        conversations = await _conversation_ids(conn, fresh, contacts)
        await _insert_messages(conn, fresh, conversations)
        await _touch_conversations(conn, fresh, conversations)
        stored = await _existing(conn, fresh)
    return assemble_results(items, known, stored)


# Shared with bot/ingest_sqlite.py, which stores the same rows with plain sqlite3.


def key_of(item: NewInbound) -> tuple[str, str]:
    return item.provider, item.provider_message_id


def first_of_each(items: Iterable[NewInbound]) -> list[NewInbound]:
    """One item per provider message id: a batch may hold the same push twice."""
    seen: dict[tuple[str, str], NewInbound] = {}
    for item in items:
        seen.setdefault(key_of(item), item)
    return list(seen.values())


def assemble_results(items: Sequence[NewInbound], known: dict, stored: dict) -> list[IngestResult]:
    """Results in input order; all but the first of a repeated id are duplicates."""
    seen = dict(known)
    results: list[IngestResult] = []
    for item in items:
        key = key_of(item)
        if key in seen:
            results.append(IngestResult(*seen[key], duplicate=True))
        else:
            results.append(IngestResult(*stored[key], duplicate=False))
            seen[key] = stored[key]
    return results


def unread_increments(items: Sequence[NewInbound], conversations: dict) -> dict[int, int]:
    counts: dict[int, int] = {}
    for item in items:
        conv_id = conversations[(item.from_number, item.our_number)]
        counts[conv_id] = counts.get(conv_id, 0) + 1
    return counts


def _insert(conn: AsyncConnection, table):
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


async def _existing(
    conn: AsyncConnection, items: Sequence[NewInbound]
) -> dict[tuple[str, str], tuple[int, int]]:
    found: dict[tuple[str, str], tuple[int, int]] = {}
    for provider in {item.provider for item in items}:
        ids = {item.provider_message_id for item in items if item.provider == provider}
        rows = await conn.execute(
            select(Message.provider_message_id, Message.id, Message.conversation_id).where(
                Message.provider == provider, Message.provider_message_id.in_(ids)
            )
        )
        found.update({(provider, pmid): (mid, cid) for pmid, mid, cid in rows})
    return found


async def _contact_ids(conn: AsyncConnection, phones: set[str]) -> dict[str, int]:
    now = utcnow()
    rows = [
        {"phone_number": p, "custom_fields": {}, "created_at": now, "updated_at": now}
        for p in sorted(phones)
    ]
    await conn.execute(_insert(conn, Contact).on_conflict_do_nothing(), rows)
    result = await conn.execute(
        select(Contact.phone_number, Contact.id).where(Contact.phone_number.in_(phones))
    )
    return dict(result.all())


async def _conversation_ids(
    conn: AsyncConnection, items: Sequence[NewInbound], contacts: dict[str, int]
) -> dict[tuple[str, str], int]:
    wanted = sorted({(item.from_number, item.our_number) for item in items})
    now = utcnow()
    rows = [
        {
            "contact_id": contacts[phone],
            "our_number": ours,
            "status": ConversationStatus.OPEN,
            "unread_count": 0,
            "possible_opt_out": False,
            "last_message_at": now,
            "created_at": now,
        }
        for phone, ours in wanted
    ]
    await conn.execute(_insert(conn, Conversation).on_conflict_do_nothing(), rows)
    by_contact = {contact_id: phone for phone, contact_id in contacts.items()}
    result = await conn.execute(
        select(Conversation.contact_id, Conversation.our_number, Conversation.id).where(
            Conversation.contact_id.in_(by_contact)
        )
    )
    return {(by_contact[cid], ours): conv_id for cid, ours, conv_id in result}


async def _insert_messages(
    conn: AsyncConnection, items: Sequence[NewInbound], conversations: dict
) -> None:
    now = utcnow()
    rows = [
        {
            "conversation_id": conversations[(item.from_number, item.our_number)],
            "direction": Direction.IN,
            "body": item.body,
            "status": MessageStatus.PENDING,
            "provider": item.provider,
            "provider_message_id": item.provider_message_id,
            "custom_string": item.custom_string,
            "parts": 1,
            "attempts": 0,
            "provider_timestamp": item.timestamp,
            "created_at": now,
            "updated_at": now,
        }
        for item in items
    ]
    await conn.execute(_insert(conn, Message).on_conflict_do_nothing(), rows)


async def _touch_conversations(
    conn: AsyncConnection, items: Sequence[NewInbound], conversations: dict
) -> None:
    counts = unread_increments(items, conversations)
    now = utcnow()
    table = Conversation.__table__
    stmt = (
        update(table)
        .where(table.c.id == bindparam("conv_id"))
        .values(
            unread_count=table.c.unread_count + bindparam("added"),
            last_message_at=bindparam("now", type_=table.c.last_message_at.type),
            status=ConversationStatus.OPEN,
        )
    )
    await conn.execute(
        stmt, [{"conv_id": cid, "added": n, "now": now} for cid, n in sorted(counts.items())]
    )
