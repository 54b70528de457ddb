"""Checks for a rule's conditions and actions (pure): the JSON shapes stored in
``Rule.conditions`` and ``Rule.actions``.

Each entry is an object whose ``type`` picks a checker from an explicit table.
A checker returns the entry normalised (known keys only, values of the right
type) or raises :class:`Bad` naming the key, so a caller can report
``actions[2].url: must be an http(s) URL``. Reply bodies go through
``templating.validate``: an error refuses the rule, a warning is returned.
Whether a referenced template, user or list exists is for bot/rules.py, which
has the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bot import templating
from bot.phones import InvalidPhoneNumber, to_e164

MAX_ENTRIES = 20
MAX_NAME = 100
MAX_LABEL = 50
MAX_VALUE = 500
MAX_BODY = 1600
MAX_URL = 2000
MAX_ID = 2**31 - 1
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "custom_1",
    "custom_2",
    "custom_3",
    "custom_4",
)
CUSTOM_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,49}")
EMAIL = re.compile(r"[^@\s<>\"',;]{1,64}@[^@\s<>\"',;.]+(\.[^@\s<>\"',;.]+)+")
CONVERSATION_STATUSES = ("open", "closed")
URL_METHODS = ("post", "get", "json")
MESSAGE_FIELDS = ("name", "email")


class Bad(ValueError):
    """One problem in one entry: ``key`` is the entry's key at fault ('' for the entry)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key
        self.problem = problem


@dataclass
class Checked:
    """Normalised entries, and warnings (template variables nobody defines, …)."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    default_region: str = "US"


# -- value readers ------------------------------------------------------------------


def text(entry: Mapping[str, Any], key: str, limit: int) -> str:
    value = entry.get(key)
    if value is None:
        raise Bad(key, "is required")
    if not isinstance(value, str):
        raise Bad(key, "must be a string")
    value = value.strip()
    if not value:
        raise Bad(key, "must not be empty")
    if len(value) > limit:
        raise Bad(key, f"must be at most {limit} characters")
    if any(ord(ch) < 32 for ch in value):
        raise Bad(key, "must not contain control characters")
    return value


def flag(entry: Mapping[str, Any], key: str) -> bool:
    value = entry.get(key)
    if value is None:
        raise Bad(key, "is required (true or false)")
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1", "true", "false"):
        return value in (1, "1", "true")
    raise Bad(key, "must be true or false")


def choice(entry: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str = "") -> str:
    value = entry.get(key, default or None)
    if value is None:
        raise Bad(key, f"is required; one of: {', '.join(choices)}")
    if not isinstance(value, str) or value.strip().lower() not in choices:
        raise Bad(key, f"must be one of: {', '.join(choices)}")
    return value.strip().lower()


def email(entry: Mapping[str, Any], key: str) -> str:
    value = text(entry, key, 254)
    if not EMAIL.fullmatch(value):
        raise Bad(key, f"{value[:60]!r} is not an email address")
    return value.lower()


def http_url(entry: Mapping[str, Any], key: str) -> str:
    value = text(entry, key, MAX_URL)
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise Bad(key, "must be an http(s) URL") from None
    if parts.scheme.lower() not in ("http", "https") or not host or " " in value:
        raise Bad(key, "must be an http(s) URL")
    return value


def positive_id(entry: Mapping[str, Any], key: str) -> int:
    value = entry.get(key)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise Bad(key, "must be a positive whole number")
    return value


@dataclass
class Notes:
    """Where the entry being checked sits, and the warnings gathered so far."""

    where: str
    warnings: list[str]

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(f"{self.where}.{key}: {message}")


def template_body(body: str, key: str, notes: Notes) -> None:
    """Refuse a body with template errors; note its warnings."""
    result = templating.validate(body)
    if result.errors:
        raise Bad(key, issue_text(result.errors[0]))
    for issue in result.warnings:
        notes.warn(key, issue_text(issue))


def issue_text(issue: templating.TemplateIssue) -> str:
    if issue.line is None:
        return issue.message
    if issue.column is None:
        return f"line {issue.line}: {issue.message}"
    return f"line {issue.line}, column {issue.column}: {issue.message}"


# -- conditions ---------------------------------------------------------------------


def _business_hours(entry, ctx, notes):
    return {"inside": flag(entry, "inside")}


def _list_name(entry, ctx, notes):
    return {"list": text(entry, "list", MAX_NAME)}


def _tag(entry, ctx, notes):
    return {"tag": text(entry, "tag", MAX_LABEL).lower()}


def _status(entry, ctx, notes):
    return {"status": choice(entry, "status", CONVERSATION_STATUSES)}


def _nothing(entry, ctx, notes):
    return {}


Checker = Callable[[Mapping[str, Any], Context, Notes], dict[str, Any]]

CONDITIONS: dict[str, tuple[Checker, tuple[str, ...]]] = {
    "business_hours": (_business_hours, ("inside",)),
    "in_list": (_list_name, ("list",)),
    "not_in_list": (_list_name, ("list",)),
    "has_tag": (_tag, ("tag",)),
    "conversation_status": (_status, ("status",)),
    "first_message": (_nothing, ()),
}


# -- actions ------------------------------------------------------------------------


def _reply(entry, ctx, notes):
    has_template, has_body = entry.get("template_id") is not None, entry.get("body") is not None
    if has_template == has_body:
        raise Bad("", "give either template_id or body")
    if has_template:
        return {"template_id": positive_id(entry, "template_id")}
    body = entry["body"]
    if not isinstance(body, str) or not body.strip():
        raise Bad("body", "must be a non-empty string")
    if len(body) > MAX_BODY:
        raise Bad("body", f"must be at most {MAX_BODY} characters")
    template_body(body, "body", notes)
    return {"body": body}


def _label(entry, ctx, notes):
    return {"label": text(entry, "label", MAX_LABEL).lower()}


def _assign(entry, ctx, notes):
    return {"email": email(entry, "email")}


def _set_field(entry, ctx, notes):
    name = text(entry, "field", 50)
    if name not in CONTACT_FIELDS and not CUSTOM_FIELD.fullmatch(name):
        raise Bad("field", f"must be one of {', '.join(CONTACT_FIELDS)} or a custom field name")
    has_value, has_regex = entry.get("value") is not None, entry.get("regex") is not None
    if has_value == has_regex:
        raise Bad("", "give either value or regex (with group)")
    if has_value:
        value = entry["value"]
        if not isinstance(value, str) or len(value) > MAX_VALUE:
            raise Bad("value", f"must be a string of at most {MAX_VALUE} characters")
        return {"field": name, "value": value}
    return {"field": name, **_capture(entry)}


def _capture(entry: Mapping[str, Any]) -> dict[str, Any]:
    pattern = text(entry, "regex", 200)
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise Bad("regex", f"is not a valid regular expression ({exc})") from None
    group = entry.get("group", 1 if compiled.groups else 0)
    if isinstance(group, str) and group.strip().isdigit():
        group = int(group.strip())
    if isinstance(group, str) and group in compiled.groupindex:
        return {"regex": pattern, "group": group}
    if isinstance(group, bool) or not isinstance(group, int) or not 0 <= group <= compiled.groups:
        raise Bad("group", f"must be a group of the regex (0 to {compiled.groups} or a name)")
    return {"regex": pattern, "group": group}


def _from_message(entry, ctx, notes):
    return {"field": choice(entry, "field", MESSAGE_FIELDS)}


def _forward_url(entry, ctx, notes):
    return {"url": http_url(entry, "url"), "method": choice(entry, "method", URL_METHODS, "post")}


def _forward_sms(entry, ctx, notes):
    raw = text(entry, "to", 32)
    try:
        return {"to": to_e164(raw, ctx.default_region)}
    except InvalidPhoneNumber as exc:
        raise Bad("to", str(exc)) from None


def _forward_email(entry, ctx, notes):
    return {"to": email(entry, "to")}


ACTIONS: dict[str, tuple[Checker, tuple[str, ...]]] = {
    "reply": (_reply, ("template_id", "body")),
    "add_label": (_label, ("label",)),
    "remove_label": (_label, ("label",)),
    "assign": (_assign, ("email",)),
    "add_to_list": (_list_name, ("list",)),
    "remove_from_list": (_list_name, ("list",)),
    "set_field": (_set_field, ("field", "value", "regex", "group")),
    "contact_from_message": (_from_message, ("field",)),
    "close": (_nothing, ()),
    "reopen": (_nothing, ()),
    "forward_url": (_forward_url, ("url", "method")),
    "forward_sms": (_forward_sms, ("to",)),
    "forward_email": (_forward_email, ("to",)),
}


# -- lists of entries ---------------------------------------------------------------


def check_conditions(value: Any, ctx: Context) -> Checked:
    return _check_list(value, "conditions", CONDITIONS, ctx)


def check_actions(value: Any, ctx: Context) -> Checked:
    return _check_list(value, "actions", ACTIONS, ctx)


class BadEntry(ValueError):
    """A problem at ``path`` (e.g. ``actions[2].url``)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _check_list(
    value: Any, name: str, table: Mapping[str, tuple[Checker, tuple[str, ...]]], ctx: Context
) -> Checked:
    if value is None:
        return Checked()
    if not isinstance(value, list):
        raise BadEntry(name, "must be a list of objects")
    if len(value) > MAX_ENTRIES:
        raise BadEntry(name, f"at most {MAX_ENTRIES} entries")
    checked = Checked()
    for index, entry in enumerate(value):
        where = f"{name}[{index}]"
        checked.entries.append(_check_entry(entry, where, table, ctx, checked.warnings))
    return checked


def _check_entry(entry, where, table, ctx, warnings) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise BadEntry(where, "must be an object with a type")
    kind = entry.get("type")
    if not isinstance(kind, str) or kind not in table:
        shown = f"{kind[:40]!r} is not a known type; " if isinstance(kind, str) else ""
        raise BadEntry(f"{where}.type", f"{shown}use one of: {', '.join(table)}")
    checker, keys = table[kind]
    unknown = sorted(set(entry) - {"type", *keys})
    if unknown:
        raise BadEntry(f"{where}.{unknown[0][:40]}", f"is not a field of a {kind} entry")
    try:
        return {"type": kind, **checker(entry, ctx, Notes(where, warnings))}
    except Bad as exc:
        raise BadEntry(f"{where}.{exc.key}" if exc.key else where, exc.problem) from None
