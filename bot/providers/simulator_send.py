"""POST /sms/send for the simulator (§2.1, §16.2–3, §16.6, §16.11).

The whole request is refused only for a bad envelope, more than 1000 messages
or (when nothing at all could be charged) missing credit; every other problem
is the per-message ``status``, the way a client must be ready to read it.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from decimal import Decimal
from typing import Any

import phonenumbers
from aiohttp import web

from bot.encoding import GSM7_EXTENSION, MAX_PARTS, measure
from bot.providers.simulator_faults import Fault, pick_fault
from bot.providers.simulator_state import (
    SUBACCOUNT_ID,
    TEST_NUMBERS,
    USER_ID,
    SimAccount,
    SimulatorState,
)
from bot.providers.simulator_web import (
    ACCOUNT,
    STATE,
    SimError,
    currency_block,
    envelope,
    read_json,
    reply,
)

MAX_MESSAGES = 1000
PRICE_PER_PART = Decimal("0.0700")
DEFAULT_SENDER = "+61480000000"  # the shared number used when `from` is left out (§16.4)
E164ISH = re.compile(r"^\+?[1-9]\d{6,14}$")
NUMERIC_SENDER = re.compile(r"^\+?\d{3,16}$")
THROTTLE_WINDOW_S = 10.0


async def send_sms(request: web.Request) -> web.Response:
    state = request.app[STATE]
    account: SimAccount = request[ACCOUNT]
    messages = _messages(await read_json(request))
    fault = pick_fault(state.config, state.rng)
    if fault is not Fault.NONE:
        state.faults[fault] += 1
    if fault is Fault.RATE_LIMITED:
        response = reply(429, "TOO_MANY_REQUESTS", "Too many requests.")
        response.headers["Retry-After"] = f"{state.config.retry_after_s:g}"
        return response
    if fault is Fault.FAIL_BEFORE:
        raise SimError(500, "INTERNAL_ERROR", "Internal error.")
    response = _accept(state, account, messages)
    if fault is Fault.FAIL_AFTER:
        return reply(500, "INTERNAL_ERROR", "Internal error.")
    if fault is Fault.SLOW:
        await asyncio.sleep(state.config.slow_s)
    return response


def _accept(state: SimulatorState, account: SimAccount, messages: list[dict]) -> web.Response:
    items = [_process(state, account, message) for message in messages]
    if all(item["status"] == "INSUFFICIENT_CREDIT" for item in items):
        raise SimError(400, "INSUFFICIENT_CREDIT", "You have no message credit left.")
    accepted = [item for item in items if item["status"] == "SUCCESS"]
    data = {
        "total_price": float(sum(Decimal(str(i["message_price"])) for i in accepted)),
        "total_count": len(items),
        "queued_count": len(accepted),
        "messages": items,
        "_currency": currency_block(state.config.currency),
    }
    return envelope(data)


def _messages(payload: Any) -> list[dict]:
    messages = payload.get("messages") if isinstance(payload, dict) else None
    if not isinstance(messages, list) or not messages:
        raise SimError(400, "MISSING_REQUIRED_FIELDS", "messages is required.")
    if len(messages) > MAX_MESSAGES:
        raise SimError(400, "TOO_MANY_RECIPIENTS", f"At most {MAX_MESSAGES} recipients per call.")
    if not all(isinstance(m, dict) for m in messages):
        raise SimError(400, "BAD_REQUEST", "Each message must be a JSON object.")
    return messages


def _process(state: SimulatorState, account: SimAccount, message: dict) -> dict:
    """Validate one message, charge it and record it; returns its response item."""
    now = int(time.time())
    to = str(message.get("to") or "").strip()
    body = truncate(_body(message.get("body")))
    sender = str(message.get("from") or "").strip() or DEFAULT_SENDER
    parts = measure(body).parts if body else 0
    price = Decimal(0) if to in TEST_NUMBERS else PRICE_PER_PART * parts
    status = _status(state, account, message, to, body, sender, price)
    item = _item(message, to, body, sender, now, status)
    if status != "SUCCESS":
        return item
    account.balance -= price
    item.update(message_id=str(uuid.uuid4()).upper(), message_parts=parts)
    item["message_price"] = float(price)
    state.record_sent(_history_item(item, price, account))
    return item


def _status(
    state: SimulatorState,
    account: SimAccount,
    message: dict,
    to: str,
    body: str,
    sender: str,
    price: Decimal,
) -> str:
    if message.get("list_id") is not None and not to:
        return "NOT_ENOUGH_PERMISSION_TO_LIST_ID"  # the simulator has no contact lists
    if not E164ISH.match(to):
        return "INVALID_RECIPIENT"
    if not body.strip():
        return "EMPTY_MESSAGE"
    if not _valid_sender(sender):
        return "INVALID_SENDER_ID"
    if not _valid_schedule(message.get("schedule")):
        return "INVALID_SCHEDULE"
    if to not in TEST_NUMBERS and state.throttled(to, body, THROTTLE_WINDOW_S):
        return "THROTTLED"
    if price > account.balance:
        return "INSUFFICIENT_CREDIT"
    return "SUCCESS"


def _body(value: Any) -> str:
    return _scalar_text(value) or ""


def _scalar_text(value: Any) -> str | None:
    """A string, or a number as text; anything else (a list, an object…) is None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _valid_sender(sender: str) -> bool:
    """Numbers pass; alpha tags need 1–11 characters and no spaces (§2.1)."""
    if NUMERIC_SENDER.match(sender):
        return True
    return 0 < len(sender) <= 11 and not any(ch.isspace() for ch in sender)


def _valid_schedule(value: Any) -> bool:
    if value is None or value == "":
        return True
    return not isinstance(value, bool) and str(value).isdigit()


def truncate(body: str, max_parts: int = MAX_PARTS) -> str:
    """Cut a body that needs more than ``max_parts`` parts (§16.6: cap 6)."""
    if not measure(body).too_long:
        return body
    gsm = measure(body).encoding == "gsm7"
    budget = max_parts * (153 if gsm else 67)
    used, kept = 0, []
    for ch in body:
        cost = (2 if ch in GSM7_EXTENSION else 1) if gsm else len(ch.encode("utf-16-le")) // 2
        if used + cost > budget:
            break
        used += cost
        kept.append(ch)
    return "".join(kept)


def _item(message: dict, to: str, body: str, sender: str, now: int, status: str) -> dict:
    """A response message shaped like fixtures/sms_send_response.json."""
    schedule = message.get("schedule")
    return {
        "direction": "out",
        "date": now,
        "to": to,
        "body": body,
        "from": sender,
        "schedule": int(schedule) if status == "SUCCESS" and schedule not in (None, "") else now,
        "message_id": None,
        "message_parts": 0,
        "message_price": 0,
        "custom_string": _scalar_text(message.get("custom_string")),
        "user_id": USER_ID,
        "subaccount_id": SUBACCOUNT_ID,
        "country": _country(to),
        "carrier": "Simulator",
        "status": status,
    }


def _history_item(item: dict, price: Decimal, account: SimAccount) -> dict:
    """The /sms/history shape (fixtures/sms_history_page.json): numbers as strings (§1.9)."""
    return {
        "direction": "out",
        "date": str(item["date"]),
        "to": item["to"],
        "body": item["body"],
        "status": "Completed",
        "from": item["from"],
        "schedule": str(item["schedule"]),
        "status_code": None,
        "status_text": None,
        "error_code": None,
        "error_text": None,
        "message_id": item["message_id"],
        "message_parts": f"{item['message_parts']:.2f}",
        "message_price": f"{price:.6f}",
        "from_email": None,
        "list_id": None,
        "custom_string": item["custom_string"],
        "contact_id": 0,
        "user_id": USER_ID,
        "subaccount_id": SUBACCOUNT_ID,
        "country": item["country"],
        "carrier": item["carrier"],
        "first_name": None,
        "last_name": None,
        "_api_username": account.username,
    }


def _country(number: str) -> str:
    try:
        parsed = phonenumbers.parse(number if number.startswith("+") else "+" + number)
    except phonenumbers.NumberParseException:
        return ""
    return phonenumbers.region_code_for_country_code(parsed.country_code) or ""
