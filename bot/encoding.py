"""GSM-7 vs UCS-2, the number of SMS parts, and smart encoding (pure).

Part sizes follow ClickSend's tables (shared/providers/clicksend-v3.md §1.11): a GSM-7
message holds 160 septets in one part, 153 per part when split; a UCS-2 message 70
UTF-16 code units, 67 per part. GSM-7 extension characters (``^ { } \\ [ ] ~ | €``
and form feed) are an escape plus a character: two septets, never split across parts.
Characters outside the BMP (emoji) are two UTF-16 units, never split either.
ClickSend truncates messages beyond :data:`MAX_PARTS`; :attr:`SmsSize.warning` says so.

Smart encoding (:func:`smart_encode`) replaces look-alike characters that would turn a
whole message into UCS-2 (and so cut each part from 160 to 70 characters) with their
GSM-7 equivalents, from the table :data:`SMART_REPLACEMENTS`:

==========================================  =============
curly and angled single quotes, prime, ´ `  ``'``
curly and low double quotes, double prime,  ``"``
« » guillemets
hyphen, non-breaking hyphen, figure dash,   ``-``
en dash, em dash, horizontal bar, minus
ellipsis                                    ``...``
no-break, thin, hair, en/em, figure,        space
narrow no-break, ideographic spaces; tab
bullets ``•`` ``‣`` ``◦`` ``⁃`` ``∙``          ``*``
middle dot                                  ``.``
fraction slash, division slash              ``/``
``™`` ``©`` ``®``                           ``TM`` ``(c)`` ``(R)``
zero-width space/joiner/non-joiner, BOM,    removed
soft hyphen, word joiner
==========================================  =============

Letters are never changed (an accented name stays as written), so a message with
other non-GSM characters stays UCS-2 after smart encoding.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "MAX_PARTS",
    "SMART_REPLACEMENTS",
    "SmsSize",
    "is_gsm7",
    "measure",
    "smart_encode",
    "split_parts",
]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
MAX_PARTS = 6
GSM_SINGLE, GSM_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


def _table(pairs: dict[str, str]) -> dict[str, str]:
    return {ch: replacement for chars, replacement in pairs.items() for ch in chars}


SMART_REPLACEMENTS: dict[str, str] = _table(
    {
        "\u2018\u2019\u201a\u201b\u2032\u2035\u2039\u203a\u00b4\u0060\u02bc": "'",
        "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb": '"',
        "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043": "-",
        "\u2026": "...",
        "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
        "\u202f\u205f\u3000\t": " ",
        "\u2022\u2023\u25e6\u2219": "*",
        "\u00b7": ".",
        "\u2044\u2215": "/",
        "\u2122": "TM",
        "\u00a9": "(c)",
        "\u00ae": "(R)",
        "\u200b\u200c\u200d\u2060\ufeff\u00ad": "",
    }
)
_TRANSLATION = str.maketrans(SMART_REPLACEMENTS)


@dataclass(frozen=True, slots=True)
class SmsSize:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    parts: int

    @property
    def too_long(self) -> bool:
        return self.parts > MAX_PARTS

    @property
    def warning(self) -> str | None:
        """What a composer shows when the message is too long, else None."""
        if not self.too_long:
            return None
        return (
            f"this message needs {self.parts} SMS parts; messages over {MAX_PARTS} parts"
            " are cut short by the provider"
        )


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def smart_encode(text: str) -> str:
    """``text`` with look-alike characters replaced by GSM-7 ones (see the table)."""
    return text.translate(_TRANSLATION)


def measure(body: str, *, smart: bool = False) -> SmsSize:
    """Encoding, units and parts of ``body`` (after smart encoding when ``smart``).

    Parts follow ClickSend's table; when a two-unit character (GSM-7 escape sequence,
    surrogate pair) would straddle a part boundary it moves whole to the next part,
    as the phone network does, which can add one part to the table's figure."""
    if smart:
        body = smart_encode(body)
    gsm = is_gsm7(body)
    if gsm:
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in body)
        single, multi = GSM_SINGLE, GSM_MULTI
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi = UCS2_SINGLE, UCS2_MULTI
    if units <= single:
        return SmsSize("gsm7" if gsm else "ucs2", units, 1)
    parts = -(-units // multi) if units == len(body) else len(_boundaries(body, gsm))
    return SmsSize("gsm7" if gsm else "ucs2", units, parts)


def split_parts(body: str) -> list[str]:
    """The parts ``body`` is sent as, never splitting an escape sequence (GSM-7
    extension character) or a surrogate pair. Joined, they give ``body`` back."""
    if not body:
        return []
    gsm = is_gsm7(body)
    if measure(body).parts == 1:
        return [body]
    starts = _boundaries(body, gsm)
    return [body[start:end] for start, end in zip(starts, [*starts[1:], len(body)], strict=True)]


def _boundaries(body: str, gsm: bool) -> list[int]:
    """Index in ``body`` where each part of a multipart message starts."""
    capacity = GSM_MULTI if gsm else UCS2_MULTI
    starts = [0]
    used = 0
    for index, ch in enumerate(body):
        cost = (2 if ch in GSM7_EXTENSION else 1) if gsm else (2 if ord(ch) > 0xFFFF else 1)
        if used + cost > capacity:
            starts.append(index)
            used = 0
        used += cost
    return starts
