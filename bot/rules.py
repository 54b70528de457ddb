"""Keyword rules: the service functions that create, change, order and delete
rules, the checks that need the database, and conflict warnings.

A rule's own fields are validated by :func:`parse_rule` (bot/rule_fields.py),
which raises :class:`InvalidRule` naming each field by its path (``name``,
``terms[1]``, ``actions[2].url``). The service functions take a session and
never commit; every change to what the matcher sees bumps the ``rules_version``
setting (bot/bot_settings.py) in the same transaction, so each process
recompiles its matcher from the committed rules (hit counts written by the
engine do not bump it).
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
from bot.rule_fields import (
    ANY_NUMBER,
    FIELDS,
    MAX_PRIORITY,
    InvalidRule,
    RuleDraft,
    match_type_of,
    parse_rule,
)

__all__ = [
    "ANY_NUMBER",
    "FIELDS",
    "InvalidRule",
    "RuleDraft",
    "SavedRule",
    "match_type_of",
    "parse_rule",
]

PRIORITY_STEP = 10

_RULE_ID = re.compile(r"\brule (\d+)")


@dataclass(frozen=True)
class SavedRule:
    rule: Rule
    warnings: list[str]


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
    saved = await add_rule(session, draft)
    await bump_rules_version(session)
    return SavedRule(saved.rule, saved.warnings + await conflict_warnings(session, saved.rule.id))


async def add_rule(session: AsyncSession, draft: RuleDraft) -> SavedRule:
    """Create the rule without bumping ``rules_version`` or looking for conflicts: for
    a caller creating many at once, which does both once at the end (bot/rule_import)."""
    warnings = [*draft.warnings, *await check_references(session, draft)]
    rule = Rule(hit_count=0)
    _apply(rule, draft)
    if draft.priority is None:
        rule.priority = await _next_priority(session)
    session.add(rule)
    await session.flush()
    return SavedRule(rule, warnings)


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
    """Conflicts among the enabled rules (same keyword twice, a rule shadowed). An
    earlier rule that continues to the next rule, or has conditions, lets the later
    rule act too (a pair such as "HOURS inside business hours" and "HOURS outside"
    is deliberate), so those are left out."""
    enabled = [rule for rule in rules if rule.enabled]
    passing = {rule.id for rule in enabled if rule.continue_matching or rule.conditions}
    return [
        conflict
        for conflict in conflicts([spec_of(rule) for rule in enabled])
        if conflict.other_rule_id not in passing
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
