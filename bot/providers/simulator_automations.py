"""The simulator's inbound SMS rules (§9, ``/automations/sms/inbound``) and SMS
templates (§5, ``/sms/templates``): list, create, read, change and delete.

The simulator only keeps them (so a client can read an account's rules and
templates back); it does not run the rules. Invented where the reference is
silent: lists come newest first, as in the reference's example of a rule page;
``webhook_type`` is accepted and, as documented, not echoed; a type-0 rule may
leave ``message_search_term`` empty; every field of a create or update is
required, as the reference's table says, except ``body`` (null when absent).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.providers.clicksend_codes import INBOUND_RULE_ACTIONS, SEARCH_TYPES
from bot.providers.simulator_web import STATE, SimError, envelope, int_value, paginate, read_json

RULE_REQUIRED = (
    "dedicated_number",
    "rule_name",
    "message_search_type",
    "message_search_term",
    "action",
    "action_address",
    "enabled",
)
WEBHOOK_TYPES = ("post", "get", "json")
MAX_TEXT = 5000


def add_routes(router: web.UrlDispatcher) -> None:
    rule = r"/automations/sms/inbound/{rule_id}"
    template = r"/sms/templates/{template_id}"
    router.add_get("/automations/sms/inbound", list_inbound_rules)
    router.add_post("/automations/sms/inbound", create_inbound_rule)
    router.add_get(rule, get_inbound_rule)
    router.add_put(rule, update_inbound_rule)
    router.add_delete(rule, delete_inbound_rule)
    router.add_get("/sms/templates", list_templates)
    router.add_post("/sms/templates", create_template)
    router.add_put(template, update_template)
    router.add_delete(template, delete_template)


# -- inbound rules (§9) ---------------------------------------------------------------


async def list_inbound_rules(request: web.Request) -> web.Response:
    rules = request.app[STATE].inbound_rules
    items = [rules[rule_id] for rule_id in sorted(rules, reverse=True)]
    return envelope(paginate(request, items), "Your list of inbound rules.")


async def create_inbound_rule(request: web.Request) -> web.Response:
    fields = rule_fields(await _object(request))
    rule = request.app[STATE].add_inbound_rule(fields)
    return envelope(rule, "Your record has been added.")


async def get_inbound_rule(request: web.Request) -> web.Response:
    return envelope(_stored_rule(request), "Your inbound rule.")


async def update_inbound_rule(request: web.Request) -> web.Response:
    rule = _stored_rule(request)
    rule.update(rule_fields(await _object(request)))
    return envelope(rule, "Your record has been updated.")


async def delete_inbound_rule(request: web.Request) -> web.Response:
    rule = _stored_rule(request)
    del request.app[STATE].inbound_rules[rule["inbound_rule_id"]]
    return envelope([], "Your record has been deleted.")


def _stored_rule(request: web.Request) -> dict:
    rule_id = _path_id(request, "rule_id")
    rule = request.app[STATE].inbound_rules.get(rule_id) if rule_id is not None else None
    if rule is None:
        shown = request.match_info["rule_id"][:20]
        raise SimError(404, "NOT_FOUND", f"Inbound rule #{shown} was not found.")
    return rule


def rule_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """A create or update body checked and stored the way the reference's example
    echoes it (``webhook_type`` is not kept: ClickSend does not echo it)."""
    missing = [name for name in RULE_REQUIRED if name not in payload]
    if missing:
        raise SimError(400, "MISSING_REQUIRED_FIELDS", f"Missing fields: {', '.join(missing)}.")
    search_type = int_value(payload["message_search_type"], "message_search_type")
    if search_type not in SEARCH_TYPES:
        raise SimError(400, "BAD_REQUEST", "message_search_type must be 0, 1, 2 or 3.")
    action = _required(payload, "action")
    if action not in INBOUND_RULE_ACTIONS:
        message = f"action must be one of {', '.join(INBOUND_RULE_ACTIONS)}."
        raise SimError(400, "BAD_REQUEST", message)
    _webhook_type(payload)
    term = _text(payload, "message_search_term")
    if term is None and search_type != 0:
        raise SimError(400, "MISSING_REQUIRED_FIELDS", "message_search_term must not be empty.")
    return {
        "dedicated_number": _required(payload, "dedicated_number"),
        "rule_name": _required(payload, "rule_name"),
        "message_search_type": search_type,
        "message_search_term": term,
        "action": action,
        "action_address": _text(payload, "action_address") or "",
        "body": _text(payload, "body"),
        "enabled": 1 if int_value(payload["enabled"], "enabled") else 0,
    }


def _webhook_type(payload: dict[str, Any]) -> None:
    value = payload.get("webhook_type")
    if value is not None and value not in WEBHOOK_TYPES:
        message = f"webhook_type must be one of {', '.join(WEBHOOK_TYPES)}."
        raise SimError(400, "BAD_REQUEST", message)


# -- SMS templates (§5) ---------------------------------------------------------------


async def list_templates(request: web.Request) -> web.Response:
    templates = request.app[STATE].sms_templates
    items = [templates[template_id] for template_id in sorted(templates, reverse=True)]
    return envelope(paginate(request, items))


async def create_template(request: web.Request) -> web.Response:
    name, body = _template_fields(await _object(request))
    template = request.app[STATE].add_sms_template(name, body)
    return envelope(template, "New template has been saved.")


async def update_template(request: web.Request) -> web.Response:
    template = _stored_template(request)
    name, body = _template_fields(await _object(request))
    template.update(template_name=name, body=body)
    return envelope(template, "Your template has been updated.")


async def delete_template(request: web.Request) -> web.Response:
    template = _stored_template(request)
    del request.app[STATE].sms_templates[template["template_id"]]
    return envelope([], "Your template has been deleted.")


def _stored_template(request: web.Request) -> dict:
    template_id = _path_id(request, "template_id")
    templates = request.app[STATE].sms_templates
    template = templates.get(template_id) if template_id is not None else None
    if template is None:
        shown = request.match_info["template_id"][:20]
        raise SimError(404, "NOT_FOUND", f"Template #{shown} was not found.")
    return template


def _template_fields(payload: dict[str, Any]) -> tuple[str, str]:
    missing = [name for name in ("template_name", "body") if name not in payload]
    if missing:
        raise SimError(400, "MISSING_REQUIRED_FIELDS", f"Missing fields: {', '.join(missing)}.")
    return _required(payload, "template_name"), _required(payload, "body")


# -- helpers --------------------------------------------------------------------------


async def _object(request: web.Request) -> dict[str, Any]:
    payload = await read_json(request)
    if not isinstance(payload, dict):
        raise SimError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    return payload


def _text(payload: dict[str, Any], name: str) -> str | None:
    """An optional text field: None when absent or empty."""
    value = payload.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        message = f"{name} must be a string of at most {MAX_TEXT} characters."
        raise SimError(400, "BAD_REQUEST", message)
    return value


def _required(payload: dict[str, Any], name: str) -> str:
    value = _text(payload, name)
    if value is None:
        raise SimError(400, "MISSING_REQUIRED_FIELDS", f"{name} must not be empty.")
    return value


def _path_id(request: web.Request, name: str) -> int | None:
    raw = request.match_info[name]
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None
