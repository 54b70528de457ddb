"""People's consent actions and the ledger as evidence.

Agents confirm or dismiss a possible opt-out; admins (and the API, and imports)
record opt-outs with a reason, and may re-subscribe a number only with a reason
and evidence of consent. Every action lands in the append-only ledger.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import compliance_settings
from bot.compliance import add_event, suppress, suppress_everywhere, unsuppress
from bot.contacts import get_conversation
from bot.db import utcnow
from bot.models import (
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    Contact,
    Conversation,
    MessagePurpose,
    OptOut,
)
from bot.optout import GLOBAL_SCOPE, is_opted_out, opted_out_numbers
from bot.outbox import enqueue_reply

LEDGER_COLUMNS = (
    "id",
    "created_at",
    "phone_number",
    "scope",
    "kind",
    "method",
    "keyword",
    "raw_text",
    "provider_message_id",
    "message_id",
    "user_id",
    "reason",
    "evidence",
)


class ConsentError(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


def _required(field: str, value: str | None, limit: int = 2000) -> str:
    text = (value or "").strip()
    if not text:
        raise ConsentError(field, "is required")
    if len(text) > limit:
        raise ConsentError(field, f"is longer than {limit} characters")
    return text


async def confirm_possible_opt_out(
    session: AsyncSession, conversation_id: int, user_id: int | None
) -> ConsentEvent:
    """An agent read the flagged message and agrees it revokes consent."""
    conversation = await get_conversation(session, conversation_id)
    if not conversation.possible_opt_out:
        raise ConsentError("conversation", "has no possible opt-out to confirm")
    contact = await session.get_one(Contact, conversation.contact_id)
    settings = await compliance_settings.load(session)
    scope = GLOBAL_SCOPE if settings.scope == "global" else conversation.our_number
    event = await _record(
        session,
        contact.phone_number,
        scope,
        ConsentKind.OPT_OUT,
        ConsentMethod.AGENT,
        user_id=user_id,
        reason="agent confirmed a possible opt-out",
    )
    await suppress(session, contact.phone_number, scope)
    conversation.possible_opt_out, conversation.possible_opt_out_at = False, None
    await add_event(session, conversation.id, "opt_out", "Opt-out confirmed by an agent", user_id)
    if settings.confirmation_enabled:
        text = settings.render(settings.confirmation_text)
        await enqueue_reply(
            session,
            conversation.id,
            text,
            purpose=MessagePurpose.OPT_OUT_CONFIRMATION,
            consent_event_id=event.id,
        )
    return event


async def dismiss_possible_opt_out(
    session: AsyncSession, conversation_id: int, user_id: int | None
) -> None:
    conversation = await get_conversation(session, conversation_id)
    if not conversation.possible_opt_out:
        raise ConsentError("conversation", "has no possible opt-out to dismiss")
    conversation.possible_opt_out, conversation.possible_opt_out_at = False, None
    await add_event(
        session,
        conversation.id,
        "possible_opt_out",
        "Possible opt-out dismissed by an agent",
        user_id,
    )


async def record_opt_out(
    session: AsyncSession,
    phone_number: str,
    *,
    method: ConsentMethod,
    reason: str,
    user_id: int | None = None,
    scope: str = GLOBAL_SCOPE,
) -> ConsentEvent | None:
    """Suppress a number by hand, by API or by import; None when it already was."""
    reason = _required("reason", reason)
    if await is_opted_out(session, phone_number, scope or ""):
        return None
    event = await _record(
        session, phone_number, scope, ConsentKind.OPT_OUT, method, user_id=user_id, reason=reason
    )
    await suppress(session, phone_number, scope)
    return event


async def record_opt_outs(
    session: AsyncSession,
    entries: Sequence[tuple[str, str]],
    *,
    method: ConsentMethod,
    user_id: int | None = None,
) -> set[str]:
    """Opt out many (phone, reason) pairs for all our numbers in a few statements;
    return the numbers newly opted out (the others already were). Reasons must be
    checked by the caller (:func:`check_reason`)."""
    phones = list(dict.fromkeys(phone for phone, _ in entries))
    globally = await _globally_opted_out(session, phones)
    fresh = [phone for phone in phones if phone not in globally]
    reasons = dict(entries)
    now = utcnow()
    if fresh:  # ORM bulk INSERT: one executemany, no per-object unit of work
        await session.execute(
            insert(ConsentEvent),
            [
                {
                    "phone_number": phone,
                    "scope": GLOBAL_SCOPE,
                    "kind": ConsentKind.OPT_OUT,
                    "method": method,
                    "user_id": user_id,
                    "reason": reasons[phone],
                    "created_at": now,
                }
                for phone in fresh
            ],
        )
    await suppress_everywhere(session, fresh)
    return set(fresh)


def check_reason(reason: str | None) -> str:
    return _required("reason", reason)


async def _globally_opted_out(session: AsyncSession, phones: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(phones), 500):
        chunk = phones[start : start + 500]
        rows = await session.scalars(
            select(OptOut.phone_number).where(
                OptOut.phone_number.in_(chunk), OptOut.our_number == GLOBAL_SCOPE
            )
        )
        found.update(rows)
    return found


async def admin_opt_in(
    session: AsyncSession, phone_number: str, *, user_id: int, reason: str, evidence: str
) -> ConsentEvent:
    """Re-subscribe a number on an admin's word: reason and evidence are mandatory."""
    reason, evidence = _required("reason", reason), _required("evidence", evidence)
    if not await _opted_out_anywhere(session, phone_number):
        raise ConsentError("phone_number", f"{phone_number} is not opted out")
    event = await _record(
        session,
        phone_number,
        GLOBAL_SCOPE,
        ConsentKind.OPT_IN,
        ConsentMethod.ADMIN,
        user_id=user_id,
        reason=reason,
        evidence=evidence,
    )
    await unsuppress_everywhere(session, phone_number)
    return event


async def unsuppress_everywhere(session: AsyncSession, phone_number: str) -> None:
    threads = await session.scalars(
        select(Conversation.our_number).join(Contact).where(Contact.phone_number == phone_number)
    )
    for our_number in {GLOBAL_SCOPE, *threads}:
        await unsuppress(session, phone_number, our_number)


async def _opted_out_anywhere(session: AsyncSession, phone_number: str) -> bool:
    return phone_number in await opted_out_numbers(session, {phone_number})


async def _record(
    session: AsyncSession,
    phone_number: str,
    scope: str,
    kind: ConsentKind,
    method: ConsentMethod,
    **extra,
) -> ConsentEvent:
    event = ConsentEvent(phone_number=phone_number, scope=scope, kind=kind, method=method, **extra)
    session.add(event)
    await session.flush()
    return event


async def ledger(
    session: AsyncSession,
    *,
    phone_number: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Sequence[ConsentEvent]:
    query = select(ConsentEvent).order_by(ConsentEvent.id)
    if phone_number:
        query = query.where(ConsentEvent.phone_number == phone_number)
    if since:
        query = query.where(ConsentEvent.created_at >= since)
    if until:
        query = query.where(ConsentEvent.created_at < until)
    return (await session.scalars(query)).all()


def ledger_csv(events: Sequence[ConsentEvent]) -> str:
    """CSV evidence; cells that a spreadsheet would run as formulas are quoted with '."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(LEDGER_COLUMNS)
    for event in events:
        writer.writerow([_cell(getattr(event, column)) for column in LEDGER_COLUMNS])
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    text = str(value)
    return (
        "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_phone(text) else text
    )


def _is_phone(text: str) -> bool:
    return text.startswith("+") and text[1:].isdigit()
