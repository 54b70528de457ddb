"""The header's account status on every page, and Settings → ClickSend (sender id)."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import re
import time

from bot import appsettings
from bot.account import check_account
from bot.jobs import SenderWorker
from bot.outbox import enqueue_to_number
from inbox.keys import SERVICES

SETTINGS_PATH = "/settings/clicksend"


async def text_of(client, path: str, status: int = 200) -> str:
    response = await client.get(path)
    assert response.status == status
    return await response.text()


async def check(client) -> None:
    services = client.app[SERVICES]
    await check_account(services.provider, services.account, services.sender_state)


def banner(page: str, element_id: str) -> str | None:
    found = re.search(rf'id="{element_id}">(.*?)</div>', page, re.S)
    return None if found is None else " ".join(html.unescape(found.group(1)).split())


async def test_header_shows_the_balance_on_every_page(quiet_client):
    assert "Balance unknown" in await text_of(quiet_client, "/")
    await check(quiet_client)
    for path in ("/", "/consent", "/settings/compliance", SETTINGS_PATH):
        page = await text_of(quiet_client, path)
        assert "Balance <strong>100.00 USD</strong>" in page, path
        assert banner(page, "low-credit") is None


async def test_web_process_without_workers_still_checks_the_account(aiohttp_client, settings):
    from inbox.app import create_app

    app = create_app(settings, run_workers=False, check_account=True)
    client = await aiohttp_client(app, server_kwargs={"port": settings.port})
    services = client.app[SERVICES]
    deadline = time.monotonic() + 15
    while services.account.balance is None:
        assert time.monotonic() < deadline, "no account check ran"
        await asyncio.sleep(0.1)
    assert "Balance <strong>100.00 USD</strong>" in await text_of(client, "/")


async def test_low_credit_warning_below_the_threshold(aiohttp_client, settings):
    from inbox.app import create_app

    settings = settings.with_overrides(low_credit_threshold=250.0)
    client = await aiohttp_client(
        create_app(settings, run_workers=False), server_kwargs={"port": settings.port}
    )
    await check(client)
    page = await text_of(client, "/")
    assert banner(page, "low-credit") == (
        '<p class="banner-title">Low SMS credit</p> <p>The balance is 100.00 USD, below '
        "250.00 USD. Top up the ClickSend account before sending stops.</p>"
    )


async def test_paused_sending_shows_the_reason_until_the_account_check_passes(quiet_client):
    services = quiet_client.app[SERVICES]
    services.sender_state.paused_until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    services.sender_state.pause_reason = "ClickSend HTTP 400 <INSUFFICIENT_CREDIT>"
    page = await text_of(quiet_client, "/")
    assert "The SMS account cannot send: ClickSend HTTP 400 <INSUFFICIENT_CREDIT>." in (
        banner(page, "sending-paused") or ""
    )
    assert "&lt;INSUFFICIENT_CREDIT&gt;" in page  # escaped
    await check(quiet_client)
    assert banner(await text_of(quiet_client, "/"), "sending-paused") is None


async def test_paused_banner_ends_clicksend_reason_once_and_low_credit_agrees(
    aiohttp_client, settings
):
    from inbox.app import create_app

    settings = settings.with_overrides(low_credit_threshold=250.0)
    client = await aiohttp_client(
        create_app(settings, run_workers=False), server_kwargs={"port": settings.port}
    )
    await check(client)
    state = client.app[SERVICES].sender_state
    state.paused_until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    state.pause_reason = "ClickSend HTTP 400 INSUFFICIENT_CREDIT: You have no message credit left."
    page = await text_of(client, "/")
    assert "You have no message credit left. Messages stay queued" in (
        banner(page, "sending-paused") or ""
    )
    assert (banner(page, "low-credit") or "").endswith("Top up the ClickSend account.</p>")


async def token_of(client) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', await text_of(client, SETTINGS_PATH))
    assert found is not None
    return found.group(1)


async def save_sender_id(client, value: str):
    data = {"csrf_token": await token_of(client), "sender_id": value}
    return await client.post(SETTINGS_PATH, data=data, allow_redirects=False)


async def test_bad_sender_id_is_refused_with_the_reason_and_kept_in_the_form(quiet_client):
    response = await save_sender_id(quiet_client, "Acme <Shop>")
    assert response.status == 400
    page = await response.text()
    assert (
        '<p class="field-error" id="sender_id-error">Sender id: an alpha tag may not contain '
        "spaces</p>" in page
    )
    assert 'value="Acme &lt;Shop&gt;"' in page
    services = quiet_client.app[SERVICES]
    async with services.sessionmaker() as session:
        assert await appsettings.find(session, appsettings.SENDER_ID) is None


async def test_saved_sender_id_is_used_by_the_sender(quiet_client):
    response = await save_sender_id(quiet_client, " AcmeShop ")
    assert response.status == 303
    assert response.headers["Location"] == SETTINGS_PATH + "?saved=1"
    assert 'value="AcmeShop"' in await text_of(quiet_client, SETTINGS_PATH)
    services = quiet_client.app[SERVICES]
    async with services.sessionmaker.begin() as session:
        await enqueue_to_number(session, "+14155550123", "Your parcel is on its way")
    services.default_sender.configured = "FromEnv"  # as SMSDESK_SENDER_ID would set it
    worker = SenderWorker(
        services.sessionmaker,
        services.bus,
        services.provider,
        default_sender=services.default_sender,
    )
    assert await worker.round() == 1
    [send] = [r for r in services.simulator.requests if r["path"] == "/sms/send"]
    assert send["json"]["messages"][0]["from"] == "AcmeShop"


async def test_clearing_the_sender_id_falls_back(quiet_client):
    assert (await save_sender_id(quiet_client, "AcmeShop")).status == 303
    assert (await save_sender_id(quiet_client, "  ")).status == 303
    services = quiet_client.app[SERVICES]
    assert services.default_sender.value is None
    async with services.sessionmaker() as session:
        assert await appsettings.find(session, appsettings.SENDER_ID) == ""
