"""A ClickSend REST v3-compatible SMS API in memory, as an aiohttp sub-application.

Demo mode mounts it at ``/_sim/clicksend/v3`` inside the main app and points the
real :class:`~bot.providers.clicksend.ClickSendClient` at it, so the whole
send → receipt → reply loop runs without a ClickSend account. ``smsdesk
simulator`` serves it standalone under ``/v3``.

Invented behaviour, where the reference leaves a choice (§16): every accepted
message, test numbers included, gets a ``Delivered``/``201`` receipt after
``receipt_delay_s``; test numbers cost nothing; identical text to the same
(non-test) number within 10 s is ``THROTTLED``; mark-read ``date_before`` is
strictly-less-than; ``/sms/history`` date bounds are inclusive; pushes go only
to the configured URLs. Split by idea: :mod:`simulator_state` (memory and
background work), :mod:`simulator_web` (envelope, auth, paging),
:mod:`simulator_send` (/sms/send), :mod:`simulator_push` (webhook retries),
:mod:`simulator_faults` (fault injection, off unless configured),
:mod:`simulator_automations` (inbound rules and SMS templates, kept, not run).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.providers import simulator_automations
from bot.providers.simulator_faults import check_faults, control_faults, control_stats
from bot.providers.simulator_send import send_sms
from bot.providers.simulator_state import SimulatorConfig, SimulatorState
from bot.providers.simulator_web import (
    ACCOUNT,
    STATE,
    TEMPLATES,
    SimError,
    basic_auth,
    currency_block,
    date_before,
    envelope,
    envelope_errors,
    int_value,
    paginate,
    read_json,
    record_requests,
    select,
)

__all__ = ["SimulatorConfig", "SimulatorState", "create_simulator_app", "create_standalone_app"]

MAX_REQUEST_BYTES = 4 * 1024 * 1024  # 1000 messages of 6 parts fit comfortably
_RECEIPTS_MSG = "Here are your delivery receipts."


def create_simulator_app(config: SimulatorConfig) -> tuple[web.Application, SimulatorState]:
    """The sub-app (routes relative to its mount point) and the state tests inspect."""
    check_faults(config)
    state = SimulatorState(config)
    app = web.Application(
        middlewares=[envelope_errors, record_requests, basic_auth],
        client_max_size=MAX_REQUEST_BYTES,
    )
    app[STATE] = state
    _add_routes(app)
    app[TEMPLATES] = {resource: resource.canonical for resource in app.router.resources()}
    app.on_cleanup.append(_close_state)
    return app, state


def create_standalone_app(config: SimulatorConfig) -> web.Application:
    """A root app serving the simulator under ``/v3``, as ClickSend does."""
    root = web.Application(client_max_size=MAX_REQUEST_BYTES)
    simulator, _state = create_simulator_app(config)
    root.add_subapp("/v3", simulator)
    return root


def _add_routes(app: web.Application) -> None:
    router = app.router
    router.add_post("/sms/send", send_sms)
    router.add_get("/sms/history", sms_history)
    router.add_get("/sms/inbound", list_inbound)
    router.add_put("/sms/inbound-read", mark_inbound_read)
    router.add_put("/sms/inbound-read/{message_id}", mark_one_inbound_read)
    router.add_get("/sms/receipts", list_receipts)
    router.add_put("/sms/receipts-read", mark_receipts_read)
    router.add_get("/account", get_account)
    router.add_get("/lists", list_lists)
    router.add_get(r"/lists/{list_id}/contacts", list_contacts)
    simulator_automations.add_routes(router)
    router.add_post("/_simulator/inbound", control_inbound)
    router.add_put("/_simulator/faults", control_faults)
    router.add_get("/_simulator/stats", control_stats)


async def _close_state(app: web.Application) -> None:
    await app[STATE].close()


# -- inbound (§3) ----------------------------------------------------------------------


async def list_inbound(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return envelope(paginate(request, select(request, state.inbound)))


async def mark_inbound_read(request: web.Request) -> web.Response:
    state = request.app[STATE]
    before = date_before(await read_json(request, required=False))
    state.inbound[:] = _unread_after(state.inbound, before)
    return envelope([], "Inbound messages have been marked as read.")


async def mark_one_inbound_read(request: web.Request) -> web.Response:
    """Idempotent for ids we know (already read is fine); unknown ids are 404."""
    state = request.app[STATE]
    message_id = request.match_info["message_id"]
    if not state.known_inbound(message_id):
        raise SimError(404, "NOT_FOUND", f"Inbound message {message_id} was not found.")
    state.inbound[:] = [item for item in state.inbound if item["message_id"] != message_id]
    return envelope(1, "Receipt have been marked as read.")


async def control_inbound(request: web.Request) -> web.Response:
    """Not ClickSend: make a handset "reply" (JSON {from, to, body})."""
    payload = await read_json(request)
    if not isinstance(payload, dict):
        raise SimError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    fields = [payload.get(name) for name in ("from", "to", "body")]
    if not all(isinstance(value, str) for value in fields) or not fields[0].strip():
        raise SimError(400, "MISSING_REQUIRED_FIELDS", "from, to and body are required strings.")
    item = await request.app[STATE].inject_inbound(*fields)
    return envelope(item, "Here are your incoming messages.")


# -- receipts (§4) ---------------------------------------------------------------------


async def list_receipts(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return envelope(paginate(request, select(request, state.receipts)), _RECEIPTS_MSG)


async def mark_receipts_read(request: web.Request) -> web.Response:
    state = request.app[STATE]
    before = date_before(await read_json(request, required=False))
    state.receipts[:] = _unread_after(state.receipts, before)
    return envelope([], "Receipts has been marked as read.")


def _unread_after(items: list[dict], before: int | None) -> list[dict]:
    """What stays unread: nothing without ``date_before``, else ``timestamp >= before``."""
    if before is None:
        return []
    return [item for item in items if int(item["timestamp"]) >= before]


# -- contact lists (§6, §7) --------------------------------------------------------------


async def list_lists(request: web.Request) -> web.Response:
    """Lists in creation order (ClickSend lists them by id)."""
    state = request.app[STATE]
    items = [state.list_item(list_id) for list_id in sorted(state.lists)]
    return envelope(paginate(request, items))


async def list_contacts(request: web.Request) -> web.Response:
    """A list's contacts, oldest first; an unknown or malformed list id is 404."""
    state = request.app[STATE]
    raw = request.match_info["list_id"]
    list_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None
    if list_id is None or list_id not in state.lists:
        raise SimError(404, "NOT_FOUND", f"List #{raw[:20]} was not found.")
    return envelope(paginate(request, state.contacts[list_id]))


# -- history and account (§2.5, §12) ---------------------------------------------------


async def sms_history(request: web.Request) -> web.Response:
    """Sent messages with ``date_from <= date <= date_to`` (both optional, inclusive)."""
    state = request.app[STATE]
    low = int_value(request.query.get("date_from"), "date_from")
    high = int_value(request.query.get("date_to"), "date_to")
    items = [m for m in state.sent if _within(int(m["date"]), low, high)]
    return envelope(paginate(request, select(request, items)))


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


async def get_account(request: web.Request) -> web.Response:
    state = request.app[STATE]
    account = request[ACCOUNT]
    data: dict[str, Any] = {
        "user_id": 1,
        "username": account.username,
        "user_email": f"{account.username}@simulator.invalid",
        "active": int(account.active),
        "banned": int(account.banned),
        "balance": f"{account.balance:.6f}",
        "account_name": "smsdesk simulator",
        "country": "AU",
        "default_country_sms": "AU",
        "auto_recharge": 0,
        "setting_unicode_sms": 0,
        "setting_sms_message_char_limit": 6,
        "balance_commission": "0.000000",
        "timezone": "UTC",
        "_currency": currency_block(state.config.currency),
    }
    return envelope(data, "Here's your account")
