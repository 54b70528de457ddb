"""The rule form: submitted fields ↔ the values bot/rules.parse_rule reads.

Conditions and actions are repeatable rows. Row ``i`` of kind ``action`` has a
``action-i-type`` select and, for each type, its own inputs named
``action-i-<type>-<key>`` (so "to" of a forwarded SMS and "to" of a forwarded
email never mix). Only the chosen type's inputs are read; a row without a type,
or ticked for removal, is left out. Errors from parse_rule name entries by
their position in the saved list (``actions[2].url``); :class:`RuleForm` maps
them back to the row the person sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from multidict import MultiDictProxy

from bot.rule_validation import ACTIONS, CONDITIONS
from bot.rules import ANY_NUMBER, InvalidRule
from inbox.views._page import form_text

KINDS = {"condition": CONDITIONS, "action": ACTIONS}
LISTS = {"condition": "conditions", "action": "actions"}
MAX_ROWS = 20
TOP_FIELDS = ("name", "priority", "numbers", "match_type", "terms", "cooldown_s")
FLAGS = ("enabled", "continue_matching")
_PATH = re.compile(r"(conditions|actions)\[(\d+)\](?:\.(.+))?")
_SPLIT_NUMBERS = re.compile(r"[,\n]+")


@dataclass
class Row:
    index: int
    type: str = ""
    params: dict[str, str] = field(default_factory=dict)
    error: str = ""


@dataclass
class RuleForm:
    """What the form shows: text values, rows, and errors by field or row."""

    values: dict[str, str]
    conditions: list[Row]
    actions: list[Row]
    errors: dict[str, str] = field(default_factory=dict)

    def rows(self, kind: str) -> list[Row]:
        return self.conditions if kind == "condition" else self.actions

    def submitted(self) -> dict[str, Any]:
        """The form as parse_rule's input (rows without a type left out)."""
        data: dict[str, Any] = {name: self.values.get(name, "") for name in TOP_FIELDS}
        data |= {name: self.values.get(name) == "on" for name in FLAGS}
        data["numbers"] = _numbers(self.values.get("numbers", ""))
        data["terms"] = [line for line in self.values.get("terms", "").splitlines()]
        data["conditions"] = [_entry(row) for row in self._chosen("condition")]
        data["actions"] = [_entry(row) for row in self._chosen("action")]
        data["match_type"] = data["match_type"] or None
        data["name"] = self.values.get("name", "")
        return data

    def _chosen(self, kind: str) -> list[Row]:
        return [row for row in self.rows(kind) if row.type]

    def show_errors(self, exc: InvalidRule) -> None:
        """Put each error next to its field, or on its row."""
        for path, problem in exc.errors.items():
            found = _PATH.fullmatch(path)
            if found is None:
                top = path.split("[", 1)[0]
                self.errors.setdefault(top if top in TOP_FIELDS else "form", problem)
                continue
            kind = "condition" if found.group(1) == "conditions" else "action"
            chosen = self._chosen(kind)
            position = int(found.group(2))
            if position < len(chosen):
                key = found.group(3) or "type"
                chosen[position].error = f"{key}: {problem}" if key != "type" else problem
            else:
                self.errors.setdefault("form", f"{path}: {problem}")

    def add_row(self, kind: str) -> None:
        rows = self.rows(kind)
        if len(rows) < MAX_ROWS:
            rows.append(Row(index=max((r.index for r in rows), default=-1) + 1))


def _numbers(text: str) -> str | list[str]:
    parts = [part.strip() for part in _SPLIT_NUMBERS.split(text) if part.strip()]
    if not parts or parts == [ANY_NUMBER]:
        return ANY_NUMBER
    return parts


def _entry(row: Row) -> dict[str, Any]:
    return {"type": row.type, **{k: v for k, v in row.params.items() if v.strip()}}


def read_rule_form(form: MultiDictProxy) -> RuleForm:
    values = {name: form_text(form, name) for name in (*TOP_FIELDS, *FLAGS)}
    return RuleForm(
        values=values,
        conditions=_read_rows(form, "condition"),
        actions=_read_rows(form, "action"),
    )


def _read_rows(form: MultiDictProxy, kind: str) -> list[Row]:
    pattern = re.compile(rf"{kind}-(\d{{1,4}})-type")
    indices = sorted({int(m.group(1)) for key in form if (m := pattern.fullmatch(key))})
    rows = []
    for index in indices[: MAX_ROWS * 2]:
        if form_text(form, f"{kind}-{index}-remove"):
            continue
        chosen = form_text(form, f"{kind}-{index}-type")
        keys = KINDS[kind][chosen][1] if chosen in KINDS[kind] else ()
        params = {key: form_text(form, f"{kind}-{index}-{chosen}-{key}") for key in keys}
        rows.append(Row(index=index, type=chosen if chosen in KINDS[kind] else "", params=params))
    return rows


def form_of(data: dict[str, Any]) -> RuleForm:
    """The form for a stored rule (bot.rules.fields_of) or a new one."""
    numbers = data.get("numbers") or []
    values = {
        "name": data.get("name", ""),
        "priority": "" if data.get("priority") is None else str(data["priority"]),
        "numbers": "\n".join(numbers) if numbers else ANY_NUMBER,
        "match_type": data.get("match_type", "first_word"),
        "terms": "\n".join(data.get("terms", [])),
        "cooldown_s": str(data.get("cooldown_s", 300)),
        "enabled": "on" if data.get("enabled", True) else "",
        "continue_matching": "on" if data.get("continue_matching") else "",
    }
    return RuleForm(
        values=values,
        conditions=[_row(i, entry) for i, entry in enumerate(data.get("conditions", []))],
        actions=[_row(i, entry) for i, entry in enumerate(data.get("actions", []))],
    )


def _row(index: int, entry: dict[str, Any]) -> Row:
    params = {k: _shown(v) for k, v in entry.items() if k != "type"}
    return Row(index=index, type=entry["type"], params=params)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
