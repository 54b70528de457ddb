"""ClickSend's inbound rule shape (``/automations/sms/inbound``) ↔ our rules (pure).

A ClickSend rule has one match type (``message_search_type`` 0 any, 1 starts
with, 2 contains, 3 does not contain), one term, one number or ``'*'`` and one
``action`` with its ``action_address`` (and ``body``, the reply text for
``AUTO_REPLY``). Ours go further, so an item carries both: the ClickSend fields
and our extensions (``priority``, ``match_type``, ``terms``, ``numbers``,
``conditions``, ``actions``, ``continue_matching``, ``cooldown_s``).

Reading a request, an extension wins over the ClickSend field it covers; when a
request gives both, they must agree (checked by the API once the rule is
parsed, see :func:`disagreements`). Every action ClickSend lists maps to ours:

=============================== ====================================================
AUTO_REPLY                      reply with ``body`` (a template; ``action_address`` unused)
EMAIL_USER / EMAIL_FIXED        forward_email to the API user / to ``action_address``
URL                             forward_url to ``action_address`` (``webhook_type``)
SMS / GROUP_SMS                 forward_sms to the number / each of the numbers
MOVE_CONTACT / CREATE_CONTACT   add_to_list ``action_address`` (contacts always exist here)
CREATE_CONTACT_PLUS_NAME(_EMAIL) contact_from_message name (and email), then add_to_list
CREATE_CONTACT_PLUS_EMAIL       contact_from_message email, then add_to_list
POLL / NONE                     nothing: every message stays in the inbox anyway
SMPP                            nothing, with a warning (no SMPP here; use URL)
=============================== ====================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot import matching
from bot.providers.clicksend_codes import INBOUND_RULE_ACTIONS
from bot.rule_validation import URL_METHODS

ANY_NUMBER = "*"
CLICKSEND_ACTIONS = INBOUND_RULE_ACTIONS  # every action the reference lists
CONTACT_CAPTURE = {
    "CREATE_CONTACT": (),
    "MOVE_CONTACT": (),
    "CREATE_CONTACT_PLUS_NAME": ("name",),
    "CREATE_CONTACT_PLUS_EMAIL": ("email",),
    "CREATE_CONTACT_PLUS_NAME_EMAIL": ("name", "email"),
}
CLICKSEND_FIELDS = (
    "rule_name",
    "dedicated_number",
    "message_search_type",
    "message_search_term",
    "action",
    "action_address",
    "body",
    "enabled",
    "webhook_type",
)
EXTENSIONS = (
    "priority",
    "match_type",
    "terms",
    "numbers",
    "conditions",
    "actions",
    "continue_matching",
    "cooldown_s",
)
READ_ONLY = ("inbound_rule_id", "hit_count", "last_hit_at", "warnings")
COVERED_BY = {
    "dedicated_number": "numbers",
    "message_search_type": "match_type",
    "message_search_term": "terms",
    "action": "actions",
    "action_address": "actions",
    "body": "actions",
    "webhook_type": "actions",
}
_SEPARATORS = re.compile(r"[,;\s]+")


class InvalidClickSendRule(ValueError):
    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


class RuleLike(Protocol):
    id: int
    name: str
    enabled: bool
    priority: int
    numbers: list[str]
    match_type: str
    terms: list[str]
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    continue_matching: bool
    cooldown_s: int
    hit_count: int


@dataclass
class Mapped:
    """Our rule fields read from a request, where each came from, and warnings."""

    fields: dict[str, Any]
    aliases: dict[str, str] = field(default_factory=dict)  # our path prefix → request field
    warnings: list[str] = field(default_factory=list)

    def request_field(self, path: str) -> str:
        """The request's name for an error at ``path`` (ours unless it came from ClickSend's)."""
        for prefix, name in sorted(self.aliases.items(), key=lambda item: -len(item[0])):
            if path == prefix or path.startswith((prefix + ".", prefix + "[")):
                return name
        return path


# -- request → our fields -----------------------------------------------------------


def from_request(payload: Mapping[str, Any], base: Mapping[str, Any], *, user_email: str) -> Mapped:
    """Our rule fields: ``base`` (the stored rule, or {} on create) overlaid with the
    request's fields. Raises InvalidClickSendRule for a field no mapping can read."""
    unknown = sorted(set(payload) - {*CLICKSEND_FIELDS, *EXTENSIONS, *READ_ONLY})
    if unknown:
        raise InvalidClickSendRule(str(unknown[0])[:40], "is not a field of a rule")
    mapped = Mapped(fields=dict(base), aliases={"name": "rule_name"})
    given = {name: payload[name] for name in EXTENSIONS if name in payload}
    mapped.fields.update(given)
    if "rule_name" in payload:
        mapped.fields["name"] = payload["rule_name"]
        mapped.aliases["name"] = "rule_name"
    if "enabled" in payload:
        mapped.fields["enabled"] = payload["enabled"]
    _read_match(payload, mapped)
    _read_number(payload, mapped)
    if "actions" not in payload and "action" in payload:
        _read_action(payload, mapped, user_email)
    elif "actions" not in payload and _action_details(payload):
        raise InvalidClickSendRule(_action_details(payload)[0], "needs action")
    return mapped


def _action_details(payload: Mapping[str, Any]) -> list[str]:
    return [name for name in ("action_address", "body", "webhook_type") if name in payload]


def _read_match(payload: Mapping[str, Any], mapped: Mapped) -> None:
    if "match_type" not in payload and "message_search_type" in payload:
        mapped.fields["match_type"] = payload["message_search_type"]
        mapped.aliases["match_type"] = "message_search_type"
    if "terms" in payload or "message_search_term" not in payload:
        return
    term = payload["message_search_term"]
    if term is not None and not isinstance(term, str):
        raise InvalidClickSendRule("message_search_term", "must be a string")
    mapped.aliases["terms"] = "message_search_term"
    if _is_any(mapped.fields.get("match_type")) or not term:
        mapped.fields["terms"] = []  # ClickSend ignores the term of type 0
    else:
        mapped.fields["terms"] = [term]


def _is_any(value: Any) -> bool:
    return value in (0, "0", matching.MatchType.ANY.value)


def _read_number(payload: Mapping[str, Any], mapped: Mapped) -> None:
    if "numbers" in payload or "dedicated_number" not in payload:
        return
    number = payload["dedicated_number"]
    if not isinstance(number, str):
        raise InvalidClickSendRule("dedicated_number", "must be '*' or a phone number")
    mapped.fields["numbers"] = [] if number.strip() in ("", ANY_NUMBER) else [number]
    mapped.aliases["numbers"] = "dedicated_number"


def _read_action(payload: Mapping[str, Any], mapped: Mapped, user_email: str) -> None:
    action = payload["action"]
    if not isinstance(action, str) or action.strip().upper() not in CLICKSEND_ACTIONS:
        shown = f"{action[:40]!r} is not a ClickSend action; " if isinstance(action, str) else ""
        raise InvalidClickSendRule("action", f"{shown}use one of: {', '.join(CLICKSEND_ACTIONS)}")
    action = action.strip().upper()
    address = _optional_text(payload, "action_address").strip()
    body = payload.get("body")
    method = _webhook_type(payload, action, mapped)
    mapped.fields["actions"] = _actions_for(action, address, body, method, user_email, mapped)
    mapped.aliases["actions"] = "action_address"
    if action == "AUTO_REPLY":
        mapped.aliases["actions[0].body"] = "body"
    elif body not in (None, ""):
        mapped.warnings.append(f"body: not used by action {action}; ignored")


def _optional_text(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidClickSendRule(name, "must be a string")
    return value


def _webhook_type(payload: Mapping[str, Any], action: str, mapped: Mapped) -> str:
    method = _optional_text(payload, "webhook_type").strip().lower() or "post"
    if method not in URL_METHODS:
        raise InvalidClickSendRule("webhook_type", f"must be one of: {', '.join(URL_METHODS)}")
    if "webhook_type" in payload and action != "URL":
        mapped.warnings.append(f"webhook_type: only used by action URL; ignored for {action}")
    return method


def _actions_for(
    action: str, address: str, body: Any, method: str, user_email: str, mapped: Mapped
) -> list[dict[str, Any]]:
    if action == "AUTO_REPLY":
        if body is None or body == "":
            raise InvalidClickSendRule("body", "is required for AUTO_REPLY: the reply text")
        return [{"type": "reply", "body": body}]
    if action in ("POLL", "NONE", "SMPP"):
        if action == "SMPP":
            mapped.warnings.append(
                "action: SMPP delivery is not available; messages stay in the inbox "
                "(use URL to forward them)"
            )
        return []
    if action in CONTACT_CAPTURE:
        return _contact_actions(CONTACT_CAPTURE[action], address)
    if not address and action != "EMAIL_USER":
        raise InvalidClickSendRule("action_address", f"is required for action {action}")
    return _forward_actions(action, address or user_email, method)


def _contact_actions(captured: tuple[str, ...], address: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [{"type": "contact_from_message", "field": f} for f in captured]
    if address:
        steps.append({"type": "add_to_list", "list": address})
    return steps


def _forward_actions(action: str, address: str, method: str) -> list[dict[str, Any]]:
    if action in ("EMAIL_USER", "EMAIL_FIXED"):
        return [{"type": "forward_email", "to": address}]
    if action == "URL":
        return [{"type": "forward_url", "url": address, "method": method}]
    if action == "SMS":
        return [{"type": "forward_sms", "to": address}]
    numbers = [n for n in _SEPARATORS.split(address) if n]  # GROUP_SMS
    return [{"type": "forward_sms", "to": number} for number in numbers]


# -- our rule → item ----------------------------------------------------------------


def to_item(rule: RuleLike, *, last_hit_at: int | None, templates: Mapping[int, str]) -> dict:
    """The API item: ClickSend's fields, then our extensions. ``templates`` maps the
    ids of templates the rule replies with to their bodies (AUTO_REPLY's ``body``)."""
    search_type = search_type_of(rule.match_type)
    return {
        "inbound_rule_id": rule.id,
        "dedicated_number": rule.numbers[0] if rule.numbers else ANY_NUMBER,
        "rule_name": rule.name,
        "message_search_type": search_type,
        "message_search_term": rule.terms[0] if rule.terms else None,
        **clicksend_action(rule.actions, templates),
        "enabled": 1 if rule.enabled else 0,
        "priority": rule.priority,
        "match_type": rule.match_type,
        "terms": list(rule.terms),
        "numbers": list(rule.numbers),
        "conditions": list(rule.conditions),
        "actions": list(rule.actions),
        "continue_matching": rule.continue_matching,
        "cooldown_s": rule.cooldown_s,
        "hit_count": rule.hit_count,
        "last_hit_at": last_hit_at,
    }


def search_type_of(match_type: str) -> int | None:
    """ClickSend's message_search_type, or None for our match types beyond 0..3."""
    for number, kind in matching.CLICKSEND_SEARCH_TYPES.items():
        if kind.value == match_type:
            return number
    return None


def clicksend_action(actions: list[dict[str, Any]], templates: Mapping[int, str]) -> dict:
    """``action``, ``action_address``, ``body`` and ``webhook_type`` for our action list:
    the ClickSend action that does the same when there is one, otherwise the one
    for the first action ClickSend can express (``actions`` says the rest)."""
    whole = _whole_list(actions, templates)
    if whole is not None:
        return whole
    for action in actions:
        single = _whole_list([action], templates)
        if single is not None and single["action"] != "NONE":
            return single
    return _view("NONE")


def _view(action: str, address: str = "", body: str | None = None, hook: str | None = None):
    return {"action": action, "action_address": address, "body": body, "webhook_type": hook}


def _whole_list(actions: list[dict[str, Any]], templates: Mapping[int, str]) -> dict | None:
    kinds = [action["type"] for action in actions]
    if not kinds:
        return _view("NONE")
    if kinds == ["reply"]:
        reply = actions[0]
        return _view(
            "AUTO_REPLY", body=reply.get("body") or templates.get(reply.get("template_id"))
        )
    if len(kinds) == 1 and kinds[0] in ("forward_email", "forward_url", "forward_sms"):
        return _forward_view(actions[0])
    if len(kinds) > 1 and set(kinds) == {"forward_sms"}:
        return _view("GROUP_SMS", ",".join(action["to"] for action in actions))
    return _contact_view(actions)


def _forward_view(action: dict[str, Any]) -> dict:
    if action["type"] == "forward_email":
        return _view("EMAIL_FIXED", action["to"])
    if action["type"] == "forward_url":
        return _view("URL", action["url"], hook=action.get("method", "post"))
    return _view("SMS", action["to"])


def _contact_view(actions: list[dict[str, Any]]) -> dict | None:
    lists = [a["list"] for a in actions if a["type"] == "add_to_list"]
    captured = tuple(a["field"] for a in actions if a["type"] == "contact_from_message")
    if len(lists) > 1 or len(lists) + len(captured) != len(actions):
        return None
    for name, wanted in CONTACT_CAPTURE.items():
        if name != "MOVE_CONTACT" and wanted == captured:
            return _view(name, lists[0] if lists else "")
    return None


def disagreements(payload: Mapping[str, Any], item: Mapping[str, Any]) -> list[str]:
    """ClickSend fields the request gave alongside the extension that covers them,
    whose value differs from what the extension says (``enabled`` compared as 0/1)."""
    found = []
    for name, extension in COVERED_BY.items():
        if name in payload and extension in payload and not _same(name, payload[name], item):
            found.append(name)
    return found


def _same(name: str, given: Any, item: Mapping[str, Any]) -> bool:
    derived = item[name]
    if name == "message_search_type" and isinstance(given, str) and given.strip().isdigit():
        given = int(given.strip())
    if name == "action" and isinstance(given, str):
        given = given.strip().upper()
    if name == "dedicated_number" and given in (ANY_NUMBER, "") and derived == ANY_NUMBER:
        return True
    if name == "dedicated_number" and isinstance(given, str):
        return given.strip() in item["numbers"] or given.strip() == derived
    return given == derived or (given in ("", None) and derived in ("", None))
