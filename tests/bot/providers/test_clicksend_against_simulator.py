"""The real ClickSendClient over real HTTP against the simulator: the demo-mode loop."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.providers.base import AccountProviderError, OutboundSms, Outcome
from bot.providers.clicksend import ClickSendClient
from bot.providers.simulator import SimulatorConfig, create_simulator_app

TEST_KEY = "D83DED51-9E35-4D42-9BB9-0E34B7CA85AE"


class Rig:
    def __init__(self, base_url: str, http: httpx.AsyncClient, state: Any) -> None:
        self.base_url, self.http, self.state = base_url, http, state
        self.client = self.login("demo", "secret")

    def login(self, username: str, api_key: str) -> ClickSendClient:
        return ClickSendClient(
            self.http, base_url=self.base_url, username=username, api_key=api_key
        )


@pytest.fixture
async def rig(aiohttp_server):
    config = SimulatorConfig(username="demo", api_key="secret", receipt_delay_s=0)
    sub, state = create_simulator_app(config)
    root = web.Application()
    root.add_subapp("/v3", sub)
    server = await aiohttp_server(root)
    async with httpx.AsyncClient() as http:
        yield Rig(str(server.make_url("/v3")), http, state)


async def test_send_batch(rig):
    results = await rig.client.send_batch(
        [
            OutboundSms("o-1", "+15551230001", "Your ticket is open"),
            OutboundSms("o-2", "not-a-number", "x"),
            OutboundSms("o-3", "+61411111111", "Test number", sender="+15557654321"),
        ]
    )
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.REJECTED, Outcome.ACCEPTED]
    assert (results[0].parts, results[0].price) == (1, "0.07")
    assert results[2].price == "0.0"
    assert results[1].code == "INVALID_RECIPIENT"
    assert "destination number is invalid" in (results[1].reason or "")
    assert [rig.state.sent_count(ref) for ref in ("o-1", "o-2", "o-3")] == [1, 0, 1]
    [request] = rig.state.requests
    assert (request["method"], request["path"]) == ("POST", "/sms/send")
    assert request["json"]["messages"][2] == {
        "to": "+61411111111",
        "body": "Test number",
        "source": "smsdesk",
        "custom_string": "o-3",
        "from": "+15557654321",
    }


async def test_repeat_send_is_retried_when_throttled(rig):
    message = OutboundSms("o-1", "+15551230001", "Same text")
    [first] = await rig.client.send_batch([message])
    [again] = await rig.client.send_batch([message])
    assert (first.outcome, again.outcome) == (Outcome.ACCEPTED, Outcome.RETRY)
    assert again.retry_after_s == 5.0


async def test_inbound_fetch_and_mark_read(rig):
    [sent] = await rig.client.send_batch(
        [OutboundSms("conv-1", "+15551230001", "How can we help?")]
    )
    injected = await rig.state.inject_inbound("+15551230001", "+61480000000", "HELP me")
    page = await rig.client.fetch_inbound()
    [reply] = page.items
    assert page.has_more is False
    assert reply.provider_message_id == injected["message_id"]
    assert (reply.from_number, reply.to_number, reply.body) == (
        "+15551230001",
        "+61480000000",
        "HELP me",
    )
    assert reply.custom_string == "conv-1"
    assert reply.original_message_id == sent.provider_message_id
    assert reply.timestamp is not None
    await rig.client.mark_inbound_read(reply.provider_message_id)
    assert list((await rig.client.fetch_inbound()).items) == []
    await rig.client.mark_inbound_read(reply.provider_message_id)  # idempotent


async def test_inbound_paging(rig):
    for i in range(20):
        await rig.state.inject_inbound(f"+1555000{i:04d}", "+61480000000", f"m{i}")
    first = await rig.client.fetch_inbound(1, 15)
    second = await rig.client.fetch_inbound(2, 15)
    assert (len(first.items), first.has_more) == (15, True)
    assert (len(second.items), second.has_more) == (5, False)
    ids = {i.provider_message_id for i in [*first.items, *second.items]}
    assert len(ids) == 20


async def test_receipts_fetch_and_mark_read(rig):
    [sent] = await rig.client.send_batch([OutboundSms("o-9", "+15551230001", "Hi")])
    await rig.state.wait_idle()
    [receipt] = (await rig.client.fetch_receipts()).items
    assert receipt.provider_message_id == sent.provider_message_id
    assert (receipt.delivered, receipt.custom_string, receipt.status_code) == (True, "o-9", "201")
    await rig.client.mark_receipts_read(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2))
    assert list((await rig.client.fetch_receipts()).items) == []
    assert rig.state.requests[-2]["json"]["date_before"] > int(receipt.timestamp.timestamp())


async def test_get_account_reflects_charges(rig):
    before = await rig.client.get_account()
    await rig.client.send_batch([OutboundSms("o-1", "+15551230001", "x" * 161)])
    after = await rig.client.get_account()
    assert (before.balance, before.currency, before.active) == ("100.000000", "USD", True)
    assert after.balance == "99.860000"


async def test_nocredit_account(rig):
    client = rig.login("nocredit", TEST_KEY)
    with pytest.raises(AccountProviderError) as caught:
        await client.send_batch([OutboundSms("o-1", "+15551230001", "Hello")])
    assert caught.value.code == "INSUFFICIENT_CREDIT"
    results = await client.send_batch(
        [
            OutboundSms("o-2", "+15551230002", "Hello"),
            OutboundSms("o-3", "+61411111111", "Hello"),
        ]
    )
    assert [r.outcome for r in results] == [Outcome.ACCOUNT, Outcome.ACCEPTED]
    assert results[0].code == "INSUFFICIENT_CREDIT"
    account = await client.get_account()
    assert (account.balance, account.active) == ("0.000000", True)


@pytest.mark.parametrize(
    ("username", "api_key", "code", "active"),
    [
        ("notactive", TEST_KEY, "ACCOUNT_NOT_ACTIVATED", False),
        ("banned", TEST_KEY, "FORBIDDEN", False),
        ("demo", "wrong", "INVALID_CREDENTIALS", None),
    ],
)
async def test_refused_accounts_raise_account_errors(rig, username, api_key, code, active):
    client = rig.login(username, api_key)
    for call in (
        lambda: client.send_batch([OutboundSms("o-1", "+15551230001", "Hello")]),
        client.fetch_inbound,
        client.fetch_receipts,
    ):
        with pytest.raises(AccountProviderError) as caught:
            await call()
        assert caught.value.code == code
    if active is None:
        with pytest.raises(AccountProviderError):
            await client.get_account()
    else:
        assert (await client.get_account()).active is active
    assert rig.state.sent == []
