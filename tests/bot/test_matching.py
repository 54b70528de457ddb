"""Keyword matching: normalisation, every match type, order, numbers, validation."""

from __future__ import annotations

import pytest

from bot.matching import (
    CLICKSEND_SEARCH_TYPES,
    MATCH_TYPE_TO_CLICKSEND,
    Match,
    Matcher,
    MatchType,
    RuleSpec,
    normalise,
    search,
    validate_rule,
)
from bot.textnorm import words

M = MatchType


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Price?", "price"),
        (" PRICE ", "price"),
        ("price!!", "price"),
        ("¿Precio?", "precio"),
        ("price 👍", "price"),
        ("⭐ price ⭐️", "price"),
        ("❤️", ""),
        ("", ""),
        ("   \t\n ", ""),
        ("?!...", ""),
        ("ＰＲＩＣＥ", "price"),  # full-width letters (NFKC)
        ("Straße", "strasse"),  # case folding, not just lower()
        ("ﬁnd", "find"),  # ligature (NFKC)
        ("pri\u200bce", "price"),  # zero-width space deleted
        ("price\u00a0\u00a0list", "price list"),  # NBSP runs collapse
        ("price \n\t list", "price list"),
        ("Café", "café"),  # accents stay
        ("CAFE\u0301", "café"),  # decomposed accent composes (NFKC)
        ("don't stop!", "don't stop"),  # inner punctuation stays
        ("24/7?", "24/7"),
        ("no 😀 way", "no 😀 way"),  # inner emoji stays
        ("$5", "5"),  # currency signs are symbols
        ("नमस्ते!", "नमस्ते"),  # combining vowel sign at the end is kept
        ("«Привет»", "привет"),
    ],
)
def test_normalise(raw, expected):
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("price, please", ["price", "please"]),
        ("price,please", ["price", "please"]),
        ("price. list", ["price", "list"]),
        ("price - list", ["price", "list"]),
        ("e-mail me", ["e-mail", "me"]),
        ("", []),
    ],
)
def test_words(text, expected):
    assert words(normalise(text)) == expected
    assert words(normalise(text), 1) == expected[:1]


def test_clicksend_search_types_map_both_ways():
    assert CLICKSEND_SEARCH_TYPES == {0: M.ANY, 1: M.STARTS_WITH, 2: M.CONTAINS, 3: M.NOT_CONTAINS}
    assert {v: k for k, v in MATCH_TYPE_TO_CLICKSEND.items()} == CLICKSEND_SEARCH_TYPES


def _ids(kind, terms, body, our_number=""):
    matcher = Matcher.compile([RuleSpec(1, 1, kind, tuple(terms))])
    return [(m.rule_id, m.term) for m in matcher.match(body, our_number)]


CASES = [
    # (match type, terms, body, matches?, term reported)
    (M.ANY, [], "anything", True, None),
    (M.ANY, [], "", True, None),
    (M.STARTS_WITH, ["price"], "prices please", True, "price"),
    (M.STARTS_WITH, ["price"], "Price?", True, "price"),
    (M.STARTS_WITH, ["PRICE"], "  price list", True, "PRICE"),
    (M.STARTS_WITH, ["price"], "the price", False, None),
    (M.STARTS_WITH, ["price"], "", False, None),
    (M.STARTS_WITH, ["price list"], "Price  list!", True, "price list"),
    (M.CONTAINS, ["price"], "what's the PRICE?", True, "price"),
    (M.CONTAINS, ["price"], "surprices", True, "price"),
    (M.CONTAINS, ["price"], "pric e", False, None),
    (M.CONTAINS, ["café"], "CAFÉ open?", True, "café"),
    (M.CONTAINS, ["cafe"], "café open?", False, None),  # accents are not folded
    (M.CONTAINS, ["pizza"], "🍕 pizza 🍕", True, "pizza"),
    (M.NOT_CONTAINS, ["stop", "cancel"], "hello", True, None),
    (M.NOT_CONTAINS, ["stop", "cancel"], "please CANCEL", False, None),
    (M.NOT_CONTAINS, ["stop"], "", True, None),
    (M.ONLY_WORD, ["price"], "Price?", True, "price"),
    (M.ONLY_WORD, ["price"], " PRICE ", True, "price"),
    (M.ONLY_WORD, ["price"], "price!!", True, "price"),
    (M.ONLY_WORD, ["price"], "💰 price 💰", True, "price"),
    (M.ONLY_WORD, ["price"], "price please", False, None),
    (M.ONLY_WORD, ["price"], "prices", False, None),
    (M.ONLY_WORD, ["opening hours"], "Opening   hours?", True, "opening hours"),
    (M.ONLY_WORD, ["price"], "", False, None),
    (M.FIRST_WORD, ["price"], "Price, please", True, "price"),
    (M.FIRST_WORD, ["price"], "price,please", True, "price"),
    (M.FIRST_WORD, ["price"], "PRICE", True, "price"),
    (M.FIRST_WORD, ["price"], "prices please", False, None),
    (M.FIRST_WORD, ["price"], "the price", False, None),
    (M.FIRST_WORD, ["price list"], "price list please", True, "price list"),
    (M.FIRST_WORD, ["price list"], "price, list?", True, "price list"),
    (M.FIRST_WORD, ["price list"], "price please", False, None),
    (M.FIRST_WORD, ["price"], "... price?", True, "price"),
    (M.FIRST_WORD, ["price"], "", False, None),
    (M.REGEX, [r"order\s+#?\d+"], "Where is ORDER #123?", True, r"order\s+#?\d+"),
    (M.REGEX, [r"^yes$"], "  Yes  ", True, "^yes$"),  # surrounding whitespace stripped
    (M.REGEX, [r"^yes$"], "yes!", False, None),  # but not normalised
    (M.REGEX, [r"\d{5}"], "", False, None),
]


@pytest.mark.parametrize(("kind", "terms", "body", "matches", "term"), CASES)
def test_each_match_type(kind, terms, body, matches, term):
    assert _ids(kind, terms, body) == ([(1, term)] if matches else [])


def test_the_first_term_of_a_rule_is_reported_once():
    matcher = Matcher.compile([RuleSpec(7, 1, M.CONTAINS, ("list", "price", "pri"))])
    assert matcher.match("price list") == [Match(7, "list")]


def test_a_rule_mixing_lengths_reports_its_first_matching_term():
    matcher = Matcher.compile([RuleSpec(7, 1, M.FIRST_WORD, ("price list", "price"))])
    assert matcher.match("price list") == [Match(7, "price list")]
    assert matcher.match("price") == [Match(7, "price")]


def test_regex_captures_keep_the_customers_text():
    matcher = Matcher.compile(
        [RuleSpec(3, 1, M.REGEX, (r"book (?P<day>\w+) at (\d+)(pm)?", r"book"))]
    )
    [found] = matcher.match("  Book MONDAY at 5  ")
    assert (found.rule_id, found.groups, dict(found.named)) == (
        3,
        ("MONDAY", "5", None),
        {"day": "MONDAY"},
    )


def test_matches_come_in_priority_then_id_order():
    specs = [
        RuleSpec(5, 20, M.CONTAINS, ("price",)),
        RuleSpec(4, 10, M.ANY, ()),
        RuleSpec(9, 10, M.FIRST_WORD, ("price",)),
        RuleSpec(2, 10, M.NOT_CONTAINS, ("stop",)),
        RuleSpec(1, 30, M.REGEX, ("pri",)),
        RuleSpec(3, 5, M.STARTS_WITH, ("pr",)),
        RuleSpec(8, 10, M.ONLY_WORD, ("price",)),
    ]
    found = Matcher.compile(specs).match("price")
    assert [m.rule_id for m in found] == [3, 2, 4, 8, 9, 5, 1]


def test_rules_listing_numbers_match_only_on_those_numbers():
    specs = [
        RuleSpec(1, 1, M.CONTAINS, ("price",), frozenset({"+61411111111"})),
        RuleSpec(2, 2, M.CONTAINS, ("price",)),
        RuleSpec(3, 3, M.ANY, (), frozenset({"+61422222222", "+61411111111"})),
        RuleSpec(4, 4, M.REGEX, ("price",), frozenset({"+61422222222"})),
    ]
    matcher = Matcher.compile(specs)
    assert [m.rule_id for m in matcher.match("price", "+61411111111")] == [1, 2, 3]
    assert [m.rule_id for m in matcher.match("price", "+61422222222")] == [2, 3, 4]
    assert [m.rule_id for m in matcher.match("price", "+15550000000")] == [2]
    assert [m.rule_id for m in matcher.match("price")] == [2]  # number unknown: '*' rules only


def test_not_contains_and_contains_share_terms():
    specs = [RuleSpec(1, 1, M.CONTAINS, ("stop",)), RuleSpec(2, 1, M.NOT_CONTAINS, ("stop",))]
    matcher = Matcher.compile(specs)
    assert [m.rule_id for m in matcher.match("please stop")] == [1]
    assert [m.rule_id for m in matcher.match("please go")] == [2]


def test_an_empty_matcher_matches_nothing():
    assert Matcher.compile([]).match("hello") == []


def test_invalid_terms_are_skipped_when_compiling():
    specs = [RuleSpec(1, 1, M.CONTAINS, ("!!", "")), RuleSpec(2, 1, M.REGEX, ("(",))]
    assert Matcher.compile(specs).match("!! (") == []


def test_many_rules_with_one_term_all_match():
    specs = [RuleSpec(i, i % 3, M.FIRST_WORD, ("info",)) for i in range(50)]
    found = Matcher.compile(specs).match("INFO please")
    assert [m.rule_id for m in found] == sorted(range(50), key=lambda i: (i % 3, i))


@pytest.mark.parametrize(
    ("kind", "terms", "problems"),
    [
        (M.ANY, [], []),
        (M.ANY, [""], []),
        (M.ANY, ["price"], ["an 'any message' rule takes no terms"]),
        (M.CONTAINS, [], ["a 'contains' rule needs at least one term"]),
        (M.FIRST_WORD, ["  "], ["a 'first word' rule needs at least one term"]),
        (M.CONTAINS, ["price", ""], ["a term is empty"]),
        (M.CONTAINS, ["price", "stop"], []),
        (
            M.ONLY_WORD,
            ["?!", "👍"],
            [
                "term '?!' has no letters or digits (punctuation and emoji are ignored)",
                "term '👍' has no letters or digits (punctuation and emoji are ignored)",
            ],
        ),
        (M.STARTS_WITH, ["Price", "PRICE!"], ["term 'PRICE!' is listed twice"]),
        (M.CONTAINS, ["x" * 161], ["term 'xxxxxxxxxxxxxxxxxxxx'… is longer than 160 characters"]),
        (M.CONTAINS, ["a"] * 51, ["a rule may have at most 50 terms, not 51"]),
        (M.REGEX, [r"order \d+"], []),
        (M.CONTAINS, "price", ["terms must be a list of text"]),
        (M.CONTAINS, ["price", None], ["terms must be a list of text"]),
        (M.ANY, [3], ["terms must be a list of text"]),
        (
            M.REGEX,
            ["order (\\d+"],
            [
                "regex 'order (\\\\d+' does not compile:"
                " missing ), unterminated subpattern at position 6"
            ],
        ),
    ],
)
def test_validate_rule(kind, terms, problems):
    assert validate_rule(kind, terms) == problems


@pytest.mark.parametrize(
    ("pattern", "refused"),
    [
        (r"(a+)+$", True),
        (r"(\w+\s?)+$", True),
        (r"(x|(y+))*", True),
        (r"(?=(a+)+)b", True),
        (r"(\d+){3}", True),
        (r"(a++)+$", False),  # possessive: never backtracks
        (r"(?>a+)+$", False),  # atomic group
        (r"(\d{2}){3}", False),  # fixed-length repeats nest safely
        (r"(a|b)*c", False),
        (r"order\s+#?(\d+)", False),
    ],
)
def test_regexes_that_backtrack_exponentially_are_refused(pattern, refused):
    problems = validate_rule(M.REGEX, [pattern])
    assert bool(problems) == refused
    if refused:
        assert "exponential time" in problems[0]


def test_a_refused_regex_never_runs():
    matcher = Matcher.compile([RuleSpec(1, 1, M.REGEX, (r"(a+)+$",))])
    assert matcher.match("a" * 40 + "!") == []


def test_a_slow_regex_the_check_misses_runs_out_of_time_as_no_match(caplog):
    slow = r"(a|a)*$"  # exponential, but no repeat inside a repeat
    assert validate_rule(M.REGEX, [slow]) == []
    matcher = Matcher.compile(
        [RuleSpec(1, 1, M.REGEX, (slow,)), RuleSpec(2, 2, M.REGEX, ("a{5}",))]
    )
    assert [match.rule_id for match in matcher.match("a" * 26 + "?")] == [2]
    assert caplog.messages == ["rule 1: regex '(a|a)*$' ran out of time; no match"]
    with pytest.raises(TimeoutError):
        search(slow, "a" * 1900 + "?")
