"""Sender id validation (pure, as a table), its setting, and the account check."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from aiohttp import web

from bot.account import AccountState, check_account
from bot.config import ConfigError, load_settings
from bot.providers.clicksend import ClickSendClient
from bot.providers.simulator import SimulatorConfig, create_simulator_app
from bot.sender import SenderState
from bot.sender_id import DefaultSender, InvalidSenderId, check_sender_id

TEST_KEY = "D83DED51-9E35-4D42-9BB9-0E34B7CA85AE"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+61411111111", "+61411111111"),
        ("  +14155550101 ", "+14155550101"),
        ("Acme", "Acme"),
        ("ACME2024", "ACME2024"),
        ("A", "A"),
        ("Shop+", "Shop+"),
        ("ElevenChars", "ElevenChars"),
    ],
)
def test_valid_sender_ids(raw, expected):
    assert check_sender_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("Acme Shop", "may not contain spaces"),
        ("TwelveChars1", "at most 11 characters (12 given)"),
        ("Acmé", "only letters A-Z, digits and +"),
        ("Acme-Shop", "only letters A-Z, digits and +"),
        ("61411111111", "looks like a phone number: write it in E.164 with a leading +"),
        ("+61 411 111 111", "is not an E.164 number"),
        ("+1abc", "is not an E.164 number"),
        ("+12", "is not a phone number"),
        ("+6141111111111111", "wrong length for a phone number"),
        ("+١٢٣٤٥٦٧٨٩", "is not an E.164 number"),  # non-ASCII digits
    ],
)
def test_invalid_sender_ids_say_why(raw, message):
    with pytest.raises(InvalidSenderId) as caught:
        check_sender_id(raw)
    assert message in str(caught.value)


def test_sender_id_variable_is_checked_at_start():
    assert load_settings({"SMSDESK_SENDER_ID": " Acme "}).sender_id == "Acme"
    with pytest.raises(ConfigError) as caught:
        load_settings({"SMSDESK_SENDER_ID": "Acme Shop Ltd"})
    assert str(caught.value) == "SMSDESK_SENDER_ID: an alpha tag may not contain spaces"


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, 5.0), ("0", 0.0), ("12.5", 12.5), (" 3 ", 3.0)]
)
def test_low_credit_threshold(raw, expected):
    env = {} if raw is None else {"SMSDESK_LOW_CREDIT_THRESHOLD": raw}
    assert load_settings(env).low_credit_threshold == expected


@pytest.mark.parametrize("raw", ["five", "-1", "nan", "inf", "1e12"])
def test_bad_low_credit_threshold_names_the_variable(raw):
    with pytest.raises(ConfigError) as caught:
        load_settings({"SMSDESK_LOW_CREDIT_THRESHOLD": raw})
    assert caught.value.variable == "SMSDESK_LOW_CREDIT_THRESHOLD"


def test_saved_sender_id_wins_over_the_variable():
    sender = DefaultSender(configured="Acme")
    assert sender.value == "Acme"
    sender.saved = "+61411111111"
    assert sender.value == "+61411111111"
    sender.saved = None
    assert sender.value == "Acme"


# -- the account check against the simulator ---------------------------------------------


@pytest.fixture
async def simulator(aiohttp_server):
    config = SimulatorConfig(username="demo", api_key="secret", balance="3.500000", currency="AUD")
    sub, _state = create_simulator_app(config)
    root = web.Application()
    root.add_subapp("/v3", sub)
    server = await aiohttp_server(root)
    async with httpx.AsyncClient() as http:

        def login(username: str, api_key: str) -> ClickSendClient:
            base = str(server.make_url("/v3"))
            return ClickSendClient(http, base_url=base, username=username, api_key=api_key)

        yield login


def paused() -> SenderState:
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    return SenderState(paused_until=until, pause_reason="INSUFFICIENT_CREDIT")


async def test_account_check_records_balance_and_lifts_a_pause(simulator):
    account, sender = AccountState(), paused()
    assert await check_account(simulator("demo", "secret"), account, sender) is True
    assert (str(account.balance), account.currency, account.error) == ("3.500000", "AUD", None)
    assert account.checked_at is not None
    assert (sender.paused_until, sender.pause_reason) == (None, None)
    assert account.low_credit(account.balance + 1) and not account.low_credit(account.balance)


async def test_account_without_credit_stays_paused(simulator):
    account, sender = AccountState(), paused()
    assert await check_account(simulator("nocredit", TEST_KEY), account, sender) is False
    assert str(account.balance) == "0.000000"
    assert sender.pause_reason == "INSUFFICIENT_CREDIT"


async def test_failed_account_check_keeps_the_last_balance_and_says_why(simulator):
    account, sender = AccountState(), paused()
    await check_account(simulator("demo", "secret"), account, SenderState())
    assert await check_account(simulator("demo", "wrong"), account, sender) is False
    assert str(account.balance) == "3.500000"
    assert "INVALID_CREDENTIALS" in (account.error or "")
    assert sender.pause_reason == "INSUFFICIENT_CREDIT"
