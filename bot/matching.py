r"""Keyword rules: match types, rule validation and the compiled matcher (pure).

A rule has a match type and one or more terms (none for ``any``); it matches a message
when any of its terms does. Every type except ``regex`` compares against
:func:`normalise` of the body, and terms are normalised the same way when the rules
are compiled (see :mod:`bot.textnorm` for what normalising does):

- ``any`` matches every message (ClickSend search type 0).
- ``starts_with`` / ``contains``: plain prefix / substring tests, as in ClickSend
  (types 1 and 2): "prices" starts with "price", "surprise" contains "price".
- ``not_contains``: none of the terms is a substring (ClickSend type 3).
- ``only_word``: the whole normalised text equals the term ("Price?" but not
  "price please").
- ``first_word``: the first whole word equals the term ("price, please" but not
  "prices"); a term of several words matches the leading words ("price list?").
- ``regex``: Python :mod:`re`, case-insensitive, searched in the body with its
  surrounding whitespace stripped but otherwise raw (not normalised), so capture
  groups keep the customer's own text. Bodies longer than :data:`REGEX_MAX_BODY`
  characters are cut there first, and patterns that can backtrack exponentially are
  refused (:mod:`bot.regex_check`). That check cannot see every slow shape
  (``(a|a)*$``, ``\d*\d*\d*\d*!``), so rules run on the ``regex`` package (the same
  syntax) with a time limit per search, :data:`REGEX_TIMEOUT_S`: a search that runs
  out of time counts as no match and is logged, and one pattern cannot stall the
  pipeline.

:class:`Matcher` is compiled once per rule change and then answers every message
without looking at each rule: a dict of whole texts (only-word), a dict of leading
word sequences (first-word), a dict of prefixes probed once per distinct term length
(starts-with) and one Aho-Corasick automaton for all contains / not-contains terms.
So the cost of a message does not grow with the number of keyword rules. Rules that
match many messages by nature (``any``, ``not_contains``) cost in proportion to how
many of them match, and ``regex`` rules are tried one by one, in order.

The matcher returns every matching rule in running order, lower priority numbers
first (then lower rule id). Whether to stop at the first one is the rule engine's
decision, after it has checked each rule's conditions.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import ahocorasick
import regex

from bot.regex_check import nested_repeat
from bot.textnorm import normalise, words

__all__ = [
    "CLICKSEND_SEARCH_TYPES",
    "MATCH_TYPE_TO_CLICKSEND",
    "MAX_TERM_LENGTH",
    "MAX_TERMS",
    "REGEX_MAX_BODY",
    "Match",
    "MatchType",
    "Matcher",
    "RuleSpec",
    "normalise",
    "search",
    "term_key",
    "validate_rule",
]

MAX_TERMS = 50
MAX_TERM_LENGTH = 160
MAX_PATTERN_LENGTH = 500
REGEX_MAX_BODY = 2000
REGEX_FLAGS = re.IGNORECASE
REGEX_TIMEOUT_S = 0.05

log = logging.getLogger(__name__)


class MatchType(enum.StrEnum):
    ANY = "any"  # ClickSend 0
    STARTS_WITH = "starts_with"  # ClickSend 1: the normalised text starts with the term
    CONTAINS = "contains"  # ClickSend 2: the term is a substring
    NOT_CONTAINS = "not_contains"  # ClickSend 3: none of the terms is a substring
    ONLY_WORD = "only_word"  # the whole normalised text equals the term
    FIRST_WORD = "first_word"  # the leading word(s) equal the term's word(s)
    REGEX = "regex"  # re.search on the stripped raw body, case-insensitive


CLICKSEND_SEARCH_TYPES: dict[int, MatchType] = {
    0: MatchType.ANY,
    1: MatchType.STARTS_WITH,
    2: MatchType.CONTAINS,
    3: MatchType.NOT_CONTAINS,
}
MATCH_TYPE_TO_CLICKSEND: dict[MatchType, int] = {v: k for k, v in CLICKSEND_SEARCH_TYPES.items()}

_LABELS = {
    MatchType.ANY: "any message",
    MatchType.STARTS_WITH: "starts with",
    MatchType.CONTAINS: "contains",
    MatchType.NOT_CONTAINS: "does not contain",
    MatchType.ONLY_WORD: "only word",
    MatchType.FIRST_WORD: "first word",
    MatchType.REGEX: "regex",
}


@dataclass(frozen=True, slots=True)
class RuleSpec:
    rule_id: int
    priority: int
    match_type: MatchType
    terms: tuple[str, ...]  # as the admin typed them; normalised when compiled
    numbers: frozenset[str] = frozenset()  # our numbers (E.164); empty = any of them ('*')


@dataclass(frozen=True, slots=True)
class Match:
    rule_id: int
    term: str | None  # the term that matched, as typed (None for ANY / NOT_CONTAINS)
    groups: tuple[str | None, ...] = ()  # regex capture groups
    named: Mapping[str, str | None] = field(default_factory=dict, hash=False)


def label(match_type: MatchType) -> str:
    """How the workbench names a match type ("first word")."""
    return _LABELS[match_type]


def term_key(match_type: MatchType, term: str) -> str:
    """The compiled form of a term: what a message is compared with."""
    if match_type is MatchType.REGEX:
        return term
    if match_type is MatchType.FIRST_WORD:
        return " ".join(words(normalise(term)))
    return normalise(term)


def validate_rule(match_type: MatchType, terms: Sequence[str]) -> list[str]:
    """Human-readable problems with a rule's match type and terms; [] when it is fine."""
    if isinstance(terms, str) or not all(isinstance(term, str) for term in terms):
        return ["terms must be a list of text"]
    if match_type is MatchType.ANY:
        if any(term.strip() for term in terms):
            return ["an 'any message' rule takes no terms"]
        return []
    if not any(term.strip() for term in terms):
        return [f"a '{label(match_type)}' rule needs at least one term"]
    if len(terms) > MAX_TERMS:
        return [f"a rule may have at most {MAX_TERMS} terms, not {len(terms)}"]
    problems: list[str] = []
    seen: set[str] = set()
    for term in terms:
        problems += _term_problems(match_type, term, seen)
    return problems


def _term_problems(match_type: MatchType, term: str, seen: set[str]) -> list[str]:
    if not term.strip():
        return ["a term is empty"]
    if match_type is MatchType.REGEX:
        return _pattern_problems(term)
    if len(term) > MAX_TERM_LENGTH:
        return [f"term {term[:20]!r}… is longer than {MAX_TERM_LENGTH} characters"]
    key = term_key(match_type, term)
    if not key:
        return [f"term {term!r} has no letters or digits (punctuation and emoji are ignored)"]
    if key in seen:
        return [f"term {term!r} is listed twice"]
    seen.add(key)
    return []


def _pattern_problems(pattern: str) -> list[str]:
    if len(pattern) > MAX_PATTERN_LENGTH:
        return [f"regex {pattern[:20]!r}… is longer than {MAX_PATTERN_LENGTH} characters"]
    try:
        re.compile(pattern, REGEX_FLAGS)
    except re.error as exc:
        return [f"regex {pattern!r} does not compile: {exc.msg} at position {exc.pos}"]
    if nested_repeat(pattern, REGEX_FLAGS):
        return [
            f"regex {pattern!r} repeats a repeat (like (a+)+), which can take exponential time;"
            " use a possessive quantifier (a++) or an atomic group (?>...) inside"
        ]
    return []


@dataclass(frozen=True, slots=True)
class _Rule:
    """A rule as compiled: its running position (rank) is its index in Matcher._rules.
    ``matches`` holds the (immutable) Match for each of its terms, built once."""

    rule_id: int
    numbers: frozenset[str]
    terms: tuple[str, ...]
    matches: tuple[Match, ...]


_NO_NAMES: Mapping[str, str | None] = MappingProxyType({})


def _compiled_rule(spec: RuleSpec) -> _Rule:
    keyword = spec.match_type not in (MatchType.ANY, MatchType.NOT_CONTAINS)
    terms = spec.terms if keyword else (None,)
    matches = tuple(Match(spec.rule_id, term, (), _NO_NAMES) for term in terms)
    return _Rule(spec.rule_id, frozenset(spec.numbers), spec.terms, matches)


_Hit = tuple[int, int]  # (rank, index of the term within the rule)
_NO_TERM = 1 << 30


class Matcher:
    """Every enabled keyword rule, compiled for matching one message at a time."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._any: list[int] = []
        self._not_contains: list[int] = []
        self._only: dict[str, list[_Hit]] = {}
        self._first: dict[str, list[_Hit]] = {}
        self._first_lengths: list[int] = []
        self._starts: dict[str, list[_Hit]] = {}
        self._start_lengths: list[int] = []
        self._contains: ahocorasick.Automaton | None = None
        self._regexes: list[tuple[int, list[tuple[int, regex.Pattern[str]]]]] = []
        self._numbered = False  # some rule watches only some of our numbers

    def __len__(self) -> int:
        return len(self._rules)

    @classmethod
    def compile(cls, specs: Iterable[RuleSpec]) -> Matcher:
        """Build the lookup structures once per rule change. Invalid terms are skipped
        (:func:`validate_rule` refuses them when a rule is saved)."""
        matcher = cls()
        ordered = sorted(specs, key=lambda spec: (spec.priority, spec.rule_id))
        substrings: dict[str, list[tuple[int, int, bool]]] = {}
        for rank, spec in enumerate(ordered):
            matcher._rules.append(_compiled_rule(spec))
            matcher._add(rank, spec, substrings)
        matcher._numbered = any(rule.numbers for rule in matcher._rules)
        matcher._finish(substrings)
        return matcher

    def _add(self, rank: int, spec: RuleSpec, substrings: dict) -> None:
        kind = spec.match_type
        if kind is MatchType.ANY:
            self._any.append(rank)
            return
        if kind is MatchType.NOT_CONTAINS:
            self._not_contains.append(rank)
        if kind is MatchType.REGEX:
            self._regexes.append((rank, _compile_patterns(spec.terms)))
            return
        table = {
            MatchType.ONLY_WORD: self._only,
            MatchType.FIRST_WORD: self._first,
            MatchType.STARTS_WITH: self._starts,
        }.get(kind)
        for position, term in enumerate(spec.terms):
            key = term_key(kind, term)
            if not key or len(term) > MAX_TERM_LENGTH:
                continue
            if table is not None:
                table.setdefault(key, []).append((rank, position))
            else:
                entry = (rank, position, kind is MatchType.NOT_CONTAINS)
                substrings.setdefault(key, []).append(entry)

    def _finish(self, substrings: dict[str, list[tuple[int, int, bool]]]) -> None:
        self._first_lengths = sorted({key.count(" ") + 1 for key in self._first})
        self._start_lengths = sorted({len(key) for key in self._starts})
        if substrings:
            automaton = ahocorasick.Automaton()
            for key, entries in substrings.items():
                automaton.add_word(key, tuple(entries))
            automaton.make_automaton()
            self._contains = automaton

    def match(self, body: str, our_number: str = "") -> list[Match]:
        """Every rule that matches ``body`` sent to ``our_number``, in running order, at
        most one :class:`Match` per rule. An empty ``our_number`` (unknown) matches
        only the rules that watch all of our numbers."""
        text = normalise(body)
        hits: dict[int, int] = {}
        excluded = self._keyword_hits(text, hits)
        ranks = [*hits, *self._any]
        if self._not_contains:
            ranks += [rank for rank in self._not_contains if rank not in excluded]
        rules = self._rules
        if self._numbered:
            ranks = [r for r in ranks if not rules[r].numbers or our_number in rules[r].numbers]
        ranks.sort()
        found = [rules[rank].matches[hits.get(rank, 0)] for rank in ranks]
        if self._regexes:
            return self._with_regexes(ranks, found, body, our_number)
        return found

    def _with_regexes(
        self, ranks: list[int], found: list[Match], body: str, our_number: str
    ) -> list[Match]:
        merged = list(zip(ranks, found, strict=True)) + self._regex_matches(body, our_number)
        merged.sort(key=lambda pair: pair[0])
        return [match for _, match in merged]

    def _watches(self, rank: int, our_number: str) -> bool:
        numbers = self._rules[rank].numbers
        return not numbers or our_number in numbers

    def _keyword_hits(self, text: str, hits: dict[int, int]) -> set[int]:
        """Fill ``hits`` (rank -> first matching term) and return the not-contains
        rules that one of their terms rules out."""
        if not text:
            return set()
        if self._only and (found := self._only.get(text)):
            _record(hits, found)
        if self._first:
            leading = words(text, self._first_lengths[-1])
            for length in self._first_lengths:
                if length > len(leading):
                    break
                if found := self._first.get(" ".join(leading[:length])):
                    _record(hits, found)
        if self._starts:
            starts = self._starts
            for length in self._start_lengths:
                if length > len(text):
                    break
                if found := starts.get(text[:length]):
                    _record(hits, found)
        if self._contains is not None:
            return self._substring_hits(text, hits)
        return set()

    def _substring_hits(self, text: str, hits: dict[int, int]) -> set[int]:
        excluded: set[int] = set()
        for _end, entries in self._contains.iter(text):
            for rank, position, negated in entries:
                if negated:
                    excluded.add(rank)
                elif position < hits.get(rank, _NO_TERM):
                    hits[rank] = position
        return excluded

    def _regex_matches(self, body: str, our_number: str) -> list[tuple[int, Match]]:
        raw = body.strip()[:REGEX_MAX_BODY]
        result = []
        for rank, patterns in self._regexes:
            if not self._watches(rank, our_number):
                continue
            for position, pattern in patterns:
                if found := self._search(rank, pattern, raw):
                    term = self._rules[rank].terms[position]
                    named = MappingProxyType(found.groupdict())
                    result.append(
                        (rank, Match(self._rules[rank].rule_id, term, found.groups(), named))
                    )
                    break
        return result

    def _search(self, rank: int, pattern: regex.Pattern[str], text: str) -> regex.Match | None:
        try:
            return search(pattern, text)
        except TimeoutError:
            rule_id = self._rules[rank].rule_id
            log.warning("rule %s: regex %r ran out of time; no match", rule_id, pattern.pattern)
            return None


def search(pattern: str | regex.Pattern[str], text: str) -> regex.Match | None:
    """Case-insensitive search of ``pattern`` (``re`` syntax) that gives up with
    ``TimeoutError`` after :data:`REGEX_TIMEOUT_S`."""
    if isinstance(pattern, str):
        pattern = regex.compile(pattern, regex.IGNORECASE)
    return pattern.search(text, timeout=REGEX_TIMEOUT_S)


def __getattr__(name: str) -> object:
    """``conflicts`` and ``Conflict`` live in bot.matching_conflicts (which imports this
    module); they are importable from here too."""
    if name in ("conflicts", "Conflict"):
        from bot import matching_conflicts

        return getattr(matching_conflicts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _record(hits: dict[int, int], found: list[_Hit]) -> None:
    for rank, position in found:
        if position < hits.get(rank, _NO_TERM):
            hits[rank] = position


def _compile_patterns(terms: Sequence[str]) -> list[tuple[int, regex.Pattern[str]]]:
    patterns = []
    for position, term in enumerate(terms):
        if term.strip() and not _pattern_problems(term):
            patterns.append((position, regex.compile(term, regex.IGNORECASE)))
    return patterns
