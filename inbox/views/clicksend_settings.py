"""Settings → ClickSend: the default sender id and what the account check last saw.

The sender id is checked by bot/sender_id.py before it is saved; a bad one is
refused with the form shown again (400) and the message next to the field. An
empty field removes the saved value, so SMSDESK_SENDER_ID (or ClickSend's own
default sender) applies again.
"""

from __future__ import annotations

from aiohttp import web

from bot import appsettings
from bot.sender_id import InvalidSenderId, check_sender_id
from inbox.keys import SERVICES
from inbox.views._page import form_text, just_saved, read_form, render_page, saved_redirect


async def clicksend_form(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    value = services.default_sender.saved or ""
    return _render(request, value, None, saved=just_saved(request))


async def clicksend_save(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    typed = form_text(await read_form(request), "sender_id")
    try:
        value = check_sender_id(typed) if typed.strip() else ""
    except InvalidSenderId as exc:
        return _render(request, typed, f"Sender id: {exc}", status=400)
    async with services.sessionmaker.begin() as session:
        await appsettings.put(session, appsettings.SENDER_ID, value)
    services.default_sender.saved = value or None
    raise saved_redirect(request, "inbox.settings.clicksend")


def _render(
    request: web.Request,
    value: str,
    error: str | None,
    *,
    saved: bool = False,
    status: int = 200,
) -> web.Response:
    services = request.config_dict[SERVICES]
    settings = services.settings
    checked = services.account.checked_at
    context = {
        "sender_id": value,
        "error": error,
        "saved": saved,
        "configured_sender_id": settings.sender_id,
        "inbound_mode": settings.inbound_mode.value,
        "poll_interval_s": settings.poll_interval_s,
        "checked_at": checked.strftime("%Y-%m-%d %H:%M:%S UTC") if checked else None,
    }
    return render_page(request, "settings/clicksend.html", context, status=status)
