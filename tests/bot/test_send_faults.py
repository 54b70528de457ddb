"""No double sends against a faulty ClickSend: the simulator counts every accepted
send by custom_string (our message id), so "exactly once" is checked at the source.

The real ClickSendClient talks HTTP to the simulator, which injects 500s (half
before accepting, half after), answers past the client's timeout, and 429s. The
sender and the reconciler run as they do in production, with short timings.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from aiohttp import web
from sqlalchemy import func, select

import bot.reconciler
import bot.sender
from bot.events import EventBus
from bot.jobs import ReconcilerWorker, SenderWorker
from bot.models import Message, MessageStatus
from bot.providers.base import OutboundSms
from bot.providers.clicksend import ClickSendClient
from bot.providers.simulator import SimulatorConfig, create_simulator_app
from bot.reconciler import ReconcilePolicy, reconcile_round
from bot.sender import SenderState, send_round
from inbox.app import stop_tasks
from tests.bot.outbound_helpers import handed_over, seed_queued

USER, KEY = "faults", "faults-key"
OURS = "+61411111111"
MESSAGES = 5000
SEND_TIMEOUT_S = 0.3
POLICY = ReconcilePolicy(
    grace_s=3.0, recheck_s=0.5, stale_sending_s=2.0, clock_margin_s=5.0, interval_s=0.2
)


def number(i: int) -> str:
    return f"+1415{i:07d}"


async def seed(engine, count: int) -> list[int]:
    """``count`` queued messages to different numbers, inserted in bulk."""
    messages = [(number(i), f"Your order {i} has shipped") for i in range(count)]
    return await seed_queued(engine, messages, our_number=OURS)


@pytest.fixture
async def rig(aiohttp_server):
    """A faulty simulator on 127.0.0.1 and a ClickSendClient with a short send timeout."""

    async def make(**faults) -> tuple[ClickSendClient, object]:
        config = SimulatorConfig(
            username=USER, api_key=KEY, receipt_delay_s=0, balance="1000000", **faults
        )
        sub, state = create_simulator_app(config)
        root = web.Application(client_max_size=8 * 1024 * 1024)
        root.add_subapp("/v3", sub)
        server = await aiohttp_server(root)
        client = ClickSendClient(
            http,
            base_url=str(server.make_url("/v3")),
            username=USER,
            api_key=KEY,
            send_timeout_s=SEND_TIMEOUT_S,
        )
        return client, state

    async with httpx.AsyncClient() as http:
        yield make


def quick_backoff(monkeypatch) -> None:
    """The real backoff (exponential, jittered, at least Retry-After) at a tenth of the
    scale, so the messages that meet several faults in a row finish in seconds."""
    original = bot.sender.backoff_s

    def quicker(attempts: int, retry_after_s: float | None = None) -> float:
        return max(original(attempts) / 10, retry_after_s or 0.0)

    monkeypatch.setattr(bot.sender, "backoff_s", quicker)
    monkeypatch.setattr(bot.reconciler, "backoff_s", quicker)


async def count_status(sessionmaker, *statuses: MessageStatus) -> int:
    async with sessionmaker() as session:
        return await session.scalar(
            select(func.count()).select_from(Message).where(Message.status.in_(statuses))
        )


async def test_5000_messages_through_500s_and_timeouts_are_each_sent_exactly_once(
    rig, engine, sessionmaker, monkeypatch
):
    quick_backoff(monkeypatch)
    client, sim = await rig(
        fail_500_rate=0.10,  # nothing accepted
        fail_500_after_accept_rate=0.10,  # accepted, answer lost
        slow_rate=0.10,  # accepted, answer after the client gave up
        slow_s=1.0,
        fail_429_rate=0.05,
        retry_after_s=0.2,
        fault_seed=20240501,
    )
    ids = await seed(engine, MESSAGES)
    bus = EventBus()
    sender = SenderWorker(sessionmaker, bus, client, batch_size=250, unknown_check_s=0.2)
    reconciler = ReconcilerWorker(sessionmaker, bus, client, policy=POLICY)
    tasks = [asyncio.create_task(sender.run()), asyncio.create_task(reconciler.run())]
    started = time.monotonic()
    try:
        while await count_status(sessionmaker, MessageStatus.SENT) < MESSAGES:
            assert time.monotonic() - started < 120, "not every message was sent within 120 s"
            await asyncio.sleep(0.25)
    finally:
        await stop_tasks(tasks)

    counts = sim.send_counts()
    assert counts == {str(message_id): 1 for message_id in ids}  # each exactly once, none lost
    assert len(sim.sent) == MESSAGES
    async with sessionmaker() as session:
        rows = (await session.execute(select(Message.id, Message.provider_message_id))).all()
    accepted = {item["custom_string"]: item["message_id"] for item in sim.sent}
    assert {str(mid): pmid for mid, pmid in rows} == accepted  # the id ClickSend gave it
    assert all(sim.faults[kind] > 0 for kind in ("429", "500_before_accept", "500_after_accept"))
    assert sim.faults["slow"] > 0


async def put_sending(sessionmaker, message_id: int, seconds_ago: float) -> None:
    """The state a crash leaves: claimed and handed over, the answer never recorded."""
    await handed_over(
        sessionmaker, message_id, seconds_ago, status=MessageStatus.SENDING, attempts=1
    )


async def test_crash_after_the_call_is_reconciled_to_sent_without_a_second_send(
    rig, engine, sessionmaker
):
    client, sim = await rig()
    [message_id] = await seed(engine, 1)
    [result] = await client.send_batch([OutboundSms(str(message_id), number(0), "Shipped")])
    await put_sending(sessionmaker, message_id, POLICY.stale_sending_s + 1)

    await reconcile_round(sessionmaker, client, policy=POLICY)
    assert await send_round(sessionmaker, client, state=SenderState()) == 0

    async with sessionmaker() as session:
        message = await session.get(Message, message_id)
    assert (message.status, message.provider_message_id) == (
        MessageStatus.SENT,
        result.provider_message_id,
    )
    assert sim.sent_count(str(message_id)) == 1


async def test_crash_before_the_call_is_sent_once_after_the_grace_period(rig, engine, sessionmaker):
    client, sim = await rig()
    [message_id] = await seed(engine, 1)
    await put_sending(sessionmaker, message_id, POLICY.grace_s + 1)

    await reconcile_round(sessionmaker, client, policy=POLICY)
    async with sessionmaker.begin() as session:
        message = await session.get(Message, message_id)
        assert message.status is MessageStatus.RETRYING
        message.next_attempt_at = None  # skip the backoff
    assert await send_round(sessionmaker, client, state=SenderState()) == 1
    assert await send_round(sessionmaker, client, state=SenderState()) == 0

    async with sessionmaker() as session:
        message = await session.get(Message, message_id)
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert sim.sent_count(str(message_id)) == 1
