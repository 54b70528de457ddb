"""Refuse keyword-rule regexes that can take exponential time (pure).

Python's :mod:`re` backtracks and has no time limit, and the rule engine runs every
regex rule on every inbound message, so one pattern such as ``(a+)+$`` or
``(\\w+\\s?)+$`` could stall message handling for minutes on a crafted SMS. A rule's
pattern is therefore refused when a repeat that can run more than once (``+``,
``*``, ``{2,}``…) contains a repeat of variable length: the shape behind catastrophic
backtracking (``(\\d{2}){3}`` is fine, ``(\\d+){3}`` is not). Possessive
quantifiers (``a++``) and atomic groups (``(?>…)``) never backtrack, so they are the
suggested fix and are accepted. Bodies are also cut to a fixed length before a regex
runs (bot.matching.REGEX_MAX_BODY), which bounds the polynomial cases. Not detected:
ambiguous alternatives under a repeat (``(a|a)*``); such patterns are rare in keyword
rules, and admins (not customers) write them.

The check reads the parse tree of the standard library's regex parser (``re._parser``,
stable since Python 3.11); if that module is ever missing the check is skipped.
"""

from __future__ import annotations

from typing import Any

try:
    from re import _constants as sre
    from re import _parser
except ImportError:  # pragma: no cover - a future Python without the private parser
    _parser = None

__all__ = ["nested_repeat"]


def nested_repeat(pattern: str, flags: int = 0) -> bool:
    """True when ``pattern`` (which must compile) nests backtracking repeats."""
    if _parser is None:
        return False
    return _walk(list(_parser.parse(pattern, flags)), inside_repeat=False)


def _walk(items: list[tuple[Any, Any]], inside_repeat: bool) -> bool:
    for op, value in items:
        if op is sre.ATOMIC_GROUP or op is sre.POSSESSIVE_REPEAT:
            continue
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, sub = value
            if inside_repeat and high > 1 and high != low:
                return True
            if _walk(list(sub), inside_repeat or high > 1):
                return True
        elif any(_walk(sub, inside_repeat) for sub in _children(op, value)):
            return True
    return False


def _children(op: Any, value: Any) -> list[list[tuple[Any, Any]]]:
    if op is sre.SUBPATTERN:
        return [list(value[-1])]
    if op is sre.BRANCH:
        return [list(branch) for branch in value[1]]
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        return [list(value[1])]
    if op is sre.GROUPREF_EXISTS:
        return [list(branch) for branch in value[1:] if branch is not None]
    return []
