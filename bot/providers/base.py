"""What every SMS provider adapter takes and returns.

Adapters import only httpx and this module. They map provider payloads to these
neutral dataclasses, never touch the database, and sort failures into one tree:

- :class:`TemporaryProviderError` — try again later: the request provably did not
  reach the provider (connection refused, connect or pool timeout, 429);
- :class:`AmbiguousProviderError` — a temporary error after which the request may
  have been accepted (read timeout, reset after sending, 5xx, cut-off body): the
  messages must not be re-sent blindly, they are looked up first (bot/reconciler);
- :class:`AccountProviderError` — the account cannot send (credit, credentials,
  not activated): sending pauses, messages stay queued;
- :class:`PermanentProviderError` — this request will never succeed.

Per-message outcomes of a send are :class:`SendResult` values with an
:class:`Outcome`, matched to the outgoing messages by ``ref`` (our custom_string).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class ProviderError(Exception):
    """Base of every provider failure; ``code`` is the provider's own code when known."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TemporaryProviderError(ProviderError):
    def __init__(
        self, message: str, *, code: str | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s


class AmbiguousProviderError(TemporaryProviderError):
    """The provider may or may not have acted on the request; only a lookup can tell.

    A subclass of TemporaryProviderError so that reads (which are safe to repeat)
    can treat it as one; a sender must catch it first and never re-send blindly.
    """


class AccountProviderError(ProviderError):
    """Credentials, credit or activation: nothing can be sent until an operator acts."""


class PermanentProviderError(ProviderError):
    pass


class InvalidPayload(ValueError):
    """A pushed webhook payload is missing a field or has a malformed one."""


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # permanent for this message
    RETRY = "retry"  # try this message again later
    ACCOUNT = "account"  # the account cannot send; keep it queued
    UNKNOWN = "unknown"  # may have been accepted: look it up before any re-send


@dataclass(frozen=True, slots=True)
class OutboundSms:
    ref: str  # our outbox id, sent as custom_string
    to: str  # E.164
    body: str
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    ref: str
    outcome: Outcome
    provider_message_id: str | None = None
    parts: int | None = None
    price: str | None = None
    code: str | None = None
    reason: str | None = None
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class SentRecord:
    """A message the provider's sent history holds, found by our ref (custom_string)."""

    ref: str
    provider_message_id: str
    parts: int | None = None
    price: str | None = None
    sent_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class InboundSms:
    provider_message_id: str
    from_number: str  # as the provider gave it; normalised by ingest
    to_number: str
    body: str
    timestamp: dt.datetime | None = None
    custom_string: str | None = None
    original_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    provider_message_id: str
    delivered: bool
    custom_string: str | None = None
    status_code: str | None = None
    status_text: str | None = None
    error_code: str | None = None
    error_text: str | None = None
    timestamp: dt.datetime | None = None

    @property
    def reason(self) -> str | None:
        if self.delivered:
            return None
        parts = [p for p in (self.error_code, self.error_text or self.status_text) if p]
        return " ".join(parts) or "undelivered"


@dataclass(frozen=True, slots=True)
class AccountInfo:
    balance: str
    currency: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class InboundRule:
    """A keyword rule kept at the provider (ClickSend's ``/automations/sms/inbound``).

    Values are as the provider holds them; turning them into one of our rules (and
    refusing what cannot be) is bot/rule_import.py's job. ``rule_id`` grows with
    creation, so sorting by it gives the order the provider runs the rules in.
    """

    rule_id: int
    name: str
    number: str  # "*" = every number
    search_type: int | None  # 0 any, 1 starts with, 2 contains, 3 does not contain
    search_term: str | None
    action: str
    action_address: str
    body: str | None
    enabled: bool
    webhook_type: str | None = None  # ClickSend does not echo it: None = its default


@dataclass(frozen=True, slots=True)
class SmsTemplate:
    """A named SMS template kept at the provider (ClickSend's ``/sms/templates``)."""

    template_id: int
    name: str
    body: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    has_more: bool


async def read_all_pages(
    fetch: Callable[[int, int], Awaitable[Page[T]]], *, page_size: int, max_items: int
) -> list[T] | None:
    """Every item of a paged listing, page 1 on; None when it holds more than
    ``max_items`` (a listing whose ``has_more`` never ends stops there too)."""
    items: list[T] = []
    for number in range(1, -(-max_items // page_size) + 2):
        page = await fetch(number, page_size)
        items.extend(page.items)
        if len(items) > max_items:
            return None
        if not page.has_more:
            return items
    return None


class SmsProvider(Protocol):
    name: str
    send_timeout_s: float  # the bound on one send_batch call

    async def send_batch(self, messages: Sequence[OutboundSms]) -> list[SendResult]: ...

    async def find_sent(
        self, refs: Collection[str], date_from: dt.datetime, date_to: dt.datetime
    ) -> dict[str, SentRecord]:
        """The messages among ``refs`` that the provider accepted in the window.

        Raises a ProviderError when the history cannot be read completely: absence
        is only reported when every page of the window was seen.
        """
        ...

    async def fetch_inbound(self, page: int = 1, limit: int = 100) -> Page[InboundSms]: ...

    async def mark_inbound_read(self, provider_message_id: str) -> None: ...

    async def fetch_receipts(self, page: int = 1, limit: int = 100) -> Page[DeliveryReceipt]: ...

    async def mark_receipts_read(self, before: dt.datetime) -> None: ...

    async def get_account(self) -> AccountInfo: ...

    async def fetch_list_numbers(
        self, list_id: int, page: int = 1, limit: int = 100
    ) -> Page[str]: ...

    async def fetch_inbound_rules(self, page: int = 1, limit: int = 100) -> Page[InboundRule]: ...

    async def fetch_sms_templates(self, page: int = 1, limit: int = 100) -> Page[SmsTemplate]: ...
