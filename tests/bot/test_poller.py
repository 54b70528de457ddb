"""Pull mode against the simulator over real HTTP: store, then mark read, exactly once."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy import select

from bot import ingest
from bot.groupcommit import GroupCommitWriter
from bot.jobs import PollerWorker
from bot.models import Direction, Message, MessageStatus
from bot.outbox import enqueue_to_number
from bot.poller import Poller, PollIncomplete, receipts_mark_point
from bot.providers.base import DeliveryReceipt, TemporaryProviderError
from bot.providers.clicksend import ClickSendClient
from bot.providers.clicksend_push import parse_inbound_push
from bot.providers.simulator import SimulatorConfig, create_simulator_app
from bot.providers.simulator_state import inbound_push_fields
from bot.write_backends import make_writer

OUR_NUMBER = "+61480000000"


class Rig:
    def __init__(self, state: Any, client: ClickSendClient, writer: GroupCommitWriter) -> None:
        self.state, self.client, self.writer = state, client, writer

    async def inject(self, count: int, start: int = 0) -> list[str]:
        ids = []
        for i in range(start, start + count):
            item = await self.state.inject_inbound(f"+1415555{i:04d}", OUR_NUMBER, f"msg {i}")
            ids.append(item["message_id"])
        return ids

    def requests(self, method: str, prefix: str) -> list[dict]:
        return [
            r for r in self.state.requests if r["method"] == method and r["path"].startswith(prefix)
        ]


@pytest.fixture
async def rig(aiohttp_server, engine, database_url):
    config = SimulatorConfig(username="demo", api_key="secret", receipt_delay_s=0)
    sub, state = create_simulator_app(config)
    root = web.Application()
    root.add_subapp("/v3", sub)
    server = await aiohttp_server(root)
    writer = make_writer(engine, database_url)
    await writer.start()
    async with httpx.AsyncClient() as http:
        client = ClickSendClient(
            http, base_url=str(server.make_url("/v3")), username="demo", api_key="secret"
        )
        yield Rig(state, client, writer)
    await writer.stop()


async def stored_ids(sessionmaker) -> Counter[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(Message.provider_message_id).where(Message.direction == Direction.IN)
        )
        return Counter(rows)


class Wrapped:
    """The real client, with hooks around fetch and mark."""

    def __init__(self, client: ClickSendClient) -> None:
        self.client = client
        self.name = client.name
        self.on_fetch = None
        self.on_mark = None

    async def fetch_inbound(self, page: int = 1, limit: int = 100):
        result = await self.client.fetch_inbound(page, limit)
        if self.on_fetch is not None:
            await self.on_fetch(result)
        return result

    async def mark_inbound_read(self, provider_message_id: str) -> None:
        if self.on_mark is not None:
            await self.on_mark(provider_message_id)
        await self.client.mark_inbound_read(provider_message_id)

    def __getattr__(self, name: str):
        return getattr(self.client, name)


# -- inbound ---------------------------------------------------------------------------


async def test_pull_stores_every_message_then_marks_each_read(rig, sessionmaker):
    ids = await rig.inject(130)  # two pages of 100
    provider = Wrapped(rig.client)
    stored_when_marked: list[bool] = []

    async def check_stored(message_id: str) -> None:
        stored_when_marked.append(message_id in await stored_ids(sessionmaker))

    provider.on_mark = check_stored
    counts = await Poller(provider, rig.writer).poll_inbound()

    assert (counts.stored, counts.duplicates, counts.marked) == (130, 0, 130)
    assert await stored_ids(sessionmaker) == Counter(ids)
    assert stored_when_marked == [True] * 130
    async with sessionmaker() as session:
        in_order = await session.scalars(select(Message.provider_message_id).order_by(Message.id))
        assert list(in_order) == ids  # stored in the order customers wrote
    assert rig.state.inbound == []
    marks = rig.requests("PUT", "/sms/inbound-read")
    assert sorted(r["path"] for r in marks) == sorted(f"/sms/inbound-read/{i}" for i in ids)
    assert [r["query"]["limit"] for r in rig.requests("GET", "/sms/inbound")] == ["100"] * 2


async def test_pulled_messages_keep_their_sender_thread_and_body(rig, sessionmaker):
    await rig.state.inject_inbound("+14155550101", OUR_NUMBER, "<b>hello</b>")
    await Poller(rig.client, rig.writer).poll_inbound()
    async with sessionmaker() as session:
        [message] = (await session.scalars(select(Message))).all()
    assert (message.body, message.status, message.provider) == (
        "<b>hello</b>",
        MessageStatus.PENDING,
        "clicksend",
    )


async def test_crash_after_commit_before_mark_stores_each_message_once(rig, sessionmaker):
    ids = await rig.inject(40)
    provider = Wrapped(rig.client)
    reached = asyncio.Event()

    async def hang(_message_id: str) -> None:
        reached.set()
        await asyncio.Event().wait()  # the process "dies" here

    provider.on_mark = hang
    task = asyncio.create_task(Poller(provider, rig.writer).poll_inbound())
    await asyncio.wait_for(reached.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await stored_ids(sessionmaker) == Counter(ids)
    assert len(rig.state.inbound) == 40  # nothing was marked read

    counts = await Poller(rig.client, rig.writer).poll_inbound()
    assert (counts.stored, counts.duplicates, counts.marked) == (0, 40, 40)
    assert await stored_ids(sessionmaker) == Counter(ids)
    assert rig.state.inbound == []


async def test_crash_between_fetch_and_commit_marks_nothing_and_stores_once(rig, sessionmaker):
    ids = await rig.inject(25)
    provider = Wrapped(rig.client)
    fetched = asyncio.Event()

    async def signal(_page) -> None:
        fetched.set()

    provider.on_fetch = signal
    task = asyncio.create_task(Poller(provider, rig.writer).poll_inbound())
    await asyncio.wait_for(fetched.wait(), 10)
    task.cancel()  # while the page is being stored
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rig.requests("PUT", "/sms/inbound-read") == []
    assert len(rig.state.inbound) == 25

    await Poller(rig.client, rig.writer).poll_inbound()
    assert await stored_ids(sessionmaker) == Counter(ids)
    assert rig.state.inbound == []


class FailingBackend:
    kinds = frozenset({ingest.KIND})

    async def apply(self, batches):
        raise RuntimeError("disk full")

    async def close(self) -> None:
        return None


async def test_failing_store_marks_nothing_read(rig, sessionmaker):
    await rig.inject(5)
    writer = GroupCommitWriter(FailingBackend())
    await writer.start()
    try:
        with pytest.raises(PollIncomplete):
            await Poller(rig.client, writer).poll_inbound()
    finally:
        await writer.stop()
    assert rig.requests("PUT", "/sms/inbound-read") == []
    assert len(rig.state.inbound) == 5
    assert await stored_ids(sessionmaker) == Counter()


async def test_unstorable_message_is_marked_read_and_the_rest_stored(rig, sessionmaker):
    good = await rig.inject(2)
    bad = await rig.state.inject_inbound("not a number", OUR_NUMBER, "hi")
    counts = await Poller(rig.client, rig.writer).poll_inbound()
    assert (counts.stored, counts.rejected, counts.marked) == (2, 1, 3)
    assert await stored_ids(sessionmaker) == Counter(good)
    assert bad["message_id"] not in await stored_ids(sessionmaker)
    assert rig.state.inbound == []


async def test_message_pushed_and_pulled_is_stored_once(rig, sessionmaker):
    [message_id] = await rig.inject(1)
    push = parse_inbound_push(inbound_push_fields(rig.state.inbound[0]))
    # "clicksend" is what bot/web.py stores pushes under.
    pushed = ingest.normalize(push, provider="clicksend", default_region="US")
    first = await rig.writer.submit(ingest.KIND, pushed)
    counts = await Poller(rig.client, rig.writer).poll_inbound()
    assert (first.duplicate, counts.stored, counts.duplicates) == (False, 0, 1)
    assert await stored_ids(sessionmaker) == Counter([message_id])
    assert rig.state.inbound == []


# -- receipts --------------------------------------------------------------------------


async def outbound(sessionmaker, status: MessageStatus, pmid: str | None) -> int:
    async with sessionmaker.begin() as session:
        message = await enqueue_to_number(session, "+14155550101", "hello")
        message.status = status
        message.provider_message_id = pmid
        return message.id


def receipt(message_id: str, ref: int | None, at: int, code: str = "201", **extra) -> dict:
    return {
        "timestamp_send": str(at - 5),
        "timestamp": str(at),
        "message_id": message_id,
        "status_code": code,
        "status_text": "Success: Message received on handset." if code == "201" else "Failed",
        "error_code": extra.get("error_code"),
        "error_text": extra.get("error_text"),
        "custom_string": None if ref is None else str(ref),
        "_message_type": "sms",
    }


async def test_pulled_receipts_apply_then_mark_read(rig, sessionmaker):
    old = int(time.time()) - 600
    sent = await outbound(sessionmaker, MessageStatus.SENT, "P-1")
    failed = await outbound(sessionmaker, MessageStatus.SENT, "P-2")
    early = await outbound(sessionmaker, MessageStatus.SENDING, None)  # send response not in yet
    rig.state.receipts.extend(
        [
            receipt("P-1", sent, old),
            receipt("P-2", failed, old + 1, "301", error_code="301", error_text="Absent"),
            receipt("P-3", early, old + 2),
        ]
    )
    taken = await Poller(rig.client, rig.writer).poll_receipts()

    async with sessionmaker() as session:
        rows = {
            m.id: (m.status, m.provider_message_id, m.error_text)
            for m in await session.scalars(select(Message))
        }
    assert rows == {
        sent: (MessageStatus.DELIVERED, "P-1", None),
        failed: (MessageStatus.FAILED, "P-2", "301 Absent"),
        early: (MessageStatus.DELIVERED, "P-3", None),
    }
    assert taken == 3
    assert rig.state.receipts == []
    [mark] = rig.requests("PUT", "/sms/receipts-read")
    assert mark["json"] == {"date_before": old + 3}


async def test_receipts_of_the_newest_second_stay_unread_while_it_is_recent(rig, sessionmaker):
    now = int(time.time())
    first = await outbound(sessionmaker, MessageStatus.SENT, "P-1")
    second = await outbound(sessionmaker, MessageStatus.SENT, "P-2")
    rig.state.receipts.extend([receipt("P-1", first, now - 3), receipt("P-2", second, now)])
    await Poller(rig.client, rig.writer).poll_receipts()
    # A receipt of the same second may still arrive after our fetch: it must not be
    # marked read unseen, so that second stays unread and is applied again later.
    assert [r["message_id"] for r in rig.state.receipts] == ["P-2"]
    async with sessionmaker() as session:
        statuses = {m.provider_message_id: m.status for m in await session.scalars(select(Message))}
    assert statuses == {"P-1": MessageStatus.DELIVERED, "P-2": MessageStatus.DELIVERED}


async def test_receipts_beyond_the_page_cap_are_never_marked(rig, sessionmaker):
    base = int(time.time()) - 1000
    ids = [await outbound(sessionmaker, MessageStatus.SENT, f"P-{i}") for i in range(40)]
    rig.state.receipts.extend(receipt(f"P-{i}", ref, base + i) for i, ref in enumerate(ids))
    poller = Poller(rig.client, rig.writer, page_limit=15, max_pages=2)
    taken = await poller.poll_receipts()
    # Oldest first: the 30 fetched are the 30 oldest; the mark stops before the 30th's
    # second, so the 31st (never fetched) stays unread.
    assert taken == 29
    assert [r["message_id"] for r in rig.state.receipts] == [f"P-{i}" for i in range(29, 40)]
    while await poller.poll_receipts():
        pass
    assert rig.state.receipts == []
    async with sessionmaker() as session:
        statuses = set(await session.scalars(select(Message.status)))
    assert statuses == {MessageStatus.DELIVERED}


async def test_receipt_for_a_message_not_ours_is_still_marked_read(rig, sessionmaker):
    rig.state.receipts.append(receipt("P-x", None, int(time.time()) - 600))
    assert await Poller(rig.client, rig.writer).poll_receipts() == 1
    assert rig.state.receipts == []


# -- the mark point, as a table ----------------------------------------------------------

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def at(seconds: float) -> DeliveryReceipt:
    return DeliveryReceipt("P", True, timestamp=T0 + dt.timedelta(seconds=seconds))


@pytest.mark.parametrize(
    ("stamps", "complete", "now_s", "expected_s"),
    [
        ([], True, 1000, None),  # nothing with a timestamp: mark nothing
        ([0, 5, 3], True, 30, 5),  # recent: strictly before the newest second
        ([0, 5, 3], True, 66, 6),  # settled (60 s): past the newest second
        ([0, 5, 3], True, 65, 5),  # not quite settled
        ([0, 3, 5], False, 1000, 5),  # partial but oldest first: never past the newest
        ([0, 5, 3], False, 1000, None),  # partial and unordered: unsafe, mark nothing
        ([0.7, 5.9], True, 30, 5),  # whole seconds, rounded down
    ],
)
def test_receipts_mark_point(stamps, complete, now_s, expected_s):
    now = T0 + dt.timedelta(seconds=now_s)
    expected = None if expected_s is None else T0 + dt.timedelta(seconds=expected_s)
    items = [at(s) for s in stamps]
    assert receipts_mark_point(items, complete=complete, now=now, settle_s=60) == expected


# -- the worker loop ---------------------------------------------------------------------


class FlakyPoller:
    def __init__(self, outcomes: list[Exception | None]) -> None:
        self.outcomes = outcomes

    async def round(self) -> int:
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return 1


async def test_poller_worker_backs_off_on_errors_and_recovers():
    errors = [TemporaryProviderError("down"), RuntimeError("bug"), None]
    worker = PollerWorker(FlakyPoller(errors), interval_s=2)
    delays = []
    for _ in range(3):
        await worker.round()  # never raises
        delays.append(worker.delay_s())
    assert delays == [4, 8, 2]
