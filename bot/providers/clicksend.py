"""ClickSend REST v3 over an injected ``httpx.AsyncClient`` (reference: clicksend-v3.md).

The client only translates: neutral dataclasses in, HTTP out, and every failure
sorted into the base.py error tree, so the outbox can decide between retrying,
pausing the account and rejecting a message without knowing ClickSend. The
request and its error mapping are in clicksend_transport.py; request bodies and
the parsing of answers into dataclasses in clicksend_payloads.py.

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

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from urllib.parse import quote

import httpx

from bot.providers import clicksend_payloads as payloads
from bot.providers.base import (
    AccountInfo,
    DeliveryReceipt,
    InboundRule,
    InboundSms,
    OutboundSms,
    Page,
    PermanentProviderError,
    SendResult,
    SentRecord,
    SmsTemplate,
    TemporaryProviderError,
)
from bot.providers.clicksend_payloads import MAX_LIMIT
from bot.providers.clicksend_push import parse_inbound_push, parse_receipt_push
from bot.providers.clicksend_transport import Transport

# A history lookup reads at most this many pages (100 messages each) before it
# gives up rather than report messages absent from a window it did not finish.
MAX_HISTORY_PAGES = 500


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
        self._transport = Transport(http, base_url, username, api_key)
        self._send_timeout_s = send_timeout_s

    @property
    def send_timeout_s(self) -> float:
        """The bound on one POST /sms/send: a message ``sending`` longer is in doubt."""
        return self._send_timeout_s

    # -- SmsProvider ---------------------------------------------------------

    async def send_batch(self, messages: Sequence[OutboundSms]) -> list[SendResult]:
        """POST /sms/send; one result per input, in input order."""
        payloads.check_batch(messages)
        if not messages:
            return []
        payload = {"messages": [payloads.message_json(m) for m in messages]}
        data = await self._transport.call(
            "POST", "/sms/send", json_body=payload, timeout_s=self._send_timeout_s
        )
        by_ref = payloads.results_by_ref(data)
        return [payloads.result_for(m, by_ref.get(m.ref)) for m in messages]

    async def find_sent(
        self, refs: Collection[str], date_from: dt.datetime, date_to: dt.datetime
    ) -> dict[str, SentRecord]:
        """GET /sms/history over [date_from, date_to], page by page, until every ref is found.

        Absence is only ever concluded from a window read to its last page; a
        failure on any page raises, so the caller keeps the messages unknown.
        """
        wanted, found = set(refs), {}
        window = {
            "date_from": payloads.unix(date_from, up=False),
            "date_to": payloads.unix(date_to, up=True),
        }
        page = 1
        while wanted - found.keys():
            if page > MAX_HISTORY_PAGES:
                raise TemporaryProviderError(
                    f"ClickSend history window holds more than {MAX_HISTORY_PAGES} pages"
                )
            params = window | payloads.page_params(page, MAX_LIMIT)
            data = await self._transport.call("GET", "/sms/history", params=params)
            found.update(payloads.sent_records(data, wanted))
            if not isinstance(data, Mapping) or not payloads.has_more(data):
                break
            page += 1
        return found

    async def fetch_inbound(self, page: int = 1, limit: int = 100) -> Page[InboundSms]:
        """GET /sms/inbound: the unread replies, oldest first, so a backlog is taken
        in the order customers wrote."""
        data = await self._transport.call(
            "GET", "/sms/inbound", params=payloads.oldest_first(page, limit)
        )
        return payloads.page_of(data, parse_inbound_push)

    async def mark_inbound_read(self, provider_message_id: str) -> None:
        """PUT /sms/inbound-read/{id}; an unknown id counts as already read."""
        path = f"/sms/inbound-read/{quote(provider_message_id, safe='')}"
        try:
            await self._transport.call("PUT", path)
        except PermanentProviderError as exc:
            if exc.code != "NOT_FOUND":
                raise

    async def fetch_receipts(self, page: int = 1, limit: int = 100) -> Page[DeliveryReceipt]:
        """GET /sms/receipts: unread delivery receipts, oldest first (``status_code`` "201"
        = delivered).

        Oldest first (``order_by=timestamp:asc``, reference §1.8) lets a caller that
        stops paging early still mark read by ``date_before`` without skipping any.
        """
        data = await self._transport.call(
            "GET", "/sms/receipts", params=payloads.oldest_first(page, limit)
        )
        return payloads.page_of(data, parse_receipt_push)

    async def mark_receipts_read(self, before: dt.datetime) -> None:
        """PUT /sms/receipts-read for receipts strictly older than ``before`` (naive = UTC).

        Rounds down to whole seconds so a receipt we have not fetched yet is never
        marked read; the worst case is one receipt fetched twice.
        """
        if before.tzinfo is None:
            before = before.replace(tzinfo=dt.UTC)
        body = {"date_before": int(before.timestamp())}
        await self._transport.call("PUT", "/sms/receipts-read", json_body=body)

    async def get_account(self) -> AccountInfo:
        """GET /account: balance as ClickSend prints it, currency and whether it can send."""
        data = await self._transport.call("GET", "/account")
        return payloads.account(data)

    async def fetch_list_numbers(self, list_id: int, page: int = 1, limit: int = 100) -> Page[str]:
        """GET /lists/{list_id}/contacts: the contacts' phone numbers as ClickSend has them.

        Contacts without a phone number (email- or fax-only) are skipped; an unknown
        list is a PermanentProviderError.
        """
        path = f"/lists/{int(list_id)}/contacts"
        try:
            data = await self._transport.call("GET", path, params=payloads.page_params(page, limit))
        except PermanentProviderError as exc:
            if exc.code == "NOT_FOUND":
                raise PermanentProviderError(
                    f"list {list_id} does not exist", code=exc.code
                ) from None
            raise
        return payloads.number_page(data)

    async def fetch_inbound_rules(self, page: int = 1, limit: int = 100) -> Page[InboundRule]:
        """GET /automations/sms/inbound: the account's keyword rules, as ClickSend lists
        them (its example lists the newest first; sort by ``rule_id`` for creation order)."""
        data = await self._transport.call(
            "GET", "/automations/sms/inbound", params=payloads.page_params(page, limit)
        )
        return payloads.page_of(data, payloads.inbound_rule)

    async def fetch_sms_templates(self, page: int = 1, limit: int = 100) -> Page[SmsTemplate]:
        """GET /sms/templates: the account's named SMS templates."""
        data = await self._transport.call(
            "GET", "/sms/templates", params=payloads.page_params(page, limit)
        )
        return payloads.page_of(data, payloads.sms_template)
