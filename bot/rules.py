"""Keyword rules: the invariants of one rule, and the service functions that
create, change, order and delete rules.

:func:`parse_rule` turns submitted values (a form, the API, a ClickSend rule
mapped by bot/rule_clicksend.py) into a :class:`RuleDraft`, or raises
:class:`InvalidRule` with one message per field at fault, each named by its path
(``name``, ``terms[1]``, ``actions[2].url``). The service functions take a
session and never commit; every change to what the matcher sees bumps the
``rules_version`` setting (bot/bot_settings.py) in the same transaction, so the pipeline recompiles
its matcher from the committed rules (hit counts written by the engine do not
bump it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import bot_settings, matching
from bot.contacts import NotFound
from bot.matching_conflicts import Conflict, conflicts
from bot.models import ContactList, MessageTemplate, Rule, User
from bot.phones import InvalidPhoneNumber, to_e164
from bot.rule_validation import BadEntry, Context, check_actions, check_conditions

MAX_NAME = 100
MAX_TERMS = matching.MAX_TERMS
MAX_TERM = 500  # room for a regex; matching.validate_rule holds each type to its own limit
MAX_NUMBERS = 100
MAX_PRIORITY = 1_000_000
MAX_COOLDOWN_S = 30 * 24 * 3600
DEFAULT_COOLDOWN_S = 300
PRIORITY_STEP = 10
ANY_NUMBER = "*"
_RULE_ID = re.compile(r"\brule (\d+)")
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


@dataclass(frozen=True)
class SavedRule:
    rule: Rule
    warnings: list[str]


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


# -- references to other rows -------------------------------------------------------


async def check_references(session: AsyncSession, draft: RuleDraft) -> list[str]:
    """Refuse actions naming a template or user that does not exist; warn about
    conditions naming a list that does not exist yet. Returns the warnings."""
    errors: dict[str, str] = {}
    templates = await _existing(session, MessageTemplate.id, _values(draft.actions, "template_id"))
    users = await _existing(session, User.email, _values(draft.actions, "email"))
    lists = await _existing(session, ContactList.name, _values(draft.conditions, "list"))
    for index, action in enumerate(draft.actions):
        if action.get("template_id") is not None and action["template_id"] not in templates:
            errors[f"actions[{index}].template_id"] = f"no template {action['template_id']}"
        if action["type"] == "assign" and action["email"] not in users:
            errors[f"actions[{index}].email"] = f"no user {action['email']!r}"
    if errors:
        raise InvalidRule(errors)
    return [
        f"conditions[{index}].list: no list {condition['list']!r} yet"
        for index, condition in enumerate(draft.conditions)
        if "list" in condition and condition["list"] not in lists
    ]


def _values(entries: Sequence[Mapping[str, Any]], key: str) -> set[Any]:
    return {entry[key] for entry in entries if entry.get(key) is not None}


async def _existing(session: AsyncSession, column: Any, wanted: set[Any]) -> set[Any]:
    if not wanted:
        return set()
    return set(await session.scalars(select(column).where(column.in_(wanted))))


# -- service functions --------------------------------------------------------------


async def get_rule(session: AsyncSession, rule_id: int) -> Rule:
    rule = await session.get(Rule, rule_id)
    if rule is None:
        raise NotFound(f"rule {rule_id} does not exist")
    return rule


async def list_rules(session: AsyncSession) -> list[Rule]:
    """Every rule in the order the engine tries them: priority, then id."""
    return list(await session.scalars(select(Rule).order_by(Rule.priority, Rule.id)))


async def create_rule(session: AsyncSession, draft: RuleDraft) -> SavedRule:
    warnings = [*draft.warnings, *await check_references(session, draft)]
    rule = Rule(hit_count=0)
    _apply(rule, draft)
    if draft.priority is None:
        rule.priority = await _next_priority(session)
    session.add(rule)
    await session.flush()
    await bump_rules_version(session)
    return SavedRule(rule, warnings + await conflict_warnings(session, rule.id))


async def update_rule(session: AsyncSession, rule_id: int, draft: RuleDraft) -> SavedRule:
    rule = await get_rule(session, rule_id)
    warnings = [*draft.warnings, *await check_references(session, draft)]
    _apply(rule, draft)
    await session.flush()
    await bump_rules_version(session)
    return SavedRule(rule, warnings + await conflict_warnings(session, rule.id))


def _apply(rule: Rule, draft: RuleDraft) -> None:
    rule.name = draft.name
    rule.enabled = draft.enabled
    if draft.priority is not None:
        rule.priority = draft.priority
    rule.numbers = list(draft.numbers)
    rule.match_type = draft.match_type
    rule.terms = list(draft.terms)
    rule.conditions = [dict(c) for c in draft.conditions]
    rule.actions = [dict(a) for a in draft.actions]
    rule.continue_matching = draft.continue_matching
    rule.cooldown_s = draft.cooldown_s


async def _next_priority(session: AsyncSession) -> int:
    """After the last rule, so rules created one by one run in creation order (ClickSend's)."""
    highest = await session.scalar(select(func.max(Rule.priority)))
    if highest is None:
        return PRIORITY_STEP
    return min(highest + PRIORITY_STEP, MAX_PRIORITY)


async def delete_rule(session: AsyncSession, rule_id: int) -> None:
    await session.delete(await get_rule(session, rule_id))
    await session.flush()
    await bump_rules_version(session)


async def set_enabled(session: AsyncSession, rule_id: int, enabled: bool) -> Rule:
    rule = await get_rule(session, rule_id)
    rule.enabled = enabled
    await bump_rules_version(session)
    return rule


async def move_rule(session: AsyncSession, rule_id: int, step: int) -> None:
    """Move a rule one place earlier (``step`` -1) or later (+1) in the order.

    Swaps priorities with the neighbour; when the two share a priority (ties go
    by id) every rule is renumbered in steps of ten in the new order instead.
    """
    rules = await list_rules(session)
    index = next((i for i, rule in enumerate(rules) if rule.id == rule_id), None)
    if index is None:
        raise NotFound(f"rule {rule_id} does not exist")
    other = index + step
    if step not in (-1, 1) or not 0 <= other < len(rules):
        return
    first, second = rules[index], rules[other]
    if first.priority != second.priority:
        first.priority, second.priority = second.priority, first.priority
    else:
        rules[index], rules[other] = second, first
        for position, rule in enumerate(rules, start=1):
            rule.priority = position * PRIORITY_STEP
    await bump_rules_version(session)


async def bump_rules_version(session: AsyncSession) -> None:
    """Every change to what the matcher sees bumps the version, in the same transaction."""
    await bot_settings.bump_rules_version(session)


# -- conflicts ----------------------------------------------------------------------


def spec_of(rule: Rule) -> matching.RuleSpec:
    return matching.RuleSpec(
        rule_id=rule.id,
        priority=rule.priority,
        match_type=matching.MatchType(rule.match_type),
        terms=tuple(rule.terms),
        numbers=frozenset(rule.numbers),
    )


def conflicts_of(rules: Sequence[Rule]) -> list[Conflict]:
    """Conflicts among the enabled rules (same keyword twice, a rule shadowed). A rule
    that continues to the next rule shadows nothing, so those are left out."""
    enabled = [rule for rule in rules if rule.enabled]
    continuing = {rule.id for rule in enabled if rule.continue_matching}
    return [
        conflict
        for conflict in conflicts([spec_of(rule) for rule in enabled])
        if not (conflict.kind == "shadowed" and conflict.other_rule_id in continuing)
    ]


async def conflict_warnings(session: AsyncSession, rule_id: int) -> list[str]:
    """Conflicts that involve the rule, described with rule names."""
    rules = await list_rules(session)
    names = {rule.id: rule.name for rule in rules}
    return [
        describe_conflict(conflict, names)
        for conflict in conflicts_of(rules)
        if rule_id in (conflict.rule_id, conflict.other_rule_id)
    ]


def describe_conflict(conflict: Conflict, names: Mapping[int, str]) -> str:
    """The conflict's message with each "rule 12" given its name: rule 12 “PRICE”."""

    def named(found: re.Match[str]) -> str:
        rule_id = int(found.group(1))
        return f"rule {rule_id} “{names[rule_id]}”" if rule_id in names else found.group(0)

    return _RULE_ID.sub(named, conflict.message)


def fields_of(rule: Rule) -> dict[str, Any]:
    """The stored rule as parse_rule's input (what an edit starts from)."""
    return {
        "name": rule.name,
        "enabled": rule.enabled,
        "priority": rule.priority,
        "numbers": list(rule.numbers),
        "match_type": rule.match_type,
        "terms": list(rule.terms),
        "conditions": [dict(c) for c in rule.conditions],
        "actions": [dict(a) for a in rule.actions],
        "continue_matching": rule.continue_matching,
        "cooldown_s": rule.cooldown_s,
    }


def draft_rule(draft: RuleDraft, rule_id: int = 0) -> Rule:
    """An unsaved Rule holding the draft (to show it as it would be stored)."""
    rule = Rule(id=rule_id, hit_count=0, priority=draft.priority or 0)
    _apply(rule, draft)
    return rule
