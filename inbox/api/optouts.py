"""Opt-outs and consent over the API: list, record, re-subscribe, history, export, import
(a CSV, or a ClickSend contact list), and an agent's verdict on a possible opt-out.

Handlers read and check their input, then call bot/consent (or bot/optout_import)
in one transaction. Re-subscribing a number and importing a list are for admins
only (403 ``FORBIDDEN`` otherwise); the role is read in the request's transaction,
before any input is validated. A number in a path may be URL-encoded (``%2B...``)
and in any format phonenumbers parses with SMSDESK_DEFAULT_REGION.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from aiohttp import hdrs, web
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import optout_import
from bot.consent import (
    ConsentError,
    admin_opt_in,
    confirm_possible_opt_out,
    dismiss_possible_opt_out,
    ledger,
    ledger_csv,
    record_opt_out,
)
from bot.contacts import NotFound, get_conversation
from bot.models import ConsentEvent, ConsentMethod, Contact, OptOut, Role, User
from bot.optout import GLOBAL_SCOPE, is_opted_out
from bot.phones import InvalidPhoneNumber, to_e164, to_e164_or_raw
from bot.providers.base import ProviderError
from inbox.api.auth import API_USER, ApiUser
from inbox.api.conversations import path_conversation_id
from inbox.api.envelope import ApiError, bad_request, envelope
from inbox.api.inputs import (
    json_object,
    optional_text,
    parse_json_object,
    read_capped,
    required_text,
)
from inbox.api.items import conversation_item, unix
from inbox.api.pagination import PageRequest, page_data, page_request
from inbox.api.search import Searchable, order_clause, text_field, where_clause
from inbox.keys import SERVICES

OPT_OUTS = Searchable(
    fields={"phone_number": text_field(OptOut.phone_number)},
    sorts={
        "created_at": (OptOut.created_at, OptOut.id),
        "phone_number": (OptOut.phone_number, OptOut.id),
    },
    default_order=("created_at", "desc"),
)
CSV_TYPES = frozenset({"text/csv", "text/plain"})
MAX_IMPORT_BODY = 2 * optout_import.MAX_BYTES  # room for JSON escapes; the CSV is capped after
MAX_SCOPE = 20
MAX_LIST_ID = 2**63 - 1
PROVIDER_ERROR = "PROVIDER_ERROR"
MAX_UNIX = 253_402_300_798  # 9999-12-31T23:59:58Z, so date_to + 1 s still fits
T = TypeVar("T")
EXPORT_HEADERS = {
    hdrs.CONTENT_DISPOSITION: 'attachment; filename="consent-ledger.csv"',
    hdrs.CACHE_CONTROL: "no-store",
}


# -- resources ------------------------------------------------------------------


def opt_out_item(row: OptOut) -> dict[str, Any]:
    return {
        "phone_number": row.phone_number,
        "scope": row.our_number,
        "created_at": unix(row.created_at),
    }


def consent_event_item(event: ConsentEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "phone_number": event.phone_number,
        "kind": str(event.kind),
        "method": str(event.method),
        "scope": event.scope,
        "keyword": event.keyword,
        "raw_text": event.raw_text,
        "provider_message_id": event.provider_message_id,
        "message_id": event.message_id,
        "reason": event.reason,
        "evidence": event.evidence,
        "user_id": event.user_id,
        "created_at": unix(event.created_at),
    }


def report_item(report: optout_import.ImportReport) -> dict[str, Any]:
    rows = [
        {"line": row.line, "raw": row.raw, "status": row.status, "message": row.message}
        for row in report.rows
    ]
    return {**report.counts, "total": len(report.rows), "rows": rows}


# -- opt-outs -------------------------------------------------------------------


async def list_opt_outs(request: web.Request) -> web.Response:
    page = page_request(request.query)
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        total, rows = await _page(session, select(OptOut), request.query, page)
    return envelope(page_data(request.rel_url, page, total, [opt_out_item(r) for r in rows]))


async def create_opt_out(request: web.Request) -> web.Response:
    payload = await json_object(request)
    region = _region(request)
    phone_number = _phone(required_text(payload, "phone_number"), region)
    reason = required_text(payload, "reason")
    scope = _scope(optional_text(payload, "our_number"), region)
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        event = await _checked(
            record_opt_out(
                session,
                phone_number,
                method=ConsentMethod.API,
                reason=reason,
                user_id=request[API_USER].id,
                scope=scope,
            )
        )
        row = await covering_opt_out(session, phone_number, scope)
    already = event is None
    message = "Already opted out." if already else "Opt-out recorded."
    return envelope({**opt_out_item(row), "already_opted_out": already}, response_msg=message)


async def delete_opt_out(request: web.Request) -> web.Response:
    payload = await json_object(request)
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        await require_admin(session, request[API_USER], "re-subscribe a number")
        phone_number = path_phone(request)
        event = await _opt_in(
            session,
            phone_number,
            user_id=request[API_USER].id,
            reason=required_text(payload, "reason"),
            evidence=required_text(payload, "evidence"),
        )
    return envelope(consent_event_item(event), response_msg="Re-subscribed.")


async def history(request: web.Request) -> web.Response:
    page = page_request(request.query)
    phone_number = path_phone(request)
    events = select(ConsentEvent).where(ConsentEvent.phone_number == phone_number)
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        total, rows = await _paged(session, events, [ConsentEvent.id.asc()], page)
    items = [consent_event_item(event) for event in rows]
    return envelope(page_data(request.rel_url, page, total, items))


async def covering_opt_out(session: AsyncSession, phone_number: str, scope: str) -> OptOut:
    """The opt-out that blocks ``phone_number`` in ``scope``: the global one first."""
    return await session.scalar(
        select(OptOut)
        .where(OptOut.phone_number == phone_number, OptOut.our_number.in_({GLOBAL_SCOPE, scope}))
        .order_by(OptOut.our_number)
        .limit(1)
    )


async def _opt_in(session: AsyncSession, phone_number: str, **fields: Any) -> ConsentEvent:
    try:
        return await admin_opt_in(session, phone_number, **fields)
    except ConsentError as exc:
        if exc.field == "phone_number":
            raise NotFound(f"{phone_number} is not opted out") from None
        raise ApiError(400, str(exc)) from None


# -- the ledger as evidence -------------------------------------------------------


async def export_csv(request: web.Request) -> web.Response:
    query = request.query
    phone = query.get("phone_number", "").strip()
    phone_number = _phone(phone, _region(request)) if phone else None
    since, until = _unix(query, "date_from"), _unix(query, "date_to")
    if since is not None and until is not None and until < since:
        raise bad_request("date_to", "is before date_from")
    until_excl = None if until is None else until + dt.timedelta(seconds=1)
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        events = await ledger(session, phone_number=phone_number, since=since, until=until_excl)
    return web.Response(
        text=ledger_csv(events), content_type="text/csv", charset="utf-8", headers=EXPORT_HEADERS
    )


def _unix(query: Mapping[str, str], name: str) -> dt.datetime | None:
    raw = query.get(name, "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_UNIX:
        raise bad_request(name, f"{raw[:20]!r} is not unix seconds (a whole number, 0 or more)")
    return dt.datetime.fromtimestamp(int(raw), dt.UTC)


# -- import ---------------------------------------------------------------------


async def import_list(request: web.Request) -> web.Response:
    csv_text = await _import_text(request)
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        await require_admin(session, request[API_USER], "import opt-outs")
        report = await _import(session, csv_text, _region(request), request[API_USER].id)
    message = f"Imported: {report.added} added, {report.already} already, {report.invalid} invalid."
    return envelope(report_item(report), response_msg=message)


async def _import(
    session: AsyncSession, csv_text: str, region: str, user_id: int
) -> optout_import.ImportReport:
    try:
        return await optout_import.import_opt_outs(
            session, csv_text, default_region=region, user_id=user_id
        )
    except optout_import.ImportTooLarge as exc:
        raise ApiError(413, str(exc)) from None
    except optout_import.ImportRejected as exc:
        raise ApiError(400, str(exc)) from None


async def _import_text(request: web.Request) -> str:
    """The CSV of a ``text/csv`` body or of a JSON body ``{"csv": "..."}``."""
    if request.content_type == "application/json":
        return required_text(parse_json_object(await read_capped(request, MAX_IMPORT_BODY)), "csv")
    if request.content_type not in CSV_TYPES:
        raise bad_request("Content-Type", "send text/csv, or application/json with a csv field")
    raw = await read_capped(request, MAX_IMPORT_BODY)
    charset = request.charset or "utf-8"
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError):
        raise bad_request("csv", f"is not valid {charset[:20]} text") from None


async def import_provider_list(request: web.Request) -> web.Response:
    """Opt out every number of a ClickSend contact list (``{"list_id": 123}``)."""
    payload = await json_object(request)
    services = request.config_dict[SERVICES]
    async with services.sessionmaker() as session:
        await require_admin(session, request[API_USER], "import opt-outs")
    list_id = _list_id(payload)
    if services.provider is None:
        raise ApiError(502, "No SMS provider is configured.", response_code=PROVIDER_ERROR)
    try:  # fetched before the transaction: no write lock is held over the network
        numbers = await optout_import.fetch_provider_numbers(services.provider, list_id)
    except optout_import.ImportTooLarge as exc:
        raise ApiError(413, str(exc)) from None
    except ProviderError as exc:
        raise ApiError(502, str(exc), response_code=PROVIDER_ERROR) from None
    async with services.sessionmaker.begin() as session:
        report = await optout_import.record_provider_numbers(
            session,
            numbers,
            list_id,
            default_region=_region(request),
            user_id=request[API_USER].id,
        )
    message = f"Imported: {report.added} added, {report.already} already, {report.invalid} invalid."
    return envelope(report_item(report), response_msg=message)


def _list_id(payload: Mapping[str, Any]) -> int:
    value = payload.get("list_id")
    if value is None:
        raise bad_request("list_id", "is required")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIST_ID:
        raise bad_request("list_id", "must be a positive integer")
    return value


# -- possible opt-outs ------------------------------------------------------------


async def confirm_possible(request: web.Request) -> web.Response:
    conversation_id = path_conversation_id(request)
    services = request.config_dict[SERVICES]
    async with services.sessionmaker.begin() as session:
        conversation = await get_conversation(session, conversation_id)
        if not conversation.possible_opt_out:
            raise bad_request("conversation", "has no possible opt-out to confirm")
        await confirm_possible_opt_out(session, conversation_id, request[API_USER].id)
        item = await _conversation_item(session, conversation_id)
    services.notify_outbox()  # the opt-out confirmation may have been queued
    return envelope(item, response_msg="Opt-out confirmed.")


async def dismiss_possible(request: web.Request) -> web.Response:
    conversation_id = path_conversation_id(request)
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        await _checked(dismiss_possible_opt_out(session, conversation_id, request[API_USER].id))
        item = await _conversation_item(session, conversation_id)
    return envelope(item, response_msg="Possible opt-out dismissed.")


async def _conversation_item(session: AsyncSession, conversation_id: int) -> dict[str, Any]:
    conversation = await get_conversation(session, conversation_id)
    contact = await session.get_one(Contact, conversation.contact_id)
    opted_out = await is_opted_out(session, contact.phone_number, conversation.our_number)
    return conversation_item(conversation, contact, opted_out)


# -- shared helpers ---------------------------------------------------------------


async def require_admin(session: AsyncSession, user: ApiUser, action: str) -> None:
    role = await session.scalar(select(User.role).where(User.id == user.id))
    if role is not Role.ADMIN:
        raise ApiError(403, f"Only an admin may {action}.", response_code="FORBIDDEN")


async def _checked(call: Awaitable[T]) -> T:
    """Await a bot/consent call; its ConsentError is a 400 naming the field."""
    try:
        return await call
    except ConsentError as exc:
        raise ApiError(400, str(exc)) from None


def path_phone(request: web.Request) -> str:
    return _phone(request.match_info["phone_number"], _region(request))


def _phone(raw: str, region: str) -> str:
    try:
        return to_e164(raw, region)
    except InvalidPhoneNumber as exc:
        raise bad_request("phone_number", str(exc)) from None


def _scope(raw: str | None, region: str) -> str:
    """``our_number``: absent or '' is every number of ours."""
    if raw is None or not raw.strip():
        return GLOBAL_SCOPE
    if len(raw.strip()) > MAX_SCOPE or "\x00" in raw:
        raise bad_request("our_number", f"must be a number or sender id of 1 to {MAX_SCOPE} chars")
    return to_e164_or_raw(raw, region)


def _region(request: web.Request) -> str:
    return request.config_dict[SERVICES].settings.default_region


async def _page(
    session: AsyncSession, statement: Select, query: Mapping[str, str], page: PageRequest
) -> tuple[int, list[Any]]:
    order = order_clause(query, OPT_OUTS)
    clause = where_clause(query, OPT_OUTS)
    filtered = statement if clause is None else statement.where(clause)
    return await _paged(session, filtered, order, page)


async def _paged(
    session: AsyncSession, statement: Select, order: list[Any], page: PageRequest
) -> tuple[int, list[Any]]:
    """(total, one page of rows): a count and the page, two statements."""
    counted = statement.with_only_columns(func.count(), maintain_column_froms=True)
    total = await session.scalar(counted) or 0
    rows = await session.scalars(statement.order_by(*order).limit(page.limit).offset(page.offset))
    return total, list(rows)
