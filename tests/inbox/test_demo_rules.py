"""The demo's keyword rules fire end to end: "price?" on the simulate page gets the
PRICE template's reply and the sales label."""

from __future__ import annotations

import asyncio
import re
import time

from sqlalchemy import select

from bot.models import ConversationLabel, Direction, Message, Rule
from inbox.demo import seed_demo

REPLY_TIMEOUT_S = 10.0


async def test_demo_rules_reply_to_price_through_the_simulator(client, sessionmaker):
    async with sessionmaker.begin() as session:
        assert await seed_demo(session)
    page = await (await client.get("/simulate")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {
        "csrf_token": token,
        "from_number": "+14155550177",
        "our_number": "+61411111111",
        "body": "price?",
    }
    response = await client.post("/simulate", data=form, allow_redirects=False)
    assert response.status == 303
    reply = await _wait_for_reply(sessionmaker, "Prices start at $5")
    assert reply.startswith("Hi there! Prices start at $5 a month.")
    async with sessionmaker() as session:
        labels = list(await session.scalars(select(ConversationLabel.label)))
        hits = dict((await session.execute(select(Rule.name, Rule.hit_count))).all())
    assert labels == ["sales"]
    assert (hits["PRICE"], hits["Label price questions"], hits["HOURS"]) == (1, 1, 0)


async def _wait_for_reply(sessionmaker, text: str) -> str:
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    while time.monotonic() < deadline:
        async with sessionmaker() as session:
            bodies = await session.scalars(
                select(Message.body).where(Message.direction == Direction.OUT)
            )
            found = [body for body in bodies if text in body]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no reply containing {text!r} after {REPLY_TIMEOUT_S} s")


async def test_the_demo_clicksend_account_imports_cleanly(quiet_client, sessionmaker):
    from inbox.demo import SIMULATOR_RULES, seed_simulator
    from inbox.keys import SERVICES
    from tests.inbox.test_rules_views import post

    async with sessionmaker.begin() as session:
        assert await seed_demo(session)
    seed_simulator(quiet_client.app[SERVICES].simulator)
    response = await post(quiet_client, "/rules/import-clicksend", {}, token_from="/rules")
    page = await response.text()
    assert response.status == 200
    assert "<strong>3</strong> imported" in page and "<strong>0</strong> refused" in page
    async with sessionmaker() as session:
        rows = (await session.execute(select(Rule.name, Rule.enabled).order_by(Rule.id))).all()
    imported = rows[-len(SIMULATOR_RULES) :]
    assert imported == [("INFO auto-reply", False), ("Order updates to the warehouse", False)]
