"""Property tests: the compiled matcher agrees with a rule-by-rule reference."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matching import Matcher, MatchType, RuleSpec, normalise, term_key, validate_rule
from bot.textnorm import words

WORDS = ["price", "prices", "pri", "stop", "info", "help me", "ＰＲＩＣＥ", "café", "a", "😀"]
NUMBERS = ["+61411111111", "+61422222222"]
text = st.lists(st.sampled_from([*WORDS, " ", ",", "!", "?", "  ", "\n", "¿"]), max_size=8).map(
    "".join
)
kinds = st.sampled_from([k for k in MatchType if k is not MatchType.REGEX])
specs = st.lists(
    st.builds(
        RuleSpec,
        rule_id=st.integers(1, 10_000),
        priority=st.integers(0, 5),
        match_type=kinds,
        terms=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(tuple),
        numbers=st.frozensets(st.sampled_from(NUMBERS), max_size=1),
    ),
    max_size=12,
    unique_by=lambda spec: spec.rule_id,
)


def reference(rules: list[RuleSpec], body: str, our_number: str) -> list[tuple[int, str | None]]:
    """Test every rule in turn, straight from the definitions."""
    norm = normalise(body)
    lead = words(norm)
    found = []
    for spec in sorted(rules, key=lambda s: (s.priority, s.rule_id)):
        if spec.numbers and our_number not in spec.numbers:
            continue
        if spec.match_type is MatchType.ANY:
            found.append((spec.rule_id, None))
            continue
        keys = [term_key(spec.match_type, t) for t in spec.terms]
        if spec.match_type is MatchType.NOT_CONTAINS:
            if not any(k and k in norm for k in keys):
                found.append((spec.rule_id, None))
            continue
        for term, key in zip(spec.terms, keys, strict=True):
            if key and _hits(spec.match_type, key, norm, lead):
                found.append((spec.rule_id, term))
                break
    return found


def _hits(kind: MatchType, key: str, norm: str, lead: list[str]) -> bool:
    if kind is MatchType.STARTS_WITH:
        return norm.startswith(key)
    if kind is MatchType.CONTAINS:
        return key in norm
    if kind is MatchType.ONLY_WORD:
        return norm == key
    return lead[: key.count(" ") + 1] == key.split(" ")


@settings(max_examples=300)
@given(specs, text, st.sampled_from(["", *NUMBERS]))
def test_the_matcher_agrees_with_the_reference(rules, body, our_number):
    rules = [  # an "any" rule has no terms
        RuleSpec(r.rule_id, r.priority, r.match_type, (), r.numbers)
        if r.match_type is MatchType.ANY
        else r
        for r in rules
    ]
    found = Matcher.compile(rules).match(body, our_number)
    assert [(m.rule_id, m.term) for m in found] == reference(rules, body, our_number)


@given(st.text(max_size=60))
def test_normalise_is_idempotent(body):
    once = normalise(body)
    assert normalise(once) == once


@given(st.text(max_size=60))
def test_normalised_text_has_no_edge_spaces_or_runs(body):
    norm = normalise(body)
    assert norm == norm.strip()
    assert "  " not in norm
    assert not re.search(r"\s", norm.replace(" ", ""))


@given(st.text(max_size=40))
def test_validate_rule_never_raises_and_valid_terms_match_themselves(term):
    for kind in (
        MatchType.CONTAINS,
        MatchType.ONLY_WORD,
        MatchType.STARTS_WITH,
        MatchType.FIRST_WORD,
    ):
        if validate_rule(kind, [term]) == []:
            matcher = Matcher.compile([RuleSpec(1, 1, kind, (term,))])
            assert [m.rule_id for m in matcher.match(term)] == [1]
