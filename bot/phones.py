"""Phone number normalisation (pure): anything phonenumbers parses → E.164."""

from __future__ import annotations

import functools

import phonenumbers


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can message."""


def to_e164(raw: str, default_region: str = "US") -> str:
    """Normalise ``raw`` to E.164; raise InvalidPhoneNumber naming the problem."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("phone number is empty")
    if len(text) > 32:
        raise InvalidPhoneNumber("phone number is longer than 32 characters")
    return _to_e164(text, default_region.upper())


# Sized for the distinct numbers of a busy stretch of webhooks (an LRU smaller than
# the set of senders in rotation misses every time); about 250 bytes an entry.
@functools.lru_cache(maxsize=32_768)
def _to_e164(text: str, region: str) -> str:
    if text.isdigit() and text[0] != "0" and len(text) > 10:
        # ClickSend sends numbers without the leading + (e.g. 61411111111).
        text = "+" + text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"{text!r} is not a phone number ({exc._msg})") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(f"{text!r} has the wrong length for a phone number")
    if not text.startswith("+") and not phonenumbers.is_valid_number(number):
        # A national number must be a real one of the default region: "0412 345 678"
        # read as US would otherwise become +10412345678. Numbers given with + are
        # trusted at a possible length (provider test numbers are not all "valid").
        raise InvalidPhoneNumber(f"{text!r} is not a valid number in region {region}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def to_e164_or_raw(raw: str, default_region: str = "US") -> str:
    """Our own numbers and sender ids: E.164 when they parse, else the text as given."""
    try:
        return to_e164(raw, default_region)
    except InvalidPhoneNumber:
        return (raw or "").strip()[:20]
