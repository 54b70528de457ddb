"""A keyword rule's own fields (pure): :func:`parse_rule` turns submitted values (a
form, the API, a ClickSend rule mapped by bot/rule_clicksend.py) into a
:class:`RuleDraft`, or raises :class:`InvalidRule` with one message per field at
fault, each named by its path (``name``, ``terms[1]``, ``actions[2].url``).
Conditions and actions are checked by bot/rule_validation.py; whether the rows
they name exist is checked by bot/rules.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot import matching
from bot.phones import InvalidPhoneNumber, to_e164
from bot.rule_validation import BadEntry, Context, check_actions, check_conditions

MAX_NAME = 100
MAX_TERMS = matching.MAX_TERMS
MAX_TERM = 500  # room for a regex; matching.validate_rule holds each type to its own limit
MAX_NUMBERS = 100
MAX_PRIORITY = 1_000_000
MAX_COOLDOWN_S = 30 * 24 * 3600
DEFAULT_COOLDOWN_S = 300
ANY_NUMBER = "*"
FIELDS = (
    "name",
    "enabled",
    "priority",
    "numbers",
    "match_type",
    "terms",
    "conditions",
    "actions",
    "continue_matching",
    "cooldown_s",
)


class InvalidRule(ValueError):
    """Submitted values break the rule's invariants; ``errors`` maps field path → problem."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{path}: {problem}" for path, problem in self.errors.items()))

    @property
    def field(self) -> str:
        return next(iter(self.errors))


@dataclass(frozen=True)
class RuleDraft:
    """A rule's validated, normalised values (``priority`` None: after the last rule)."""

    name: str
    match_type: str
    terms: tuple[str, ...] = ()
    enabled: bool = True
    priority: int | None = None
    numbers: tuple[str, ...] = ()
    conditions: tuple[dict[str, Any], ...] = ()
    actions: tuple[dict[str, Any], ...] = ()
    continue_matching: bool = False
    cooldown_s: int = DEFAULT_COOLDOWN_S
    warnings: tuple[str, ...] = ()


# -- parsing and validation ---------------------------------------------------------


def parse_rule(data: Mapping[str, Any], *, default_region: str = "US") -> RuleDraft:
    """Validate every field of ``data`` (our field names, see ``FIELDS``)."""
    errors: dict[str, str] = {}
    unknown = sorted(set(data) - set(FIELDS))
    for name in unknown[:1]:
        errors[str(name)[:40]] = "is not a field of a rule"
    values: dict[str, Any] = {}
    warnings: list[str] = []
    ctx = Context(default_region=default_region)
    for name, reader in _READERS.items():
        try:
            values[name] = reader(data.get(name), ctx, warnings)
        except BadEntry as exc:
            errors.setdefault(exc.path, exc.problem)
    _check_terms(values, errors)
    if errors:
        raise InvalidRule(errors)
    return RuleDraft(**{k: v for k, v in values.items() if v is not None}, warnings=tuple(warnings))


def _name(value: Any, ctx: Context, warnings: list[str]) -> str:
    if value is None:
        raise BadEntry("name", "is required")
    if not isinstance(value, str):
        raise BadEntry("name", "must be a string")
    name = " ".join(value.split())
    if not 1 <= len(name) <= MAX_NAME:
        raise BadEntry("name", f"must be 1 to {MAX_NAME} characters")
    return name


def _flag(path: str, default: bool):
    def read(value: Any, ctx: Context, warnings: list[str]) -> bool:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if value in (0, 1, "0", "1", "true", "false", "on"):
            return value in (1, "1", "true", "on")
        raise BadEntry(path, "must be true or false (or 1 / 0)")

    return read


def _whole(path: str, low: int, high: int, default: int | None):
    def read(value: Any, ctx: Context, warnings: list[str]) -> int | None:
        if value is None or value == "":
            return default
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise BadEntry(path, f"must be a whole number from {low} to {high}")
        return value

    return read


def _numbers(value: Any, ctx: Context, warnings: list[str]) -> tuple[str, ...]:
    if value is None or value == ANY_NUMBER:
        return ()
    if not isinstance(value, list):
        raise BadEntry("numbers", "must be '*' or a list of phone numbers")
    if len(value) > MAX_NUMBERS:
        raise BadEntry("numbers", f"at most {MAX_NUMBERS} numbers")
    found: set[str] = set()
    for index, raw in enumerate(value):
        if raw == ANY_NUMBER:
            return ()
        if not isinstance(raw, str):
            raise BadEntry(f"numbers[{index}]", "must be a string")
        try:
            found.add(to_e164(raw, ctx.default_region))
        except InvalidPhoneNumber as exc:
            raise BadEntry(f"numbers[{index}]", str(exc)) from None
    return tuple(sorted(found))


def match_type_of(value: Any) -> str:
    """A MatchType value from its name or its ClickSend ``message_search_type`` (0..3)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        if value in matching.CLICKSEND_SEARCH_TYPES:
            return matching.CLICKSEND_SEARCH_TYPES[value].value
        raise BadEntry("match_type", "a ClickSend search type must be 0, 1, 2 or 3")
    names = [member.value for member in matching.MatchType]
    if isinstance(value, str) and value.strip().lower() in names:
        return value.strip().lower()
    raise BadEntry("match_type", f"must be one of: {', '.join(names)} (or 0 to 3)")


def _match_type(value: Any, ctx: Context, warnings: list[str]) -> str:
    if value is None:
        raise BadEntry("match_type", "is required")
    return match_type_of(value)


def _terms(value: Any, ctx: Context, warnings: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadEntry("terms", "must be a list of keywords")
    if len(value) > MAX_TERMS:
        raise BadEntry("terms", f"at most {MAX_TERMS} keywords")
    terms: list[str] = []
    for index, raw in enumerate(value):
        if not isinstance(raw, str):
            raise BadEntry(f"terms[{index}]", "must be a string")
        term = raw.strip()
        if len(term) > MAX_TERM:
            raise BadEntry(f"terms[{index}]", f"must be at most {MAX_TERM} characters")
        if term and term not in terms:
            terms.append(term)
    return tuple(terms)


def _conditions(value: Any, ctx: Context, warnings: list[str]) -> tuple[dict[str, Any], ...]:
    checked = check_conditions(value, ctx)
    warnings.extend(checked.warnings)
    return tuple(checked.entries)


def _actions(value: Any, ctx: Context, warnings: list[str]) -> tuple[dict[str, Any], ...]:
    checked = check_actions(value, ctx)
    warnings.extend(checked.warnings)
    return tuple(checked.entries)


_READERS = {
    "name": _name,
    "enabled": _flag("enabled", True),
    "priority": _whole("priority", -MAX_PRIORITY, MAX_PRIORITY, None),
    "numbers": _numbers,
    "match_type": _match_type,
    "terms": _terms,
    "conditions": _conditions,
    "actions": _actions,
    "continue_matching": _flag("continue_matching", False),
    "cooldown_s": _whole("cooldown_s", 0, MAX_COOLDOWN_S, DEFAULT_COOLDOWN_S),
}


def _check_terms(values: dict[str, Any], errors: dict[str, str]) -> None:
    if "match_type" not in values or "terms" not in values:
        return
    problems = matching.validate_rule(matching.MatchType(values["match_type"]), values["terms"])
    if problems:
        errors.setdefault("terms", "; ".join(problems))
