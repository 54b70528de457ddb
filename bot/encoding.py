"""GSM-7 vs UCS-2 and the number of SMS parts (pure), per ClickSend's tables."""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
MAX_PARTS = 6


@dataclass(frozen=True, slots=True)
class SmsSize:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    parts: int

    @property
    def too_long(self) -> bool:
        return self.parts > MAX_PARTS


def measure(body: str) -> SmsSize:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in body):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in body)
        return SmsSize("gsm7", units, _parts(units, 160, 153))
    units = len(body.encode("utf-16-le")) // 2
    return SmsSize("ucs2", units, _parts(units, 70, 67))


def _parts(units: int, single: int, multi: int) -> int:
    if units <= single:
        return 1
    return -(-units // multi)
