"""The `smsdesk` command as an operator meets it (run as a real subprocess)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from bot import schema

COMMANDS = ("serve", "migrate", "create-user", "api-key", "webhook-token", "simulator", "worker")


def smsdesk(*args: str, env: dict[str, str] | None = None, stdin: str = "", timeout: float = 60):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        [sys.executable, "-m", "inbox.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"


def test_help_lists_every_command_of_the_contract():
    result = smsdesk("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


def test_a_bad_variable_stops_start_up_with_one_line_and_no_traceback(sqlite_url):
    env = {"SMSDESK_DATABASE_URL": sqlite_url, "SMSDESK_INBOUND_MODE": "x"}
    result = smsdesk("serve", "--demo", env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "smsdesk: configuration error: SMSDESK_INBOUND_MODE: 'x' is not one of: push, poll, both"
    ]


def test_serve_refuses_an_unmigrated_database(sqlite_url):
    env = {
        "SMSDESK_DATABASE_URL": sqlite_url,
        "SMSDESK_SECRET_KEY": "s" * 40,
        "SMSDESK_CLICKSEND_USERNAME": "u",
        "SMSDESK_CLICKSEND_API_KEY": "k",
    }
    result = smsdesk("serve", "--port", "1", env=env)
    assert result.returncode == 1
    assert "run `smsdesk migrate` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_then_user_then_api_key(sqlite_url):
    env = {"SMSDESK_DATABASE_URL": sqlite_url}
    assert smsdesk("migrate", env=env).returncode == 0
    assert schema.is_up_to_date(sqlite_url)
    created = smsdesk(
        "create-user",
        "Agent@Example.com",
        "--role",
        "agent",
        env=env,
        stdin="correct horse battery\n",
    )
    assert created.returncode == 0, created.stderr
    key = smsdesk("api-key", "create", "agent@example.com", env=env)
    assert key.returncode == 0
    username, _, secret = key.stdout.strip().splitlines()[-1].partition(":")
    assert username == "agent@example.com" and len(secret) >= 40


def test_user_errors_are_one_line(sqlite_url):
    env = {"SMSDESK_DATABASE_URL": sqlite_url}
    smsdesk("migrate", env=env)
    short = smsdesk("create-user", "a@example.com", "--role", "admin", env=env, stdin="short\n")
    assert (short.returncode, short.stderr.strip()) == (
        1,
        "smsdesk: password must be at least 8 characters",
    )
    missing = smsdesk("api-key", "create", "nobody@example.com", env=env)
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        "smsdesk: no user with email nobody@example.com",
    )


def test_logging_keeps_httpx_quiet_but_smsdesk_informative(monkeypatch):
    """Poll mode calls ClickSend every second: one INFO line per call would flood the log."""
    from inbox.cli import configure_logging

    for name in ("httpx", "httpcore", "alembic", "bot.poller"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logging.root, "level", logging.WARNING)
    configure_logging()
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)
    assert logging.getLogger("bot.poller").isEnabledFor(logging.INFO)
