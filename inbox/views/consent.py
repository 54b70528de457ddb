"""Consent pages: a number's opt-out state and ledger, the ledger's CSV export, and
the import of an existing opt-out list.

The ledger is evidence (who opted out, when, how, in which words), so every page
shows it escaped as stored, and the CSV comes from bot/consent.py, which defuses
cells a spreadsheet would run as formulas.
"""

from __future__ import annotations

from aiohttp import web

from bot.consent import ledger, ledger_csv
from bot.optout_import import MAX_BYTES, ImportRejected, import_opt_outs
from bot.phones import InvalidPhoneNumber, to_e164
from inbox.keys import SERVICES
from inbox.views import _ledger
from inbox.views._page import render_page
from inbox.views._upload import BadUpload, ImportForm, read_import_form

IMPORT_REASON = "imported opt-out list"
USER_ID = None  # until agents log in


async def consent_index(request: web.Request) -> web.Response:
    """The export and import forms, a number look-up and the latest ledger events."""
    lookup = request.query.get("lookup", "").strip()
    if not lookup:
        return await _index(request)
    try:
        phone_number = to_e164(lookup, request.config_dict[SERVICES].settings.default_region)
    except InvalidPhoneNumber as exc:
        return await _index(request, errors={"lookup": f"lookup: {exc}"}, status=400)
    raise web.HTTPSeeOther(request.app.router["inbox.consent"].url_for(phone=phone_number))


async def contact_consent(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    try:
        phone_number = to_e164(request.match_info["phone"], services.settings.default_region)
    except InvalidPhoneNumber:
        raise web.HTTPNotFound(reason="That is not a phone number") from None
    async with services.sessionmaker() as session:
        consent = await _ledger.contact_consent(session, phone_number)
    return render_page(request, "consent/contact.html", {"consent": consent})


async def consent_export(request: web.Request) -> web.Response:
    """The ledger as a CSV attachment, filtered by number and UTC days (both ends included)."""
    services = request.config_dict[SERVICES]
    wanted, errors = _ledger.parse_export(request.query, services.settings.default_region)
    if wanted is None:
        return await _index(request, errors=errors, status=400)
    async with services.sessionmaker() as session:
        events = await ledger(
            session, phone_number=wanted.phone_number, since=wanted.since, until=wanted.until
        )
    disposition = f'attachment; filename="{wanted.filename}"'
    return web.Response(
        text=ledger_csv(events),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


async def consent_import(request: web.Request) -> web.Response:
    """Opt out every number of an uploaded or pasted list; a report row per line."""
    services = request.config_dict[SERVICES]
    try:
        form = await read_import_form(request, MAX_BYTES)
    except BadUpload as exc:
        return await _index(request, errors={"import": str(exc)}, status=400)
    try:
        async with services.sessionmaker.begin() as session:
            report = await import_opt_outs(
                session,
                form.text,
                default_region=services.settings.default_region,
                user_id=USER_ID,
                reason=form.reason or IMPORT_REASON,
            )
    except ImportRejected as exc:
        return await _index(request, errors={"import": str(exc)}, form=form, status=400)
    return render_page(request, "consent/import_report.html", {"report": report})


async def _index(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    form: ImportForm | None = None,
    status: int = 200,
) -> web.Response:
    services = request.config_dict[SERVICES]
    async with services.sessionmaker() as session:
        recent = await _ledger.recent(session)
    export = {name: request.query.get(name, "") for name in _ledger.EXPORT_FIELDS}
    context = {
        "errors": errors or {},
        "export": export,
        "lookup": request.query.get("lookup", ""),
        "pasted": form.pasted if form else "",
        "reason": form.reason if form else "",
        "default_reason": IMPORT_REASON,
        "max_mb": MAX_BYTES // (1024 * 1024),
        "region": services.settings.default_region,
        "recent": recent,
    }
    return render_page(request, "consent/index.html", context, status=status)
