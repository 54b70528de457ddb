"""Keyword bot end to end, over real HTTP inside one process: the simulator pushes
a customer's text to our webhook → the pipeline worker runs the rules → the bot's
reply goes out through the sender to the simulator's POST /sms/send, and the
rule's URL forward is delivered by the forward worker."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.models import Rule
from inbox.keys import SERVICES
from tests.bot.rule_helpers import add_rule, rule_row
from tests.test_end_to_end import eventually


async def test_inbound_fires_a_rule_whose_reply_is_sent_through_the_simulator(
    client, sessionmaker, aiohttp_server
):
    forwarded: asyncio.Queue[dict] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        forwarded.put_nowait(dict(await request.post()))
        return web.Response(text="ok")

    hook_app = web.Application()
    hook_app.router.add_post("/hook", hook)
    hook_server = await aiohttp_server(hook_app, host="127.0.0.1")
    rule_id = await add_rule(
        sessionmaker,
        "PRICE",
        "first_word",
        ["price", "prices"],
        actions=[
            {
                "type": "reply",
                "body": "Hi {{ contact.first_name | default('there', true) }}! Plans start at $10.",
            },
            {"type": "forward_url", "url": str(hook_server.make_url("/hook")), "method": "post"},
        ],
    )
    simulator = client.app[SERVICES].simulator
    await simulator.inject_inbound("+14155550123", "+61411111111", "PRICES please?")

    async def sent():
        return [r for r in simulator.requests if r["path"] == "/sms/send"]

    (request,) = await eventually(sent)
    (message,) = request["json"]["messages"]
    assert (message["to"], message["from"], message["body"]) == (
        "+14155550123",
        "+61411111111",
        "Hi there! Plans start at $10.",
    )
    async with asyncio.timeout(10):
        fields = await forwarded.get()
    assert {k: fields[k] for k in ("from", "to", "body")} == {
        "from": "+14155550123",
        "to": "+61411111111",
        "body": "PRICES please?",
    }
    rule: Rule = await rule_row(sessionmaker, rule_id)
    assert rule.hit_count == 1
    assert rule.last_hit_at is not None
