"""Keyword matching: the compiled Matcher vs a naive loop over rules, in the same run.

For 10, 1,000 and 10,000 enabled keyword rules (a mix of first-word, only-word,
starts-with and contains rules, some tied to one of our numbers) it matches a fixed
set of realistic messages (some hitting a rule, most not) and prints microseconds per
message for:

- naive: normalise the body once, then test every rule in turn (what a simple rule
  engine does);
- matcher: ``Matcher.compile(specs)`` once, then ``matcher.match(body, number)``.

It also prints the time to compile 10,000 rules.

    .venv/bin/python bench/rules.py [--repeat 5]

Not a test: it prints figures for docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.matching import Matcher, MatchType, RuleSpec, normalise, term_key  # noqa: E402
from bot.textnorm import words  # noqa: E402

NUMBERS = ("+61411111111", "+61422222222", "+61433333333")
KINDS = (MatchType.FIRST_WORD, MatchType.ONLY_WORD, MatchType.STARTS_WITH, MatchType.CONTAINS)
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "su",
    "ter",
    "ban",
    "cor",
    "del",
    "fin",
    "gra",
    "hol",
    "jun",
    "lem",
    "nor",
    "pel",
    "quin",
    "ras",
    "sol",
    "tur",
    "vex",
]
MESSAGES = [
    "Hi, is my order shipped yet?",
    "PRICE?",
    "What are your opening hours on Sunday?",
    "yes",
    "Can I book a table for 4 at 7pm tonight please 🙏",
    "STOP",
    "I'd like to change my appointment to next Tuesday morning if that works",
    "info",
    "Thanks!! 😀",
    "Where is my parcel? Tracking says delivered but nothing here",
]


def make_specs(count: int, rng: random.Random) -> tuple[list[RuleSpec], list[str]]:
    """``count`` rules with made-up keywords; also returns messages that hit some."""
    specs, hits, used = [], [], set()
    for rule_id in range(1, count + 1):
        word = ""
        while not word or word in used:
            word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 4)))
        used.add(word)
        kind = KINDS[rule_id % len(KINDS)]
        numbers = frozenset({NUMBERS[rule_id % 3]}) if rule_id % 5 == 0 else frozenset()
        specs.append(RuleSpec(rule_id, rng.randint(1, 100), kind, (word,), numbers))
        if rule_id % max(1, count // 10) == 0:
            hits.append(f"{word.upper()}?" if kind is MatchType.ONLY_WORD else f"{word} please")
    return specs, hits


def naive_matcher(specs: list[RuleSpec]):
    """Normalise once, then test every rule (terms pre-normalised, rules pre-sorted)."""
    rules = [
        (spec, spec.match_type, [term_key(spec.match_type, t) for t in spec.terms])
        for spec in sorted(specs, key=lambda s: (s.priority, s.rule_id))
    ]

    def match(body: str, our_number: str) -> list[int]:
        text = normalise(body)
        first = " ".join(words(text, 4))
        found = []
        for spec, kind, keys in rules:
            if spec.numbers and our_number not in spec.numbers:
                continue
            for key in keys:
                if kind is ONLY and text == key:
                    break
                if kind is STARTS and text.startswith(key):
                    break
                if kind is CONTAINS and key in text:
                    break
                if kind is FIRST and (first == key or first.startswith(key + " ")):
                    break
            else:
                continue
            found.append(spec.rule_id)
        return found

    return match


ONLY, STARTS = MatchType.ONLY_WORD, MatchType.STARTS_WITH
CONTAINS, FIRST = MatchType.CONTAINS, MatchType.FIRST_WORD


def per_message_us(match, messages: list[str], repeat: int) -> float:
    best = float("inf")
    loops = max(1, 20_000 // len(messages))
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(loops):
            for index, body in enumerate(messages):
                match(body, NUMBERS[index % 3])
        best = min(best, (time.perf_counter() - start) / (loops * len(messages)))
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(4)
    print(f"{'rules':>7} {'naive µs/msg':>13} {'matcher µs/msg':>15} {'speed-up':>9} {'hits':>5}")
    for count in (10, 1_000, 10_000):
        specs, hits = make_specs(count, rng)
        messages = MESSAGES + hits
        naive = naive_matcher(specs)
        matcher = Matcher.compile(specs)
        agree = all(
            naive(body, NUMBERS[i % 3]) == [m.rule_id for m in matcher.match(body, NUMBERS[i % 3])]
            for i, body in enumerate(messages)
        )
        assert agree, "the matcher and the naive loop disagree"
        matched = sum(bool(matcher.match(b, NUMBERS[i % 3])) for i, b in enumerate(messages))
        slow = per_message_us(naive, messages, args.repeat if count < 10_000 else 2)
        fast = per_message_us(matcher.match, messages, args.repeat)
        print(f"{count:>7} {slow:>13.2f} {fast:>15.2f} {slow / fast:>8.1f}x {matched:>5}")
    specs, _ = make_specs(10_000, rng)
    start = time.perf_counter()
    Matcher.compile(specs)
    print(f"compile 10,000 rules: {(time.perf_counter() - start) * 1000:.1f} ms")
    start = time.perf_counter()
    for body in MESSAGES * 1000:
        normalise(body)
    print(f"normalise alone: {(time.perf_counter() - start) * 100:.2f} µs/msg (part of both)")


if __name__ == "__main__":
    main()
