"""Apply delivery receipts to outbound messages (batched, in the caller's transaction).

A receipt names the provider's message id and echoes our custom_string (the
outbox id), so it is matched by either: a receipt that overtakes the send
response still finds its message by custom_string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db import utcnow
from bot.models import Direction, Message, MessageStatus
from bot.providers.base import DeliveryReceipt

KIND = "receipt"
# A receipt proves the provider accepted the message, so it also settles a message
# in doubt (``unknown``) or one about to be sent again (``retrying``).
UPDATABLE = (
    MessageStatus.SENDING,
    MessageStatus.UNKNOWN,
    MessageStatus.RETRYING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
)


@dataclass(frozen=True, slots=True)
class ProviderReceipt:
    provider: str
    receipt: DeliveryReceipt


@dataclass(frozen=True, slots=True)
class ReceiptResult:
    message_id: int | None  # None: no outbound message of ours matches

    @property
    def matched(self) -> bool:
        return self.message_id is not None


async def apply_receipts_batch(
    conn: AsyncConnection, items: Sequence[ProviderReceipt]
) -> list[ReceiptResult]:
    targets = choose_targets(items, await _by_pmid(conn, items), await _by_ref(conn, items))
    rows = [_row(item, target) for item, target in zip(items, targets, strict=True) if target]
    if rows:
        await conn.execute(_UPDATE, rows)
    return [ReceiptResult(target) for target in targets]


_table = Message.__table__
_UPDATE = (
    update(_table)
    # or_ of equalities, not IN: an expanding IN cannot be used with executemany.
    .where(_table.c.id == bindparam("target"), or_(*(_table.c.status == s for s in UPDATABLE)))
    .values(
        status=bindparam("new_status"),
        error_text=bindparam("reason"),
        provider_message_id=bindparam("pmid"),
        updated_at=bindparam("now", type_=_table.c.updated_at.type),
    )
)


def new_status(receipt: DeliveryReceipt) -> MessageStatus:
    return MessageStatus.DELIVERED if receipt.delivered else MessageStatus.FAILED


def _row(item: ProviderReceipt, target: int) -> dict:
    receipt = item.receipt
    return {
        "target": target,
        "new_status": new_status(receipt),
        "reason": receipt.reason,
        "pmid": receipt.provider_message_id,
        "now": utcnow(),
    }


def reference_of(item: ProviderReceipt) -> int | None:
    """Our outbox id from the echoed custom_string, when it looks like one."""
    value = item.receipt.custom_string or ""
    return int(value) if value.isdigit() and len(value) < 18 else None


def choose_targets(
    items: Sequence[ProviderReceipt],
    by_pmid: dict[tuple[str, str], int],
    by_ref: dict[int, str | None],
) -> list[int | None]:
    """The outbound message each receipt belongs to (None: not ours).

    A receipt may overtake the send response: then our custom_string finds the
    message while it has no provider id yet, but never one that already belongs
    to another provider id.
    """
    targets: list[int | None] = []
    for item in items:
        target = by_pmid.get((item.provider, item.receipt.provider_message_id))
        ref = reference_of(item)
        if (
            target is None
            and ref in by_ref
            and by_ref[ref] in (None, item.receipt.provider_message_id)
        ):
            target = ref
        targets.append(target)
    return targets


async def _by_pmid(conn: AsyncConnection, items: Sequence[ProviderReceipt]) -> dict:
    found: dict[tuple[str, str], int] = {}
    for provider in {item.provider for item in items}:
        pmids = {i.receipt.provider_message_id for i in items if i.provider == provider}
        rows = await conn.execute(
            select(Message.provider_message_id, Message.id).where(
                Message.provider == provider,
                Message.direction == Direction.OUT,
                Message.provider_message_id.in_(pmids),
            )
        )
        found.update({(provider, pmid): mid for pmid, mid in rows})
    return found


async def _by_ref(conn: AsyncConnection, items: Sequence[ProviderReceipt]) -> dict:
    refs = {reference_of(item) for item in items} - {None}
    if not refs:
        return {}
    rows = await conn.execute(
        select(Message.id, Message.provider_message_id).where(
            Message.id.in_(refs), Message.direction == Direction.OUT
        )
    )
    return dict(rows.all())
