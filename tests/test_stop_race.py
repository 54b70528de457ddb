"""The send gate under load (opt-out issue): a 10,000-recipient campaign is being
sent while 100 of the recipients text STOP.

The provider is the standalone ClickSend simulator in its own process (as the
real provider would be), pushing delivery receipts to our webhook; the STOPs
arrive as ClickSend pushes to our inbound webhook, 20 ms apart.

Once a STOP is handled (its transaction committed), the sender must claim no
further message to that number; a batch it claimed before may still land.
Everything still queued to the number is suppressed, the only new message is one
confirmation, and each STOP is handled within seconds of being stored (the
campaign goes on meanwhile).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import pytest
from sqlalchemy import func, select

import bot.jobs
import bot.sender
from bench.processes import simulator
from bot.config import ProviderName
from bot.models import (
    ConsentEvent,
    Contact,
    Conversation,
    Message,
    MessagePurpose,
    MessageStatus,
)
from inbox.app import create_app
from inbox.keys import SERVICES
from tests.bot.outbound_helpers import seed_queued
from tests.conftest import webhook_path

SIM_USER = "race-user"
STOP_HANDLED_WITHIN_S = 5.0
SIM_KEY = "race-key-0123456789"

RECIPIENTS = 10_000
STOPPERS = 100
OURS = "+61411111111"
UNFINISHED = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.RETRYING)


def number(i: int) -> str:
    return f"+1415550{i:04d}"


async def seed_campaign(engine) -> None:
    messages = [(number(i), "Spring sale: 20% off") for i in range(RECIPIENTS)]
    await seed_queued(
        engine, messages, our_number=OURS, purpose=MessagePurpose.CAMPAIGN, priority=2
    )


def record_claims(monkeypatch) -> dict[str, list[tuple[int, float]]]:
    """Phone number → (message id, start time of the claim transaction that took it)."""
    claims: dict[str, list[tuple[int, float]]] = defaultdict(list)
    original = bot.sender.claim_batch

    async def spy(session, limit, now):
        started = time.time()
        claimed = await original(session, limit, now)
        for item in claimed:
            claims[item.to].append((item.id, started))
        return claimed

    monkeypatch.setattr(bot.sender, "claim_batch", spy)
    return claims


def small_batches(monkeypatch) -> None:
    """Batches of 200 instead of 1,000: the campaign takes long enough to send that
    STOPs reliably reach some numbers before the sender does."""
    original = bot.jobs.send_round

    async def smaller(*args, **kwargs):
        return await original(*args, **{**kwargs, "batch_size": 200})

    monkeypatch.setattr(bot.jobs, "send_round", smaller)


def record_handled(monkeypatch) -> dict[int, float]:
    """Inbound message id → when its pipeline transaction committed."""
    handled: dict[int, float] = {}
    original = bot.jobs.PipelineWorker._handle

    async def spy(self, message_id):
        await original(self, message_id)
        handled[message_id] = time.time()

    monkeypatch.setattr(bot.jobs.PipelineWorker, "_handle", spy)
    return handled


async def wait_for(check, seconds: float):
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"{check.__name__} not done within {seconds} s"
        await asyncio.sleep(0.1)


@pytest.fixture
def simulator_port(unused_tcp_port_factory):
    return unused_tcp_port_factory()


@pytest.fixture
def race_settings(settings, simulator_port):
    return settings.with_overrides(
        provider=ProviderName.CLICKSEND,
        clicksend_base_url=f"http://127.0.0.1:{simulator_port}/v3",
        clicksend_username=SIM_USER,
        clicksend_api_key=SIM_KEY,
        send_rate_per_s=100_000.0,
    )


@pytest.fixture
def external_simulator(race_settings, simulator_port, tmp_path):
    hooks = f"http://127.0.0.1:{race_settings.port}{webhook_path(race_settings, '')}"
    flags = ["--push-inbound", hooks + "inbound", "--push-receipts", hooks + "receipts"]
    log = tmp_path / "simulator.log"
    with simulator(simulator_port, SIM_USER, SIM_KEY, log, *flags, "--balance", "100000") as proc:
        yield proc


async def count_messages(sessionmaker, *where) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(Message).where(*where))


async def test_stop_wins_over_a_running_campaign(
    aiohttp_client, race_settings, external_simulator, engine, sessionmaker, monkeypatch
):
    claims = record_claims(monkeypatch)
    handled = record_handled(monkeypatch)
    small_batches(monkeypatch)
    await seed_campaign(engine)
    app = create_app(race_settings)
    client = await aiohttp_client(app, server_kwargs={"port": race_settings.port})
    client.app[SERVICES].notify_outbox()

    async def sending_started():
        return await count_messages(sessionmaker, Message.status == MessageStatus.SENT) > 0

    await wait_for(sending_started, 60)
    stoppers = [number(i) for i in range(5000, RECIPIENTS, (RECIPIENTS - 5000) // STOPPERS)]
    for index, phone in enumerate(stoppers):
        # ClickSend's push of each STOP, 20 ms apart, straight to our webhook.
        fields = {"message_id": f"STOP-{index}", "from": phone, "to": OURS, "body": "STOP"}
        response = await client.post(webhook_path(race_settings), data=fields)
        assert response.status == 200
        await asyncio.sleep(0.02)

    async def finished():
        async with sessionmaker() as session:
            left = await session.scalar(
                select(func.count()).select_from(Message).where(Message.status.in_(UNFINISHED))
            )
            handled = await session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.direction == "in", Message.status == MessageStatus.HANDLED)
            )
        return left == 0 and handled == STOPPERS

    await wait_for(finished, 120)

    async with sessionmaker() as session:
        events = (
            await session.execute(
                select(ConsentEvent.phone_number, ConsentEvent.message_id, Message.created_at).join(
                    Message, Message.id == ConsentEvent.message_id
                )
            )
        ).all()
        rows = (
            await session.execute(
                select(Contact.phone_number, Message.id, Message.purpose, Message.status)
                .join(Conversation, Conversation.contact_id == Contact.id)
                .join(Message, Message.conversation_id == Conversation.id)
                .where(Contact.phone_number.in_(stoppers), Message.direction == "out")
            )
        ).all()

    assert sorted(phone for phone, _, _ in events) == sorted(stoppers)
    stop_committed = {phone: handled[message_id] for phone, message_id, _ in events}
    slowest = max(handled[mid] - stored.timestamp() for _, mid, stored in events)
    # A generous bound: this asserts that a STOP is not left waiting behind the
    # campaign, not a speed figure (about 0.25 s on a quiet machine, PERFORMANCE.md;
    # timed assertions flake on a shared machine).
    print(f"slowest STOP handled {slowest:.3f} s after it was stored")
    assert slowest < STOP_HANDLED_WITHIN_S, f"a STOP took {slowest:.2f} s to handle"

    campaign: dict[str, tuple[int, MessageStatus]] = {}
    confirmations: dict[str, list[MessageStatus]] = defaultdict(list)
    for phone, message_id, purpose, status in rows:
        if purpose is MessagePurpose.CAMPAIGN:
            assert phone not in campaign
            campaign[phone] = (message_id, status)
        else:
            assert purpose is MessagePurpose.OPT_OUT_CONFIRMATION, (phone, purpose)
            confirmations[phone].append(status)
    beaten = 0
    for phone in stoppers:
        message_id, status = campaign[phone]
        claimed_at = [t for mid, t in claims[phone] if mid == message_id]
        assert all(t < stop_committed[phone] for t in claimed_at), f"{phone}: claimed after STOP"
        if not claimed_at:
            assert status is MessageStatus.SUPPRESSED, (phone, status)
            beaten += 1
        assert len(confirmations[phone]) == 1, (phone, confirmations[phone])
        assert confirmations[phone][0] in (MessageStatus.SENT, MessageStatus.DELIVERED)
    assert beaten > 0  # the race was real: some STOPs reached their number before the sender
