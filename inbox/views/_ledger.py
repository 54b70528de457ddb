"""Read models of the consent pages: one number's state and ledger, the export filter.

Everything here is plain data for the templates; the ledger itself and its CSV
come from bot/consent.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.consent import ledger
from bot.models import ConsentEvent, Contact, Conversation, OptOut
from bot.optout import GLOBAL_SCOPE, blocked_pairs
from bot.phones import InvalidPhoneNumber, to_e164
from inbox.views._threads import display_name, iso, readable

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
RECENT = 20
EXPORT_FIELDS = ("phone_number", "date_from", "date_to")


@dataclass(frozen=True, slots=True)
class LedgerRow:
    id: int
    phone_number: str
    at: str
    at_iso: str
    kind: str
    method: str
    scope: str
    keyword: str | None
    raw_text: str | None
    provider_message_id: str | None
    message_id: int | None
    user_id: int | None
    reason: str | None
    evidence: str | None


@dataclass(frozen=True, slots=True)
class ScopeState:
    """One row of the suppression list: where the number is opted out, and since when."""

    scope: str
    since: str
    since_iso: str


@dataclass(frozen=True, slots=True)
class ThreadState:
    conversation_id: int
    our_number: str
    opted_out: bool


@dataclass(frozen=True, slots=True)
class ContactConsent:
    phone_number: str
    name: str
    opt_outs: list[ScopeState]
    threads: list[ThreadState]
    ledger: list[LedgerRow]


@dataclass(frozen=True, slots=True)
class ExportFilter:
    phone_number: str | None
    date_from: dt.date | None
    date_to: dt.date | None

    @property
    def since(self) -> dt.datetime | None:
        return _midnight(self.date_from)

    @property
    def until(self) -> dt.datetime | None:
        """Exclusive: the midnight after ``date_to``, so the whole last day is included."""
        if self.date_to is None or self.date_to == dt.date.max:
            return None
        return _midnight(self.date_to + dt.timedelta(days=1))

    @property
    def filename(self) -> str:
        parts = ["consent-ledger"]
        if self.phone_number:
            parts.append(self.phone_number.lstrip("+"))
        parts += [str(day) for day in (self.date_from, self.date_to) if day]
        return "-".join(parts) + ".csv"


def scope_label(scope: str) -> str:
    return "all our numbers" if scope == GLOBAL_SCOPE else f"only {scope}"


async def contact_consent(session: AsyncSession, phone_number: str) -> ContactConsent:
    contact = await session.scalar(select(Contact).where(Contact.phone_number == phone_number))
    opt_outs = await session.scalars(
        select(OptOut).where(OptOut.phone_number == phone_number).order_by(OptOut.id)
    )
    threads = await _threads(session, contact)
    events = await ledger(session, phone_number=phone_number)
    return ContactConsent(
        phone_number=phone_number,
        name=display_name(contact.first_name, contact.last_name, phone_number)
        if contact
        else phone_number,
        opt_outs=[
            ScopeState(scope_label(o.our_number), readable(o.created_at), iso(o.created_at))
            for o in opt_outs
        ],
        threads=threads,
        ledger=[ledger_row(event) for event in events],
    )


async def _threads(session: AsyncSession, contact: Contact | None) -> list[ThreadState]:
    if contact is None:
        return []
    rows = (
        await session.execute(
            select(Conversation.id, Conversation.our_number)
            .where(Conversation.contact_id == contact.id)
            .order_by(Conversation.id)
        )
    ).all()
    blocked = await blocked_pairs(session, {(contact.phone_number, ours) for _, ours in rows})
    return [ThreadState(cid, ours, (contact.phone_number, ours) in blocked) for cid, ours in rows]


async def recent(session: AsyncSession, limit: int = RECENT) -> list[LedgerRow]:
    """The newest ledger events, newest first."""
    events = await session.scalars(
        select(ConsentEvent).order_by(ConsentEvent.id.desc()).limit(limit)
    )
    return [ledger_row(event) for event in events]


def ledger_row(event: ConsentEvent) -> LedgerRow:
    return LedgerRow(
        id=event.id,
        phone_number=event.phone_number,
        at=readable(event.created_at),
        at_iso=iso(event.created_at),
        kind=str(event.kind),
        method=str(event.method),
        scope=scope_label(event.scope),
        keyword=event.keyword,
        raw_text=event.raw_text,
        provider_message_id=event.provider_message_id,
        message_id=event.message_id,
        user_id=event.user_id,
        reason=event.reason,
        evidence=event.evidence,
    )


def parse_export(
    query: Mapping[str, str], region: str
) -> tuple[ExportFilter | None, dict[str, str]]:
    """The export's filter, or None and one error per bad field, naming it."""
    errors: dict[str, str] = {}
    phone_number = None
    if query.get("phone_number", "").strip():
        try:
            phone_number = to_e164(query["phone_number"], region)
        except InvalidPhoneNumber as exc:
            errors["phone_number"] = f"phone_number: {exc}"
    days = {name: _day(query.get(name, ""), name, errors) for name in ("date_from", "date_to")}
    date_from, date_to = days["date_from"], days["date_to"]
    if date_from and date_to and date_from > date_to:
        errors["date_to"] = "date_to: is before date_from"
    if errors:
        return None, errors
    return ExportFilter(phone_number, date_from, date_to), errors


def _day(text: str, name: str, errors: dict[str, str]) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    try:
        if _DATE.fullmatch(text):
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    errors[name] = f"{name}: {text[:40]!r} is not a date in the form YYYY-MM-DD"
    return None


def _midnight(day: dt.date | None) -> dt.datetime | None:
    return None if day is None else dt.datetime.combine(day, dt.time(), dt.UTC)
