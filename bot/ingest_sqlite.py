"""The group-commit writes of bot/ingest.py and bot/receipts.py in plain sqlite3.

Same rows, same rules, same shared helpers; only the SQL is written out here so a
whole batch runs in the writer thread without SQLAlchemy's per-row work (see
bot/write_backends.py for why). tests/bot/test_write_backends.py stores the same
batches through both implementations and compares the resulting rows.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence

from bot.db import utcnow
from bot.ingest import (
    IngestResult,
    NewInbound,
    assemble_results,
    first_of_each,
    key_of,
    unread_increments,
)
from bot.models import ConversationStatus, Direction, MessagePurpose, MessageStatus
from bot.receipts import (
    UPDATABLE,
    ProviderReceipt,
    ReceiptResult,
    choose_targets,
    new_status,
    reference_of,
)

SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format, naive UTC


def _ts(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).strftime(SQLITE_DATETIME)


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def store_inbound_batch(db: sqlite3.Connection, items: Sequence[NewInbound]) -> list[IngestResult]:
    known = _existing(db, items)
    fresh = first_of_each(item for item in items if key_of(item) not in known)
    stored: dict = {}
    if fresh:
        now = _ts(utcnow())
        contacts = _contact_ids(db, sorted({item.from_number for item in fresh}), now)
        conversations = _conversation_ids(db, fresh, contacts, now)
        _insert_messages(db, fresh, conversations, now)
        _touch_conversations(db, unread_increments(fresh, conversations), now)
        stored = _existing(db, fresh)
    return assemble_results(items, known, stored)


def _existing(db: sqlite3.Connection, items: Sequence[NewInbound]) -> dict:
    found: dict[tuple[str, str], tuple[int, int]] = {}
    for provider in {item.provider for item in items}:
        ids = sorted({item.provider_message_id for item in items if item.provider == provider})
        rows = db.execute(
            "SELECT provider_message_id, id, conversation_id FROM messages "
            f"WHERE provider = ? AND provider_message_id IN ({_marks(ids)})",
            [provider, *ids],
        )
        found.update({(provider, pmid): (mid, cid) for pmid, mid, cid in rows})
    return found


def _contact_ids(db: sqlite3.Connection, phones: list[str], now: str) -> dict[str, int]:
    db.executemany(
        "INSERT INTO contacts (phone_number, custom_fields, created_at, updated_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(phone, json.dumps({}), now, now) for phone in phones],
    )
    rows = db.execute(
        f"SELECT phone_number, id FROM contacts WHERE phone_number IN ({_marks(phones)})", phones
    )
    return dict(rows.fetchall())


def _conversation_ids(
    db: sqlite3.Connection, items: Sequence[NewInbound], contacts: dict[str, int], now: str
) -> dict[tuple[str, str], int]:
    wanted = sorted({(item.from_number, item.our_number) for item in items})
    db.executemany(
        "INSERT INTO conversations (contact_id, our_number, status, unread_count, "
        "possible_opt_out, last_message_at, created_at) VALUES (?, ?, ?, 0, 0, ?, ?) "
        "ON CONFLICT DO NOTHING",
        [
            (contacts[phone], ours, ConversationStatus.OPEN.value, now, now)
            for phone, ours in wanted
        ],
    )
    by_contact = {contact_id: phone for phone, contact_id in contacts.items()}
    ids = sorted(by_contact)
    rows = db.execute(
        f"SELECT contact_id, our_number, id FROM conversations WHERE contact_id IN ({_marks(ids)})",
        ids,
    )
    return {(by_contact[cid], ours): conv_id for cid, ours, conv_id in rows}


def _insert_messages(
    db: sqlite3.Connection, items: Sequence[NewInbound], conversations: dict, now: str
) -> None:
    db.executemany(
        "INSERT INTO messages (conversation_id, direction, body, status, purpose, priority, "
        "provider, provider_message_id, custom_string, parts, attempts, provider_timestamp, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, 1, 0, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        [
            (
                conversations[(item.from_number, item.our_number)],
                Direction.IN.value,
                item.body,
                MessageStatus.PENDING.value,
                MessagePurpose.INBOUND.value,
                item.provider,
                item.provider_message_id,
                item.custom_string,
                _ts(item.timestamp),
                now,
                now,
            )
            for item in items
        ],
    )


def _touch_conversations(db: sqlite3.Connection, counts: dict[int, int], now: str) -> None:
    db.executemany(
        "UPDATE conversations SET unread_count = unread_count + ?, last_message_at = ?, "
        "status = ? WHERE id = ?",
        [(n, now, ConversationStatus.OPEN.value, cid) for cid, n in sorted(counts.items())],
    )


def apply_receipts_batch(
    db: sqlite3.Connection, items: Sequence[ProviderReceipt]
) -> list[ReceiptResult]:
    targets = choose_targets(items, _by_pmid(db, items), _by_ref(db, items))
    now = _ts(utcnow())
    updatable = [status.value for status in UPDATABLE]
    db.executemany(
        "UPDATE messages SET status = ?, error_text = ?, provider_message_id = ?, updated_at = ? "
        f"WHERE id = ? AND status IN ({_marks(updatable)})",
        [
            (
                new_status(i.receipt).value,
                i.receipt.reason,
                i.receipt.provider_message_id,
                now,
                target,
                *updatable,
            )
            for i, target in zip(items, targets, strict=True)
            if target is not None
        ],
    )
    return [ReceiptResult(target) for target in targets]


def _by_pmid(db: sqlite3.Connection, items: Sequence[ProviderReceipt]) -> dict:
    found: dict[tuple[str, str], int] = {}
    for provider in {item.provider for item in items}:
        pmids = sorted({i.receipt.provider_message_id for i in items if i.provider == provider})
        rows = db.execute(
            "SELECT provider_message_id, id FROM messages WHERE provider = ? AND direction = ? "
            f"AND provider_message_id IN ({_marks(pmids)})",
            [provider, Direction.OUT.value, *pmids],
        )
        found.update({(provider, pmid): mid for pmid, mid in rows})
    return found


def _by_ref(db: sqlite3.Connection, items: Sequence[ProviderReceipt]) -> dict:
    refs = sorted({reference_of(item) for item in items} - {None})
    if not refs:
        return {}
    rows = db.execute(
        f"SELECT id, provider_message_id FROM messages WHERE id IN ({_marks(refs)}) "
        "AND direction = ?",
        [*refs, Direction.OUT.value],
    )
    return dict(rows.fetchall())


def mark_handled_batch(db: sqlite3.Connection, payloads: Sequence[Sequence[int]]) -> list[int]:
    """bot.pipeline.mark_handled_batch in plain sqlite3."""
    counts = []
    for ids in payloads:
        cursor = db.execute(
            f"UPDATE messages SET status = ? WHERE id IN ({_marks(ids)}) AND status = ?",
            [MessageStatus.HANDLED.value, *ids, MessageStatus.PENDING.value],
        )
        counts.append(cursor.rowcount)
    return counts
