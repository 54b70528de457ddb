"""Conflicts between keyword rules, for the rules workbench (pure).

Two kinds, both computed without comparing every pair of rules:

- ``duplicate``: two rules with the same match type and the same (normalised) term
  watching at least one common number.
- ``shadowed``: every message a rule matches is also matched by a rule that runs
  before it (lower priority number, then lower id) on all the numbers it watches, so
  with "stop at the first match" it only runs when that earlier rule continues or its
  conditions fail. An earlier rule covers a term when it is an ``any`` rule; a
  ``contains`` term found inside one word of the later term (contains ``price``
  above first word ``prices``); a ``starts_with`` prefix of it; or a ``first_word``
  whose words lead it. ``not_contains`` and ``regex`` rules are shadowed only by an
  ``any`` rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.matching import MatchType, RuleSpec, label, term_key
from bot.textnorm import words

__all__ = ["Conflict", "conflicts"]

_COVERABLE = {MatchType.STARTS_WITH, MatchType.CONTAINS, MatchType.ONLY_WORD, MatchType.FIRST_WORD}


@dataclass(frozen=True, slots=True)
class Conflict:
    kind: str  # "duplicate" or "shadowed"
    rule_id: int  # the later rule
    other_rule_id: int  # the earlier rule it clashes with
    message: str


def conflicts(specs: Iterable[RuleSpec]) -> list[Conflict]:
    ordered = sorted(specs, key=lambda spec: (spec.priority, spec.rule_id))
    found = _duplicates(ordered)
    duplicated = {(c.rule_id, c.other_rule_id) for c in found}
    for conflict in _shadowed(ordered):
        if (conflict.rule_id, conflict.other_rule_id) not in duplicated:
            found.append(conflict)
    return found


def _overlap(a: frozenset[str], b: frozenset[str]) -> bool:
    return not a or not b or bool(a & b)


def _covers(earlier: frozenset[str], later: frozenset[str]) -> bool:
    return not earlier or (bool(later) and later <= earlier)


def _duplicates(ordered: list[RuleSpec]) -> list[Conflict]:
    seen: dict[tuple[MatchType, str], list[RuleSpec]] = {}
    found = []
    for spec in ordered:
        for term in dict.fromkeys(term_key(spec.match_type, t) for t in spec.terms):
            if not term:
                continue
            for other in seen.get((spec.match_type, term), []):
                if other.rule_id != spec.rule_id and _overlap(other.numbers, spec.numbers):
                    message = (
                        f"rule {spec.rule_id} and rule {other.rule_id} both match"
                        f" {label(spec.match_type)} '{term}' on the same number"
                    )
                    found.append(Conflict("duplicate", spec.rule_id, other.rule_id, message))
            seen.setdefault((spec.match_type, term), []).append(spec)
    return found


class _Index:
    """Earlier rules by what they cover, to find a rule's shadows without a pair loop."""

    def __init__(self) -> None:
        self.any: list[RuleSpec] = []
        self.by_type: dict[MatchType, dict[str, list[RuleSpec]]] = {
            MatchType.CONTAINS: {},
            MatchType.STARTS_WITH: {},
            MatchType.FIRST_WORD: {},
        }

    def add(self, spec: RuleSpec) -> None:
        if spec.match_type is MatchType.ANY:
            self.any.append(spec)
        elif spec.match_type in self.by_type:
            table = self.by_type[spec.match_type]
            for term in spec.terms:
                if key := term_key(spec.match_type, term):
                    table.setdefault(key, []).append(spec)

    def covering(self, kind: MatchType, key: str) -> dict[int, RuleSpec]:
        """Earlier rules that match every message the term ``key`` of type ``kind`` does."""
        found: dict[int, RuleSpec] = {}
        text_words = words(key)
        for candidate in _substrings_within_words(text_words):
            found.update(
                (s.rule_id, s) for s in self.by_type[MatchType.CONTAINS].get(candidate, [])
            )
        if kind is not MatchType.CONTAINS:
            first = text_words[0] if kind is MatchType.FIRST_WORD and text_words else key
            for end in range(1, len(first) + 1):
                starts = self.by_type[MatchType.STARTS_WITH].get(first[:end], [])
                found.update((s.rule_id, s) for s in starts)
            if kind is MatchType.STARTS_WITH:
                return found  # "prices" starts with "price" but its first word is not "price"
            for count in range(1, len(text_words) + 1):
                leading = self.by_type[MatchType.FIRST_WORD].get(" ".join(text_words[:count]), [])
                found.update((s.rule_id, s) for s in leading)
        return found


def _substrings_within_words(text_words: list[str]) -> set[str]:
    return {
        word[i:j]
        for word in text_words
        for i in range(len(word))
        for j in range(i + 1, len(word) + 1)
    }


def _shadowed(ordered: list[RuleSpec]) -> list[Conflict]:
    index = _Index()
    found = []
    for spec in ordered:
        shadow = _first_shadow(index, spec)
        if shadow is not None:
            message = (
                f"rule {spec.rule_id} ({label(spec.match_type)}) only runs when rule"
                f" {shadow.rule_id} ({label(shadow.match_type)}), which runs first and matches"
                " every message it matches, continues to the next rule or fails its conditions"
            )
            found.append(Conflict("shadowed", spec.rule_id, shadow.rule_id, message))
        index.add(spec)
    return found


def _first_shadow(index: _Index, spec: RuleSpec) -> RuleSpec | None:
    candidates = [s for s in index.any if _covers(s.numbers, spec.numbers)]
    if spec.match_type in _COVERABLE:
        keys = [k for t in spec.terms if (k := term_key(spec.match_type, t))]
        if keys:
            per_term = [index.covering(spec.match_type, key) for key in keys]
            common = set(per_term[0]).intersection(*per_term[1:])
            candidates += [
                per_term[0][rule_id]
                for rule_id in common
                if rule_id != spec.rule_id and _covers(per_term[0][rule_id].numbers, spec.numbers)
            ]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (s.priority, s.rule_id))
