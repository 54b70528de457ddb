"""ClickSend REST v3 request bodies and query parameters, and the ``data`` of its
answers parsed into neutral dataclasses (reference: clicksend-v3.md).

Per-message send results are matched to the inputs by ``custom_string`` (our ref),
never by position, because ClickSend does not promise to keep the order.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from bot.providers import clicksend_codes as codes
from bot.providers.base import (
    AccountInfo,
    InboundRule,
    InvalidPayload,
    OutboundSms,
    Outcome,
    Page,
    SendResult,
    SentRecord,
    SmsTemplate,
    TemporaryProviderError,
)

log = logging.getLogger(__name__)

MAX_BATCH = 1000
MIN_LIMIT, MAX_LIMIT = 15, 100
SOURCE = "smsdesk"

T = TypeVar("T")


# -- sending -------------------------------------------------------------------


def check_batch(messages: Sequence[OutboundSms]) -> None:
    if len(messages) > MAX_BATCH:
        raise ValueError(f"ClickSend takes at most {MAX_BATCH} messages per call")
    refs = [m.ref for m in messages]
    if len(set(refs)) != len(refs):
        raise ValueError("refs must be unique: results are matched by custom_string")


def message_json(message: OutboundSms) -> dict[str, str]:
    item = {"to": message.to, "body": message.body, "source": SOURCE, "custom_string": message.ref}
    if message.sender:
        item["from"] = message.sender
    return item


def results_by_ref(data: Any) -> dict[str, Mapping[str, Any]]:
    items = data.get("messages") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        return {}
    by_ref: dict[str, Mapping[str, Any]] = {}
    for item in items:
        if isinstance(item, Mapping) and item.get("custom_string") is not None:
            by_ref.setdefault(str(item["custom_string"]), item)
    return by_ref


def result_for(message: OutboundSms, item: Mapping[str, Any] | None) -> SendResult:
    if item is None:
        reason = "ClickSend: no result for this message in the response"
        return SendResult(message.ref, Outcome.UNKNOWN, reason=reason)
    code = str(item.get("status") or "MISSING_STATUS").upper()
    outcome = codes.message_outcome(code)
    if outcome is Outcome.ACCEPTED:
        return SendResult(
            message.ref,
            outcome,
            provider_message_id=_text(item.get("message_id")),
            parts=_int(item.get("message_parts")),
            price=_text(item.get("message_price")),
            code=code,
        )
    retry_after = codes.THROTTLE_RETRY_S if outcome is Outcome.RETRY else None
    return SendResult(
        message.ref, outcome, code=code, reason=codes.describe(code), retry_after_s=retry_after
    )


# -- pages ---------------------------------------------------------------------


def page_params(page: int, limit: int) -> dict[str, int]:
    return {"page": max(1, page), "limit": min(MAX_LIMIT, max(MIN_LIMIT, limit))}


def oldest_first(page: int, limit: int) -> dict[str, int | str]:
    return {**page_params(page, limit), "order_by": "timestamp:asc"}


def page_of(data: Any, parse: Callable[[Mapping[str, str]], T]) -> Page[T]:
    """A §1.7 paginated object → Page, skipping (and logging) items we cannot parse.

    One malformed item must not block every later message behind it.
    """
    if not isinstance(data, Mapping):
        return Page(items=[], has_more=False)
    raw_items = data.get("data")
    items: list[T] = []
    for raw in raw_items if isinstance(raw_items, list) else []:
        try:
            items.append(parse(raw))
        except (InvalidPayload, AttributeError, TypeError) as exc:
            log.warning("skipping malformed ClickSend item: %s", exc)
    return Page(items=items, has_more=has_more(data))


def number_page(data: Any) -> Page[str]:
    """A §1.7 page of §7 contacts → their non-empty ``phone_number`` values."""
    if not isinstance(data, Mapping):
        return Page(items=[], has_more=False)
    raw_items = data.get("data")
    numbers: list[str] = []
    for raw in raw_items if isinstance(raw_items, list) else []:
        number = _text(raw.get("phone_number")) if isinstance(raw, Mapping) else None
        if number is not None and number.strip():
            numbers.append(number.strip())
    return Page(items=numbers, has_more=has_more(data))


def has_more(data: Mapping[str, Any]) -> bool:
    current, last = _int(data.get("current_page")), _int(data.get("last_page"))
    if current is not None and last is not None:
        return current < last
    return bool(data.get("next_page_url"))


# -- automation rules and templates (§9, §5) ----------------------------------


def inbound_rule(raw: Mapping[str, Any]) -> InboundRule:
    """A §9 rule object; only ``inbound_rule_id`` is required (the rest is judged on
    import). Numbers may come as strings (§1.9); ``webhook_type`` is usually absent."""
    rule_id = _int(raw.get("inbound_rule_id"))
    if rule_id is None:
        raise InvalidPayload("an inbound rule without an inbound_rule_id")
    return InboundRule(
        rule_id=rule_id,
        name=_text(raw.get("rule_name")) or "",
        number=_text(raw.get("dedicated_number")) or "",
        search_type=_int(raw.get("message_search_type")),
        search_term=_text(raw.get("message_search_term")),
        action=_text(raw.get("action")) or "",
        action_address=_text(raw.get("action_address")) or "",
        body=_text(raw.get("body")),
        enabled=_flag(raw.get("enabled")),
        webhook_type=_text(raw.get("webhook_type")),
    )


def sms_template(raw: Mapping[str, Any]) -> SmsTemplate:
    """A §5 template object; ``template_id`` is required."""
    template_id = _int(raw.get("template_id"))
    if template_id is None:
        raise InvalidPayload("an SMS template without a template_id")
    return SmsTemplate(
        template_id=template_id,
        name=_text(raw.get("template_name")) or "",
        body=_text(raw.get("body")) or "",
    )


def _flag(value: Any) -> bool:
    """ClickSend's 0/1 flags, as a number, a numeric string or a boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() == "true":
        return True
    return _int(value) == 1


# -- sent history and account --------------------------------------------------


def sent_records(data: Any, wanted: set[str]) -> dict[str, SentRecord]:
    """History items (§2.5) whose custom_string is one we look for."""
    items = data.get("data") if isinstance(data, Mapping) else None
    found: dict[str, SentRecord] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        ref, message_id = _text(item.get("custom_string")), _text(item.get("message_id"))
        if ref in wanted and message_id is not None:
            found.setdefault(ref, _sent_record(ref, message_id, item))
    return found


def _sent_record(ref: str, message_id: str, item: Mapping[str, Any]) -> SentRecord:
    date = _int(item.get("date"))
    return SentRecord(
        ref=ref,
        provider_message_id=message_id,
        parts=_int(item.get("message_parts")),
        price=_text(item.get("message_price")),
        sent_at=dt.datetime.fromtimestamp(date, dt.UTC) if date is not None else None,
    )


def unix(when: dt.datetime, *, up: bool) -> int:
    """Whole Unix seconds (naive = UTC), rounded outwards so the window only widens."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    seconds = when.timestamp()
    return math.ceil(seconds) if up else math.floor(seconds)


def account(data: Any) -> AccountInfo:
    if not isinstance(data, Mapping) or data.get("balance") is None:
        raise TemporaryProviderError("ClickSend /account answered without a balance")
    currency = data.get("_currency")
    short = currency.get("currency_name_short") if isinstance(currency, Mapping) else None
    active = _int(data.get("active")) != 0 and not _int(data.get("banned"))
    return AccountInfo(balance=str(data["balance"]), currency=str(short or ""), active=active)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _int(value: Any) -> int | None:
    """Numbers ClickSend may send as strings (§1.9), e.g. ``"1.00"`` parts."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None
