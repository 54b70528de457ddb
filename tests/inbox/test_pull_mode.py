"""Pull mode in the running app: the poller worker against the mounted demo simulator."""

from __future__ import annotations

import asyncio
import time
from base64 import b64encode
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select

from bot.config import InboundMode
from bot.models import Direction, Message, MessageStatus
from bot.outbox import enqueue_to_number
from inbox.app import SIM_API_KEY, SIM_MOUNT, SIM_USERNAME, create_app
from inbox.demo import DEMO_OUR_NUMBER
from inbox.keys import SERVICES

CUSTOMER = "+14155550177"
SIM_LOGIN = f"{SIM_USERNAME}:{SIM_API_KEY}".encode()


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def app_client(aiohttp_client, settings, mode: InboundMode):
    settings = settings.with_overrides(inbound_mode=mode, poll_interval_s=1.0)
    return await aiohttp_client(create_app(settings), server_kwargs={"port": settings.port})


async def customer_writes(client, body: str) -> str:
    response = await client.post(
        f"{SIM_MOUNT}/_simulator/inbound",
        json={"from": CUSTOMER, "to": DEMO_OUR_NUMBER, "body": body},
        headers={"Authorization": "Basic " + b64encode(SIM_LOGIN).decode()},
    )
    assert response.status == 200
    return (await response.json())["data"]["message_id"]


async def inbound_count(services, provider_message_id: str) -> int:
    async with services.sessionmaker() as session:
        return await session.scalar(
            select(func.count()).where(
                Message.direction == Direction.IN,
                Message.provider_message_id == provider_message_id,
            )
        )


async def test_poll_mode_stores_a_reply_and_marks_it_read(aiohttp_client, settings):
    client = await app_client(aiohttp_client, settings, InboundMode.POLL)
    services = client.app[SERVICES]
    message_id = await customer_writes(client, "Where is my order?")

    async def taken() -> bool:
        return not services.simulator.inbound and await inbound_count(services, message_id) == 1

    await eventually(taken)
    assert services.simulator.push_log == []  # nothing pushed: the poller did it


async def test_both_modes_store_a_message_once(aiohttp_client, settings):
    client = await app_client(aiohttp_client, settings, InboundMode.BOTH)
    services = client.app[SERVICES]
    message_id = await customer_writes(client, "Hello twice")

    async def pushed_and_pulled() -> bool:
        return bool(services.simulator.push_log) and not services.simulator.inbound

    await eventually(pushed_and_pulled)
    await services.simulator.wait_idle()
    assert await inbound_count(services, message_id) == 1


async def test_poll_mode_pulls_the_receipt_of_a_reply(aiohttp_client, settings):
    client = await app_client(aiohttp_client, settings, InboundMode.POLL)
    services = client.app[SERVICES]
    async with services.sessionmaker.begin() as session:
        message = await enqueue_to_number(session, CUSTOMER, "Your order shipped")
    services.notify_outbox()

    async def delivered() -> bool:
        async with services.sessionmaker() as session:
            found = await session.get(Message, message.id)
        return found.status is MessageStatus.DELIVERED

    await eventually(delivered)
    assert services.simulator.push_log == []
