"""ClickSend push payloads (inbound SMS and delivery receipts) → neutral dataclasses.

ClickSend POSTs form fields (reference §3.5 and §4.5); rules may switch it to
JSON or GET. The web layer turns any of those into a flat ``Mapping[str, str]``
and hands it here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from bot.providers.base import DeliveryReceipt, InboundSms, InvalidPayload

DELIVERED_CODES = frozenset({"201"})
MAX_FIELD = 20_000


def parse_inbound_push(fields: Mapping[str, str]) -> InboundSms:
    return InboundSms(
        provider_message_id=_required(fields, "message_id"),
        from_number=_required(fields, "from"),
        to_number=_text(fields, "to") or "",
        body=_required(fields, "body", allow_empty=True),
        timestamp=_timestamp(fields, "timestamp"),
        custom_string=_text(fields, "custom_string"),
        original_message_id=_text(fields, "original_message_id"),
    )


def parse_receipt_push(fields: Mapping[str, str]) -> DeliveryReceipt:
    status = (_text(fields, "status") or "").lower()
    code = _text(fields, "status_code")
    if status:
        delivered = status == "delivered"
    elif code:
        delivered = code in DELIVERED_CODES
    else:
        raise InvalidPayload("status or status_code is required")
    return DeliveryReceipt(
        provider_message_id=_required(fields, "message_id"),
        delivered=delivered,
        custom_string=_text(fields, "custom_string"),
        status_code=code,
        status_text=_text(fields, "status_text"),
        error_code=_text(fields, "error_code"),
        error_text=_text(fields, "error_text"),
        timestamp=_timestamp(fields, "timestamp"),
    )


def _text(fields: Mapping[str, str], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    if len(value) > MAX_FIELD:
        raise InvalidPayload(f"{name} is longer than {MAX_FIELD} characters")
    return value or None


def _required(fields: Mapping[str, str], name: str, *, allow_empty: bool = False) -> str:
    value = fields.get(name)
    if value is None or (not allow_empty and not str(value).strip()):
        raise InvalidPayload(f"{name} is missing")
    return _text(fields, name) or ""


def _timestamp(fields: Mapping[str, str], name: str) -> dt.datetime | None:
    raw = _text(fields, name)
    if raw is None:
        return None
    try:
        return dt.datetime.fromtimestamp(int(float(raw)), dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidPayload(f"{name} {raw[:40]!r} is not a unix timestamp") from None
