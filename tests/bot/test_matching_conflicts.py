"""Rule conflicts for the workbench: duplicates and shadowed rules."""

from __future__ import annotations

import pytest

from bot.matching import Conflict, MatchType, RuleSpec, conflicts

M = MatchType
A, B = frozenset({"+61411111111"}), frozenset({"+61422222222"})


def rule(rule_id, priority, kind, *terms, numbers=frozenset()):
    return RuleSpec(rule_id, priority, kind, terms, numbers)


def _found(specs):
    return [(c.kind, c.rule_id, c.other_rule_id) for c in conflicts(specs)]


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        # same type and term (after normalising), overlapping numbers
        (
            [rule(1, 1, M.CONTAINS, "Price"), rule(2, 2, M.CONTAINS, "price!")],
            [("duplicate", 2, 1)],
        ),
        (
            [rule(1, 1, M.ONLY_WORD, "hi", numbers=A), rule(2, 1, M.ONLY_WORD, "HI")],
            [("duplicate", 2, 1)],
        ),
        ([rule(1, 1, M.ONLY_WORD, "hi", numbers=A), rule(2, 1, M.ONLY_WORD, "hi", numbers=B)], []),
        ([rule(1, 1, M.CONTAINS, "hi"), rule(2, 1, M.STARTS_WITH, "hi")], [("shadowed", 2, 1)]),
        # an "any" rule above shadows everything on its numbers
        (
            [rule(1, 1, M.ANY), rule(2, 2, M.REGEX, "x"), rule(3, 3, M.NOT_CONTAINS, "stop")],
            [("shadowed", 2, 1), ("shadowed", 3, 1)],
        ),
        ([rule(1, 1, M.ANY, numbers=A), rule(2, 2, M.FIRST_WORD, "price")], []),
        ([rule(1, 1, M.ANY), rule(2, 2, M.FIRST_WORD, "price", numbers=A)], [("shadowed", 2, 1)]),
        ([rule(1, 5, M.FIRST_WORD, "price"), rule(2, 1, M.ANY)], [("shadowed", 1, 2)]),
        # contains above first word / only word / starts with
        (
            [rule(1, 1, M.CONTAINS, "price"), rule(2, 2, M.FIRST_WORD, "prices")],
            [("shadowed", 2, 1)],
        ),
        ([rule(1, 1, M.CONTAINS, "rice"), rule(2, 2, M.ONLY_WORD, "price")], [("shadowed", 2, 1)]),
        (
            [rule(1, 1, M.CONTAINS, "price"), rule(2, 2, M.STARTS_WITH, "prices")],
            [("shadowed", 2, 1)],
        ),
        ([rule(1, 1, M.CONTAINS, "prices"), rule(2, 2, M.FIRST_WORD, "price")], []),
        # starts with above
        (
            [rule(1, 1, M.STARTS_WITH, "pri"), rule(2, 2, M.FIRST_WORD, "price")],
            [("shadowed", 2, 1)],
        ),
        (
            [rule(1, 1, M.STARTS_WITH, "pri"), rule(2, 2, M.ONLY_WORD, "price")],
            [("shadowed", 2, 1)],
        ),
        ([rule(1, 1, M.STARTS_WITH, "pri"), rule(2, 2, M.CONTAINS, "price")], []),
        # first word above
        (
            [rule(1, 1, M.FIRST_WORD, "price"), rule(2, 2, M.FIRST_WORD, "price list")],
            [("shadowed", 2, 1)],
        ),
        (
            [rule(1, 1, M.FIRST_WORD, "price"), rule(2, 2, M.ONLY_WORD, "price list")],
            [("shadowed", 2, 1)],
        ),
        ([rule(1, 1, M.FIRST_WORD, "price"), rule(2, 2, M.STARTS_WITH, "price")], []),
        ([rule(1, 1, M.FIRST_WORD, "price list"), rule(2, 2, M.FIRST_WORD, "price")], []),
        # every term of the later rule must be covered, by the same earlier rule
        ([rule(1, 1, M.CONTAINS, "price"), rule(2, 2, M.FIRST_WORD, "price", "cost")], []),
        (
            [rule(1, 1, M.CONTAINS, "price", "cost"), rule(2, 2, M.FIRST_WORD, "price", "costs")],
            [("shadowed", 2, 1)],
        ),
        # the earlier rule must watch every number the later one does
        ([rule(1, 1, M.CONTAINS, "price", numbers=A), rule(2, 2, M.FIRST_WORD, "price")], []),
        (
            [
                rule(1, 1, M.CONTAINS, "price", numbers=A | B),
                rule(2, 2, M.FIRST_WORD, "price", numbers=A),
            ],
            [("shadowed", 2, 1)],
        ),
        # a later rule is reported against the first rule that shadows it
        (
            [
                rule(1, 1, M.CONTAINS, "rice"),
                rule(2, 2, M.CONTAINS, "price"),
                rule(3, 3, M.ONLY_WORD, "price"),
            ],
            [("shadowed", 2, 1), ("shadowed", 3, 1)],
        ),
        ([rule(1, 1, M.REGEX, "price"), rule(2, 2, M.CONTAINS, "price")], []),
    ],
)
def test_conflicts(specs, expected):
    assert _found(specs) == expected


def test_conflict_messages_name_both_rules():
    [duplicate, shadowed] = conflicts(
        [
            rule(1, 1, M.CONTAINS, "price"),
            rule(2, 2, M.CONTAINS, "PRICE"),
            rule(3, 3, M.FIRST_WORD, "prices"),
        ]
    )
    assert duplicate == Conflict(
        "duplicate", 2, 1, "rule 2 and rule 1 both match contains 'price' on the same number"
    )
    assert shadowed.message == (
        "rule 3 (first word) only runs when rule 1 (contains), which runs first and matches"
        " every message it matches, continues to the next rule or fails its conditions"
    )
