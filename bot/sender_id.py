"""Sender ids (ClickSend's ``from``), checked before they are saved (pure).

The reference allows two kinds (clicksend-v3.md §2.1 and §8.9):

- a dedicated number in E.164 (``+`` and the digits), the only kind customers
  can reply to;
- an alpha tag: at most 11 characters, letters, digits and ``+``, no spaces,
  otherwise ClickSend refuses the send with INVALID_SENDER_ID. A tag of digits
  only would read as a (wrong) phone number, so it is refused here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

ALPHA_TAG_MAX = 11
_ALPHA_TAG = re.compile(r"[A-Za-z0-9+]+")


@dataclass(slots=True)
class DefaultSender:
    """The ``from`` used when a message has no number of ours: the settings page's
    value when one is saved, else SMSDESK_SENDER_ID, else ClickSend's default."""

    configured: str | None = None
    saved: str | None = None

    @property
    def value(self) -> str | None:
        return self.saved or self.configured


class InvalidSenderId(ValueError):
    """The text is not a sender id ClickSend accepts; the message says why."""


def check_sender_id(raw: str) -> str:
    """``raw`` without surrounding spaces if valid; raise InvalidSenderId otherwise."""
    value = (raw or "").strip()
    if not value:
        raise InvalidSenderId("is empty")
    if value.startswith("+"):
        return _check_number(value)
    if value.isdigit():
        raise InvalidSenderId(
            f"{value[:20]!r} looks like a phone number: write it in E.164 with a leading +, "
            "e.g. +61411111111"
        )
    if any(c.isspace() for c in value):
        raise InvalidSenderId("an alpha tag may not contain spaces")
    if len(value) > ALPHA_TAG_MAX:
        raise InvalidSenderId(
            f"an alpha tag is at most {ALPHA_TAG_MAX} characters ({len(value)} given)"
        )
    if not _ALPHA_TAG.fullmatch(value):
        raise InvalidSenderId("an alpha tag may hold only letters A-Z, digits and +")
    return value


def _check_number(value: str) -> str:
    digits = value[1:]
    if not digits.isdigit() or not digits.isascii():
        raise InvalidSenderId(
            f"{value[:20]!r} is not an E.164 number: + followed by digits only, no spaces"
        )
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise InvalidSenderId(f"{value[:20]!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidSenderId(f"{value[:20]!r} has the wrong length for a phone number")
    return value
