"""ClickSend REST v3 over an injected ``httpx.AsyncClient`` (reference: clicksend-v3.md).

The client only translates: neutral dataclasses in, HTTP out, and every failure
sorted into the base.py error tree, so the outbox can decide between retrying,
pausing the account and rejecting a message without knowing ClickSend.

Whole-request failures raise; per-message failures of a send come back as
:class:`SendResult` values matched to the inputs by ``custom_string`` (our ref),
never by position, because ClickSend does not promise to keep the order.

ClickSend has no idempotency key, so failures are split by whether the request
can have reached it: a refused or timed-out connection, a pool timeout and a 429
are :class:`TemporaryProviderError` (safe to send again); a read timeout, a reset
after the request was written, a 5xx and a cut-off or non-JSON 200 are
:class:`AmbiguousProviderError` (look the messages up with :meth:`find_sent`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import logging
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from bot.providers import clicksend_codes as codes
from bot.providers.base import (
    AccountInfo,
    AccountProviderError,
    AmbiguousProviderError,
    DeliveryReceipt,
    InboundSms,
    InvalidPayload,
    OutboundSms,
    Outcome,
    Page,
    PermanentProviderError,
    ProviderError,
    SendResult,
    SentRecord,
    TemporaryProviderError,
)
from bot.providers.clicksend_push import parse_inbound_push, parse_receipt_push

log = logging.getLogger(__name__)

MAX_BATCH = 1000
MIN_LIMIT, MAX_LIMIT = 15, 100
# A history lookup reads at most this many pages (100 messages each) before it
# gives up rather than report messages absent from a window it did not finish.
MAX_HISTORY_PAGES = 500
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
SOURCE = "smsdesk"

T = TypeVar("T")


class ClickSendClient:
    """An :class:`~bot.providers.base.SmsProvider` for ClickSend REST v3."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        username: str,
        api_key: str,
        name: str = "clicksend",
        send_timeout_s: float = 30.0,
    ) -> None:
        self.name = name
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(username, api_key)
        self._send_timeout_s = send_timeout_s

    @property
    def send_timeout_s(self) -> float:
        """The bound on one POST /sms/send: a message ``sending`` longer is in doubt."""
        return self._send_timeout_s

    # -- SmsProvider ---------------------------------------------------------

    async def send_batch(self, messages: Sequence[OutboundSms]) -> list[SendResult]:
        """POST /sms/send; one result per input, in input order."""
        _check_batch(messages)
        if not messages:
            return []
        payload = {"messages": [_message_json(m) for m in messages]}
        data = await self._call(
            "POST", "/sms/send", json_body=payload, timeout_s=self._send_timeout_s
        )
        by_ref = _results_by_ref(data)
        return [_result_for(m, by_ref.get(m.ref)) for m in messages]

    async def find_sent(
        self, refs: Collection[str], date_from: dt.datetime, date_to: dt.datetime
    ) -> dict[str, SentRecord]:
        """GET /sms/history over [date_from, date_to], page by page, until every ref is found.

        Absence is only ever concluded from a window read to its last page; a
        failure on any page raises, so the caller keeps the messages unknown.
        """
        wanted, found = set(refs), {}
        window = {"date_from": _unix(date_from, up=False), "date_to": _unix(date_to, up=True)}
        page = 1
        while wanted - found.keys():
            if page > MAX_HISTORY_PAGES:
                raise TemporaryProviderError(
                    f"ClickSend history window holds more than {MAX_HISTORY_PAGES} pages"
                )
            params = window | _page_params(page, MAX_LIMIT)
            data = await self._call("GET", "/sms/history", params=params)
            found.update(_sent_records(data, wanted))
            if not isinstance(data, Mapping) or not _has_more(data):
                break
            page += 1
        return found

    async def fetch_inbound(self, page: int = 1, limit: int = 100) -> Page[InboundSms]:
        """GET /sms/inbound: the unread replies, oldest first, so a backlog is taken
        in the order customers wrote."""
        data = await self._call("GET", "/sms/inbound", params=_oldest_first(page, limit))
        return _page(data, parse_inbound_push)

    async def mark_inbound_read(self, provider_message_id: str) -> None:
        """PUT /sms/inbound-read/{id}; an unknown id counts as already read."""
        path = f"/sms/inbound-read/{quote(provider_message_id, safe='')}"
        try:
            await self._call("PUT", path)
        except PermanentProviderError as exc:
            if exc.code != "NOT_FOUND":
                raise

    async def fetch_receipts(self, page: int = 1, limit: int = 100) -> Page[DeliveryReceipt]:
        """GET /sms/receipts: unread delivery receipts, oldest first (``status_code`` "201"
        = delivered).

        Oldest first (``order_by=timestamp:asc``, reference §1.8) lets a caller that
        stops paging early still mark read by ``date_before`` without skipping any.
        """
        data = await self._call("GET", "/sms/receipts", params=_oldest_first(page, limit))
        return _page(data, parse_receipt_push)

    async def mark_receipts_read(self, before: dt.datetime) -> None:
        """PUT /sms/receipts-read for receipts strictly older than ``before`` (naive = UTC).

        Rounds down to whole seconds so a receipt we have not fetched yet is never
        marked read; the worst case is one receipt fetched twice.
        """
        if before.tzinfo is None:
            before = before.replace(tzinfo=dt.UTC)
        body = {"date_before": int(before.timestamp())}
        await self._call("PUT", "/sms/receipts-read", json_body=body)

    async def get_account(self) -> AccountInfo:
        """GET /account: balance as ClickSend prints it, currency and whether it can send."""
        data = await self._call("GET", "/account")
        return _account(data)

    async def fetch_list_numbers(self, list_id: int, page: int = 1, limit: int = 100) -> Page[str]:
        """GET /lists/{list_id}/contacts: the contacts' phone numbers as ClickSend has them.

        Contacts without a phone number (email- or fax-only) are skipped; an unknown
        list is a PermanentProviderError.
        """
        path = f"/lists/{int(list_id)}/contacts"
        try:
            data = await self._call("GET", path, params=_page_params(page, limit))
        except PermanentProviderError as exc:
            if exc.code == "NOT_FOUND":
                raise PermanentProviderError(
                    f"list {list_id} does not exist", code=exc.code
                ) from None
            raise
        return _number_page(data)

    # -- transport -------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, int | str] | None = None,
        timeout_s: float = READ_TIMEOUT_S,
    ) -> Any:
        """One request → the envelope's ``data``, or a ProviderError.

        ``asyncio.timeout`` bounds the whole exchange; httpx's own timeout only
        bounds each read or write, which a slow-dripping server could stretch.
        """
        try:
            async with asyncio.timeout(timeout_s):
                response = await self._http.request(
                    method,
                    self._base_url + path,
                    json=json_body,
                    params=params,
                    auth=self._auth,
                    timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S),
                )
        except TimeoutError:
            # The deadline may have struck after the request was written.
            raise AmbiguousProviderError(f"ClickSend {method} {path} timed out") from None
        except NOT_SENT_ERRORS as exc:
            raise TemporaryProviderError(f"ClickSend {method} {path}: {exc!r}") from None
        except httpx.RequestError as exc:
            raise AmbiguousProviderError(f"ClickSend {method} {path}: {exc!r}") from None
        return _data_or_raise(response)


# httpx failures that happen before any byte of the request reaches ClickSend.
NOT_SENT_ERRORS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)


# -- sending -------------------------------------------------------------------


def _check_batch(messages: Sequence[OutboundSms]) -> None:
    if len(messages) > MAX_BATCH:
        raise ValueError(f"ClickSend takes at most {MAX_BATCH} messages per call")
    refs = [m.ref for m in messages]
    if len(set(refs)) != len(refs):
        raise ValueError("refs must be unique: results are matched by custom_string")


def _message_json(message: OutboundSms) -> dict[str, str]:
    item = {"to": message.to, "body": message.body, "source": SOURCE, "custom_string": message.ref}
    if message.sender:
        item["from"] = message.sender
    return item


def _results_by_ref(data: Any) -> dict[str, Mapping[str, Any]]:
    items = data.get("messages") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        return {}
    by_ref: dict[str, Mapping[str, Any]] = {}
    for item in items:
        if isinstance(item, Mapping) and item.get("custom_string") is not None:
            by_ref.setdefault(str(item["custom_string"]), item)
    return by_ref


def _result_for(message: OutboundSms, item: Mapping[str, Any] | None) -> SendResult:
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


# -- responses -----------------------------------------------------------------


def _data_or_raise(response: httpx.Response) -> Any:
    """The ``data`` of a 200 envelope; anything else becomes the matching ProviderError."""
    envelope = _json_object(response)
    if response.status_code == 200:
        if envelope is None:
            raise AmbiguousProviderError("ClickSend answered 200 with a non-JSON or cut-off body")
        return envelope.get("data")
    raise _error_for(response, envelope or {})


def _json_object(response: httpx.Response) -> Mapping[str, Any] | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, Mapping) else None


def _error_for(response: httpx.Response, envelope: Mapping[str, Any]) -> ProviderError:
    status = response.status_code
    code = str(envelope.get("response_code") or "").upper() or None
    message = f"ClickSend HTTP {status} {code or ''}: {envelope.get('response_msg') or ''}".strip()
    if status == 429:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        return TemporaryProviderError(message, code=code, retry_after_s=retry_after)
    if status >= 500:
        return AmbiguousProviderError(message, code=code)
    if status == 408:
        return TemporaryProviderError(message, code=code)
    if status == 401:
        return AccountProviderError(message, code=code or "UNAUTHORIZED")
    if status == 403 and (code is None or code == "FORBIDDEN" or code in codes.ACCOUNT_CODES):
        return AccountProviderError(message, code=code or "FORBIDDEN")
    if code in codes.ACCOUNT_CODES:
        return AccountProviderError(message, code=code)
    return PermanentProviderError(message, code=code or _status_code_name(status))


def _status_code_name(status: int) -> str:
    return {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
        status, f"HTTP_{status}"
    )


def _retry_after(raw: str | None) -> float | None:
    """Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _page_params(page: int, limit: int) -> dict[str, int]:
    return {"page": max(1, page), "limit": min(MAX_LIMIT, max(MIN_LIMIT, limit))}


def _oldest_first(page: int, limit: int) -> dict[str, int | str]:
    return {**_page_params(page, limit), "order_by": "timestamp:asc"}


def _page(data: Any, parse: Callable[[Mapping[str, str]], T]) -> Page[T]:
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
    return Page(items=items, has_more=_has_more(data))


def _number_page(data: Any) -> Page[str]:
    """A §1.7 page of §7 contacts → their non-empty ``phone_number`` values."""
    if not isinstance(data, Mapping):
        return Page(items=[], has_more=False)
    raw_items = data.get("data")
    numbers: list[str] = []
    for raw in raw_items if isinstance(raw_items, list) else []:
        number = _text(raw.get("phone_number")) if isinstance(raw, Mapping) else None
        if number is not None and number.strip():
            numbers.append(number.strip())
    return Page(items=numbers, has_more=_has_more(data))


def _has_more(data: Mapping[str, Any]) -> bool:
    current, last = _int(data.get("current_page")), _int(data.get("last_page"))
    if current is not None and last is not None:
        return current < last
    return bool(data.get("next_page_url"))


def _sent_records(data: Any, wanted: set[str]) -> dict[str, SentRecord]:
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


def _unix(when: dt.datetime, *, up: bool) -> int:
    """Whole Unix seconds (naive = UTC), rounded outwards so the window only widens."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    seconds = when.timestamp()
    return math.ceil(seconds) if up else math.floor(seconds)


def _account(data: Any) -> AccountInfo:
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
