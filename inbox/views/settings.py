"""Settings: the compliance texts, scope and keywords, and the webhook URLs for ClickSend.

Compliance settings are validated by bot/compliance_settings.py; a bad value is
refused with the form shown again (400), the message next to its field and
everything the operator typed kept. The pipeline reads the settings on every
round, so a saved change applies to the next inbound message without a restart.
"""

from __future__ import annotations

import re

from aiohttp import web
from multidict import MultiDictProxy

from bot import compliance_settings
from bot.compliance_settings import VOCABULARY_FIELDS, ComplianceSettings, InvalidSetting
from inbox.keys import SERVICES
from inbox.views._page import form_text, just_saved, read_form, render_page, saved_redirect

FLAGS = ("confirmation_enabled", "spanish")
TEXTS = (
    "business_name",
    "scope",
    "confirmation_text",
    "opt_in_text",
    "help_text",
    "help_cooldown_minutes",
)
LABELS = {
    "business_name": "Business name",
    "scope": "Opt-out scope",
    "confirmation_enabled": "Opt-out confirmation",
    "confirmation_text": "Opt-out confirmation text",
    "opt_in_text": "Opt-in confirmation text",
    "help_text": "HELP reply",
    "help_cooldown_minutes": "HELP cooldown",
    "spanish": "Spanish keywords",
    "opt_out_keywords": "Opt-out keywords",
    "opt_in_keywords": "Opt-in keywords",
    "help_keywords": "HELP keywords",
    "filler_words": "Filler words",
    "opt_out_phrases": "Opt-out phrases",
}
WEBHOOK_PATH = "/webhooks/clicksend/{token}/{kind}"
HOST_SHAPE = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


async def compliance_form(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    async with services.sessionmaker() as session:
        current = await compliance_settings.load(session)
    return _render(request, form_values(current), {}, saved=just_saved(request))


async def compliance_save(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    values = submitted(await read_form(request))
    try:
        settings = compliance_settings.from_dict(values)
        _check_vocabulary(settings)
        async with services.sessionmaker.begin() as session:
            await compliance_settings.save(session, settings)
    except InvalidSetting as exc:
        return _render(request, values, {exc.field: _message(exc)}, status=400)
    raise saved_redirect(request, "inbox.settings.compliance")


def form_values(settings: ComplianceSettings) -> dict[str, str]:
    """The settings as the form shows them: flags "on" or "", lists one entry a line."""
    values = {name: str(getattr(settings, name)) for name in TEXTS}
    values |= {name: "on" if getattr(settings, name) else "" for name in FLAGS}
    values |= {name: "\n".join(getattr(settings, name)) for name in VOCABULARY_FIELDS}
    return values


def submitted(form: MultiDictProxy) -> dict[str, str]:
    """Every field as typed (an unticked checkbox is absent, so it reads as "")."""
    return {name: form_text(form, name) for name in (*TEXTS, *FLAGS, *VOCABULARY_FIELDS)}


def _check_vocabulary(settings: ComplianceSettings) -> None:
    """The classifier must accept the lists, or every later inbound message would fail."""
    try:
        settings.vocabulary()
    except (TypeError, ValueError) as exc:
        raise InvalidSetting("filler_words", str(exc)) from None


def _message(exc: InvalidSetting) -> str:
    problem = str(exc).partition(": ")[2]
    return f"{LABELS.get(exc.field, exc.field)}: {problem}"


def webhook_urls(request: web.Request, tokens: tuple[str, ...]) -> dict[str, str]:
    base = public_base_url(request)
    token = tokens[0] if tokens else "TOKEN"
    return {
        kind: base + WEBHOOK_PATH.format(token=token, kind=kind) for kind in ("inbound", "receipts")
    }


def public_base_url(request: web.Request) -> str:
    """The address the browser used, also behind a TLS-terminating reverse proxy.

    The proxy's X-Forwarded-Proto/-Host win over the plain-HTTP hop it made to us.
    Only for display: a forged header changes what the forger sees, nothing else.
    """
    proto = _first_forwarded(request, "X-Forwarded-Proto").lower()
    host = _first_forwarded(request, "X-Forwarded-Host")
    scheme = proto if proto in ("http", "https") else request.scheme
    return f"{scheme}://{host if HOST_SHAPE.fullmatch(host) else request.host}"


def _first_forwarded(request: web.Request, name: str) -> str:
    return request.headers.get(name, "").split(",")[0].strip()


def _render(
    request: web.Request,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    saved: bool = False,
    status: int = 200,
) -> web.Response:
    services = request.config_dict[SERVICES]
    context = {
        "values": values,
        "errors": errors,
        "labels": LABELS,
        "scopes": compliance_settings.SCOPES,
        "saved": saved,
        "webhooks": webhook_urls(request, services.webhook_tokens),
        "previous_token_valid": len(services.webhook_tokens) > 1,
        "token_from_env": bool(services.settings.webhook_token),
    }
    return render_page(request, "settings/compliance.html", context, status=status)
