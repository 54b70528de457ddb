"""POST /rules/import-clicksend: bring the ClickSend account's inbound rules and SMS
templates over in one step (bot/rule_import.py), answering a per-item report.

The account is read before the transaction opens, so no write lock is held over
the network; ClickSend failing (credentials, network, an account too large to
import whole) is a 502 ``PROVIDER_ERROR`` naming the problem, and nothing is
imported. Rules arrive disabled unless the request says ``{"enable": true}``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import rule_import
from bot.rule_import import ImportFailed, ImportReport, ItemResult
from inbox.api.auth import API_USER
from inbox.api.envelope import ApiError, bad_request, envelope
from inbox.api.inputs import parse_json_object, read_capped
from inbox.keys import SERVICES

PROVIDER_ERROR = "PROVIDER_ERROR"
FIELDS = ("enable",)


async def import_clicksend(request: web.Request) -> web.Response:
    enable = _enable(await _payload(request))
    services = request.config_dict[SERVICES]
    if services.provider is None:
        raise ApiError(502, "No SMS provider is configured.", response_code=PROVIDER_ERROR)
    try:
        fetched = await rule_import.fetch_account(services.provider)
    except ImportFailed as exc:
        raise ApiError(502, str(exc), response_code=PROVIDER_ERROR) from None
    async with services.sessionmaker.begin() as session:
        report = await rule_import.import_fetched(
            session,
            fetched,
            enable=enable,
            user_email=request[API_USER].email,
            default_region=services.settings.default_region,
            account=services.clicksend_account,
        )
    return envelope(report_data(report), response_msg=summary(report))


async def _payload(request: web.Request) -> dict[str, Any]:
    """The JSON object of the body; no body at all means every default."""
    raw = await read_capped(request)
    return parse_json_object(raw) if raw.strip() else {}


def _enable(payload: dict[str, Any]) -> bool:
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise bad_request(str(unknown[0])[:40], "is not a field of the import; send enable")
    value = payload.get("enable", False)
    if not isinstance(value, bool):
        raise bad_request("enable", "must be true or false")
    return value


def summary(report: ImportReport) -> str:
    counts = ", ".join(
        f"{report.count(status)} {status}" for status in ("imported", "skipped", "refused")
    )
    if report.enabled:
        return f"ClickSend import: {counts}."
    return (
        f"ClickSend import: {counts}. Imported rules are disabled: review them, switch "
        "the rules off at ClickSend, then enable them here."
    )


def report_data(report: ImportReport) -> dict[str, Any]:
    return {
        "imported": report.count("imported"),
        "skipped": report.count("skipped"),
        "refused": report.count("refused"),
        "enabled": report.enabled,
        "templates": [_item(item, "template_id") for item in report.templates],
        "rules": [_item(item, "inbound_rule_id") for item in report.rules],
    }


def _item(item: ItemResult, our_id: str) -> dict[str, Any]:
    """``clicksend_id`` is ClickSend's id; ``inbound_rule_id`` / ``template_id`` ours."""
    return {
        "clicksend_id": item.clicksend_id,
        "name": item.name,
        "status": item.status,
        our_id: item.id,
        "message": item.message,
        "warnings": list(item.warnings),
    }
