"""Settings: every SMSDESK_* variable validated, errors name the variable."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, InboundMode, ProviderName, load_settings

CREDS = {"SMSDESK_CLICKSEND_USERNAME": "u", "SMSDESK_CLICKSEND_API_KEY": "k"}


def test_demo_defaults_need_no_variables():
    settings = load_settings({}, demo=True, serving=True)
    assert (settings.provider, settings.inbound_mode, settings.default_region) == (
        ProviderName.SIMULATOR,
        InboundMode.PUSH,
        "US",
    )
    assert settings.database_url == "sqlite+aiosqlite:///./smsdesk.db"
    assert settings.sqlite_synchronous == "FULL"
    assert settings.send_rate_per_s == 10.0
    assert settings.send_timeout_s == 30.0


def test_values_are_parsed_and_normalised():
    env = {
        **CREDS,
        "SMSDESK_SECRET_KEY": "s" * 40,
        "SMSDESK_DATABASE_URL": "postgresql://a:b@127.0.0.1/db",
        "SMSDESK_INBOUND_MODE": "BOTH",
        "SMSDESK_POLL_INTERVAL_S": "1",
        "SMSDESK_DEFAULT_REGION": "au",
        "SMSDESK_CLICKSEND_BASE_URL": "http://127.0.0.1:9000/v3/",
        "SMSDESK_SEND_RATE_PER_S": "2.5",
        "SMSDESK_SEND_TIMEOUT_S": "45",
    }
    settings = load_settings(env, serving=True)
    assert settings.database_url == "postgresql+asyncpg://a:b@127.0.0.1/db"
    assert (settings.inbound_mode, settings.poll_interval_s) == (InboundMode.BOTH, 1.0)
    assert settings.default_region == "AU"
    assert settings.clicksend_base_url == "http://127.0.0.1:9000/v3"
    assert settings.send_rate_per_s == 2.5
    assert settings.send_timeout_s == 45.0


@pytest.mark.parametrize(
    ("env", "variable", "problem"),
    [
        ({"SMSDESK_DATABASE_URL": "mysql://x"}, "SMSDESK_DATABASE_URL", "unsupported URL"),
        ({"SMSDESK_PROVIDER": "twilio"}, "SMSDESK_PROVIDER", "not one of: simulator, clicksend"),
        ({"SMSDESK_INBOUND_MODE": "pull"}, "SMSDESK_INBOUND_MODE", "not one of"),
        ({"SMSDESK_POLL_INTERVAL_S": "0.5"}, "SMSDESK_POLL_INTERVAL_S", "outside 1..3600"),
        ({"SMSDESK_POLL_INTERVAL_S": "soon"}, "SMSDESK_POLL_INTERVAL_S", "not a number"),
        ({"SMSDESK_DEFAULT_REGION": "XX"}, "SMSDESK_DEFAULT_REGION", "not an ISO 3166"),
        ({"SMSDESK_WEBHOOK_TOKEN": "short"}, "SMSDESK_WEBHOOK_TOKEN", "at least 22"),
        ({"SMSDESK_SECRET_KEY": "short"}, "SMSDESK_SECRET_KEY", "at least 32"),
        ({"SMSDESK_CLICKSEND_BASE_URL": "ftp://x"}, "SMSDESK_CLICKSEND_BASE_URL", "http(s)"),
        ({"SMSDESK_SQLITE_SYNCHRONOUS": "OFF"}, "SMSDESK_SQLITE_SYNCHRONOUS", "not one of"),
        ({"SMSDESK_SEND_RATE_PER_S": "fast"}, "SMSDESK_SEND_RATE_PER_S", "not a number"),
        ({"SMSDESK_SEND_RATE_PER_S": "0"}, "SMSDESK_SEND_RATE_PER_S", "outside 0..100,000"),
        ({"SMSDESK_SEND_RATE_PER_S": "-5"}, "SMSDESK_SEND_RATE_PER_S", "outside"),
        ({"SMSDESK_SEND_RATE_PER_S": "nan"}, "SMSDESK_SEND_RATE_PER_S", "outside"),
        ({"SMSDESK_SEND_RATE_PER_S": "inf"}, "SMSDESK_SEND_RATE_PER_S", "outside"),
        ({"SMSDESK_SEND_TIMEOUT_S": "0.5"}, "SMSDESK_SEND_TIMEOUT_S", "outside 1..300"),
        ({"SMSDESK_SEND_TIMEOUT_S": "soon"}, "SMSDESK_SEND_TIMEOUT_S", "not a number"),
    ],
)
def test_bad_values_name_the_variable(env, variable, problem):
    with pytest.raises(ConfigError) as caught:
        load_settings(env, demo=True)
    assert caught.value.variable == variable
    assert problem in str(caught.value)


def test_serving_without_demo_requires_secret_and_credentials():
    with pytest.raises(ConfigError, match="SMSDESK_SECRET_KEY"):
        load_settings(CREDS, serving=True)
    with pytest.raises(ConfigError, match="SMSDESK_CLICKSEND_API_KEY"):
        load_settings(
            {"SMSDESK_SECRET_KEY": "s" * 40, "SMSDESK_CLICKSEND_USERNAME": "u"}, serving=True
        )
    assert load_settings({}).secret_key is None  # migrate/create-user need neither
