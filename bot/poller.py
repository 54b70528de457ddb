"""Pull mode: fetch inbound messages and delivery receipts where push is not used.

One round (:meth:`Poller.round`) does inbound first, then receipts. Both store
through the same group-commit writer as the webhooks (bot/web.py), so pulled and
pushed messages go through one ingest path and are de-duplicated by provider
message id: in ``both`` mode a message that arrives both ways is stored once.

The order is always fetch → store (one commit per page) → mark read, so a
message is never marked read before its row is committed. A crash anywhere in
between leaves the message unread at the provider: the next round fetches it
again and ingest answers "duplicate" for what was already stored.

Inbound messages are marked read one by one (``PUT /sms/inbound-read/{id}``);
the bulk ``PUT /sms/inbound-read`` would also mark messages we have not fetched.

Receipts can only be marked read in bulk, by time (``PUT /sms/receipts-read``
with ``date_before``, strictly earlier). :func:`receipts_mark_point` picks a
``date_before`` that covers only receipts we stored:

- it is the newest stored timestamp, so a receipt in that same second which
  arrived after our fetch stays unread (the cost: the newest second's receipts
  are fetched and applied again next round; applying a receipt is idempotent);
- it is used only when the fetch saw every older unread receipt: either every
  page was read, or the pages came back oldest first (the client asks for
  ``order_by=timestamp:asc``) so anything not fetched is at least as new;
- once every page was read and the newest second is older than ``settle_s``
  by our clock (a margin for clock skew), the mark point moves one second past
  it, so an idle mailbox empties instead of handing back its last second
  forever.

``timestamp`` is when the report reached ClickSend (reference §4.1), so a
receipt that arrives after the fetch carries a later timestamp.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from typing import Any

from bot import ingest, receipts
from bot.groupcommit import GroupCommitWriter
from bot.providers.base import DeliveryReceipt, InboundSms, InvalidPayload, SmsProvider

log = logging.getLogger(__name__)

PAGE_LIMIT = 100
MAX_PAGES = 10  # per round and kind: at most 1,000 messages before the next pause
MARK_CONCURRENCY = 8
SETTLE_S = 60.0


class PollIncomplete(RuntimeError):
    """Some items could not be stored or marked; they stay unread for the next round."""


@dataclass(frozen=True, slots=True)
class PollCounts:
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    marked: int = 0


@dataclass
class Poller:
    provider: SmsProvider
    writer: GroupCommitWriter
    default_region: str = "US"
    page_limit: int = PAGE_LIMIT
    max_pages: int = MAX_PAGES
    settle_s: float = SETTLE_S

    async def round(self) -> int:
        """One pull of both mailboxes; how many items were taken."""
        inbound = await self.poll_inbound()
        taken = await self.poll_receipts()
        return inbound.marked + taken

    # -- inbound ------------------------------------------------------------------

    async def poll_inbound(self) -> PollCounts:
        """Take the first page until it is empty, stops moving, or ``max_pages`` is reached.

        Always page 1: what we marked read has left the unread list, so the next
        unread messages have moved up to the first page.
        """
        total = PollCounts()
        for _ in range(self.max_pages):
            page = await self.provider.fetch_inbound(1, self.page_limit)
            if not page.items:
                break
            counts = await self._take_inbound(page.items)
            total = _add(total, counts)
            if not page.has_more or counts.marked == 0:
                break
        return total

    async def _take_inbound(self, items: Sequence[InboundSms]) -> PollCounts:
        accepted, rejected = self._normalized(items)
        outcomes = await self._store_all(ingest.KIND, [item for _, item in accepted])
        stored = [sms for (sms, _), result in zip(accepted, outcomes, strict=True) if _ok(result)]
        # Rejected messages can never be stored (the webhook would answer 400 and
        # ClickSend would give up after its retries); marking them read keeps them
        # from filling the first page forever. They are logged, with their id.
        marked = await self._mark_inbound([*stored, *rejected])
        failures = [r for r in outcomes if isinstance(r, BaseException)]
        if failures:
            raise PollIncomplete(f"{len(failures)} inbound message(s) not stored") from failures[0]
        duplicates = sum(1 for r in outcomes if getattr(r, "duplicate", False))
        return PollCounts(len(stored) - duplicates, duplicates, len(rejected), marked)

    def _normalized(
        self, items: Sequence[InboundSms]
    ) -> tuple[list[tuple[InboundSms, ingest.NewInbound]], list[InboundSms]]:
        accepted, rejected = [], []
        for sms in items:
            try:
                item = ingest.normalize(
                    sms, provider=self.provider.name, default_region=self.default_region
                )
            except InvalidPayload as exc:
                log.warning("inbound %s rejected: %s", sms.provider_message_id[:64], exc)
                rejected.append(sms)
                continue
            accepted.append((sms, item))
        return accepted, rejected

    async def _mark_inbound(self, items: Sequence[InboundSms]) -> int:
        gate = asyncio.Semaphore(MARK_CONCURRENCY)

        async def mark(sms: InboundSms) -> None:
            async with gate:
                await self.provider.mark_inbound_read(sms.provider_message_id)

        outcomes = await asyncio.gather(*(mark(s) for s in items), return_exceptions=True)
        failures = [r for r in outcomes if isinstance(r, BaseException)]
        if failures:
            raise PollIncomplete(f"{len(failures)} inbound message(s) not marked read") from (
                failures[0]
            )
        return len(items)

    # -- receipts -----------------------------------------------------------------

    async def poll_receipts(self) -> int:
        """Fetch up to ``max_pages`` pages, apply them in one commit, then mark read."""
        started = dt.datetime.now(dt.UTC)
        items, complete = await self._fetch_receipts()
        if not items:
            return 0
        payloads = [receipts.ProviderReceipt(self.provider.name, r) for r in items]
        outcomes = await self._store_all(receipts.KIND, payloads)
        failures = [r for r in outcomes if isinstance(r, BaseException)]
        if failures:
            raise PollIncomplete(f"{len(failures)} receipt(s) not stored") from failures[0]
        before = receipts_mark_point(items, complete=complete, now=started, settle_s=self.settle_s)
        if before is None:
            log.warning("receipts stored but not marked read: no safe date_before this round")
            return 0
        await self.provider.mark_receipts_read(before)
        return sum(1 for r in items if r.timestamp is not None and r.timestamp < before)

    async def _fetch_receipts(self) -> tuple[list[DeliveryReceipt], bool]:
        items: list[DeliveryReceipt] = []
        for number in range(1, self.max_pages + 1):
            page = await self.provider.fetch_receipts(number, self.page_limit)
            items.extend(page.items)
            if not page.has_more:
                return items, True
        return items, False

    # -- storing ------------------------------------------------------------------

    async def _store_all(self, kind: str, payloads: Sequence[Any]) -> list[Any]:
        """Submit a page at once: the writer takes it in one transaction.

        Each result (or exception) is known only after its commit.
        """
        submits = [self.writer.submit(kind, payload) for payload in payloads]
        return list(await asyncio.gather(*submits, return_exceptions=True))


def receipts_mark_point(
    items: Sequence[DeliveryReceipt], *, complete: bool, now: dt.datetime, settle_s: float
) -> dt.datetime | None:
    """The ``date_before`` that marks read only receipts in ``items`` (None: mark nothing).

    ``complete``: every page was fetched. Otherwise the items must be oldest first,
    which proves that no unfetched receipt is older than the newest fetched one.
    """
    stamps = [r.timestamp for r in items if r.timestamp is not None]
    if not stamps:
        return None
    if not complete and stamps != sorted(stamps):
        return None
    newest = max(stamps).replace(microsecond=0)
    next_second = newest + dt.timedelta(seconds=1)
    if complete and next_second <= now - dt.timedelta(seconds=settle_s):
        return next_second
    return newest


def _ok(result: object) -> bool:
    return not isinstance(result, BaseException)


def _add(a: PollCounts, b: PollCounts) -> PollCounts:
    return PollCounts(*(x + y for x, y in zip(astuple(a), astuple(b), strict=True)))
