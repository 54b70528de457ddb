"""How the workbench describes rules in words: match, numbers, conditions, actions.

Plain strings; the HTML templates escape them like any other text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot import matching

CONDITION_LABELS = {
    "business_hours": "Business hours",
    "in_list": "Contact is in list",
    "not_in_list": "Contact is not in list",
    "has_tag": "Contact has tag",
    "conversation_status": "Conversation is",
    "first_message": "First message ever from this number",
}
ACTION_LABELS = {
    "reply": "Reply",
    "add_label": "Add conversation label",
    "remove_label": "Remove conversation label",
    "assign": "Assign to agent",
    "add_to_list": "Add contact to list",
    "remove_from_list": "Remove contact from list",
    "set_field": "Set a contact field",
    "contact_from_message": "Take the contact's name or email from the message",
    "close": "Close the conversation",
    "reopen": "Reopen the conversation",
    "forward_url": "Forward to a URL (webhook)",
    "forward_sms": "Forward by SMS to a staff number",
    "forward_email": "Forward by email",
}
PREVIEW = 60


def match_text(match_type: str, terms: list[str]) -> str:
    label = matching.label(matching.MatchType(match_type))
    if not terms:
        return label
    return f"{label}: " + ", ".join(repr(term) for term in terms)


def numbers_text(numbers: list[str]) -> str:
    return "any of our numbers" if not numbers else ", ".join(numbers)


def condition_text(entry: Mapping[str, Any]) -> str:
    kind = entry["type"]
    if kind == "business_hours":
        return "inside business hours" if entry.get("inside") else "outside business hours"
    if kind in ("in_list", "not_in_list"):
        return f"{CONDITION_LABELS[kind].lower()} {entry.get('list')!r}"
    if kind == "has_tag":
        return f"contact has tag {entry.get('tag')!r}"
    if kind == "conversation_status":
        return f"conversation is {entry.get('status')}"
    return CONDITION_LABELS.get(kind, kind).lower()


def action_text(entry: Mapping[str, Any], templates: Mapping[int, str]) -> str:
    kind = entry["type"]
    if kind == "reply":
        if entry.get("template_id") is not None:
            name = templates.get(entry["template_id"], f"#{entry['template_id']}")
            return f"reply with template {name!r}"
        return f"reply {_short(entry.get('body', ''))!r}"
    details = _details(entry)
    label = ACTION_LABELS.get(kind, kind).lower()
    return f"{label}: {details}" if details else label


def _details(entry: Mapping[str, Any]) -> str:
    kind = entry["type"]
    if kind == "set_field":
        source = (
            repr(entry["value"])
            if "value" in entry
            else f"group {entry.get('group')} of /{entry.get('regex')}/"
        )
        return f"{entry.get('field')} = {source}"
    if kind == "forward_url":
        return f"{entry.get('method', 'post').upper()} {entry.get('url')}"
    values = [str(v) for k, v in entry.items() if k != "type"]
    return ", ".join(values)


def _short(text: str) -> str:
    return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"
