"""Normalised text for keyword matching (pure, standard library only).

:func:`normalise` is what every keyword rule compares against, and what a rule's terms
are turned into when the rules are compiled:

1. Unicode NFKC (full-width letters, ligatures and compatibility forms become plain
   letters: "ＰＲＩＣＥ" reads "PRICE"), then case folding ("Straße" reads "strasse"),
   then NFKC again (folding can un-normalise a few characters).
2. Format characters are deleted (zero-width space and joiner, soft hyphen, BOM,
   direction marks), so a pasted "pri\u200bce" still reads "price".
3. Runs of whitespace of any kind (tabs, newlines, NBSP, ideographic space) become
   one space.
4. Punctuation and symbols at both ends are removed: "Price?", " PRICE " and
   "price!!" all read "price", and so do "¿price?", "price 👍" and "⭐ price".
   Emoji, currency signs and other symbols count as symbols here ("$5" reads "5").
   Inside the text everything stays: "don't", "a.m.", "24/7", "no 😀 way".

:func:`words` splits a normalised text into words for the word-based match types:
on whitespace and on the clause punctuation ``, ; : ! ?`` (which never sits inside a
word, so "price,please" starts with the word "price"), with the punctuation and
symbols at each word's ends removed ("price." is the word "price").
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["is_edge_char", "normalise", "strip_edges", "words"]

# ASCII punctuation, symbols and whitespace: the common case, stripped by str.strip.
_ASCII_EDGE = "".join(chr(c) for c in range(128) if not chr(c).isalnum())
_EDGE_CACHE: dict[str, bool] = {}
_VARIATION_SELECTORS = frozenset(map(chr, [*range(0xFE00, 0xFE10), 0x20E3]))
_CLAUSE_SPLIT = re.compile(r"[\s,;:!?]+")


def is_edge_char(ch: str) -> bool:
    """True for a character removed at the ends: punctuation, symbol, separator, control,
    or an emoji presentation selector / keycap mark left over from an emoji."""
    cached = _EDGE_CACHE.get(ch)
    if cached is None:
        category = unicodedata.category(ch)
        cached = category[0] in "PSZC" or ch in _VARIATION_SELECTORS
        if len(_EDGE_CACHE) < 65536:
            _EDGE_CACHE[ch] = cached
    return cached


def strip_edges(text: str) -> str:
    """Remove punctuation, symbols and spaces from both ends of ``text``."""
    text = text.strip(_ASCII_EDGE)
    if not text or (text[0].isascii() and text[-1].isascii()):
        return text
    start, end = 0, len(text)
    while start < end and is_edge_char(text[start]):
        start += 1
    while end > start and is_edge_char(text[end - 1]):
        end -= 1
    return text[start:end]


def _drop_format_chars(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def normalise(text: str) -> str:
    """The form keyword rules compare: NFKC, case-folded, spaces collapsed, ends trimmed."""
    if text.isascii():
        folded = text.lower()
    else:
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
        folded = _drop_format_chars(folded)
    return strip_edges(" ".join(folded.split()))


def words(normalised: str, limit: int | None = None) -> list[str]:
    """The words of a normalised text (at most ``limit`` of them), ends trimmed."""
    if limit is None:
        return [word for token in _CLAUSE_SPLIT.split(normalised) if (word := strip_edges(token))]
    tokens = _CLAUSE_SPLIT.split(normalised, maxsplit=limit)
    result = [word for token in tokens[:limit] if (word := strip_edges(token))]
    if len(result) < limit and len(tokens) > limit:
        return words(normalised)[:limit]  # some tokens were bare punctuation
    return result
