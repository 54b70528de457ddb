"""The pipeline's fast path with keyword rules: how long triage takes per pending
message when 10,000 keyword rules are enabled, next to triage with no rules (the
baseline, compliance classification only), measured in the same run.

Run: .venv/bin/python bench/pipeline_triage.py
"""

from __future__ import annotations

import random
import string
import time

from bot.matching import Matcher, MatchType, RuleSpec
from bot.optout_keywords import DEFAULT_VOCABULARY
from bot.pipeline import Pending, triage

BATCH = 500
ROUNDS = 40
RULE_COUNTS = (0, 10, 1_000, 10_000)
TYPES = (MatchType.FIRST_WORD, MatchType.ONLY_WORD, MatchType.CONTAINS, MatchType.STARTS_WITH)


def keyword(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(6, 10)))


def rules(count: int, rng: random.Random) -> Matcher:
    specs = [
        RuleSpec(n, rng.randint(1, 100), TYPES[n % len(TYPES)], (keyword(rng), keyword(rng)))
        for n in range(count)
    ]
    return Matcher.compile(specs)


def batch(rng: random.Random) -> list[Pending]:
    bodies = [
        "Hi, is my order shipped yet?",
        "Thanks so much!",
        "Can I change my appointment to Tuesday afternoon please",
        "ok",
        "What time do you open tomorrow? 🙂",
    ]
    return [
        Pending(n, rng.choice(bodies), f"+1415555{n:04d}", False, "+61411111111")
        for n in range(BATCH)
    ]


def per_message_us(matcher: Matcher | None, items: list[Pending]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        quiet, actionable = triage(items, DEFAULT_VOCABULARY, matcher)
        best = min(best, time.perf_counter() - start)
        assert len(quiet) == BATCH and not actionable
    return best / BATCH * 1e6


def main() -> None:
    rng = random.Random(4)
    items = batch(rng)
    per_message_us(None, items)  # warm-up
    baseline = per_message_us(None, items)
    print(f"triage, no rules (baseline): {baseline:6.2f} µs per message")
    for count in RULE_COUNTS:
        matcher = rules(count, rng)
        cost = per_message_us(matcher, items)
        print(
            f"triage, {count:>6,} keyword rules:  {cost:6.2f} µs per message "
            f"(+{cost - baseline:5.2f} µs over the baseline)"
        )


if __name__ == "__main__":
    main()
