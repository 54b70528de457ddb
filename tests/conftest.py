"""Shared fixtures.

Database: SMSDESK_TEST_DATABASE_URL (PostgreSQL in CI) when set, otherwise a
temporary SQLite file per test copied from one migrated template. Either way the
schema comes from the Alembic migrations, so tests exercise them too.

Network guard: httpx may only reach loopback; a test that would call a real
provider fails instead of sending an SMS.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bot import schema
from bot.config import InboundMode, ProviderName, Settings
from bot.db import Base, create_engine, make_sessionmaker

PG_URL = os.environ.get("SMSDESK_TEST_DATABASE_URL")
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "providers" / "fixtures"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(autouse=True)
def network_guard(monkeypatch):
    original = httpx.AsyncHTTPTransport.handle_async_request

    async def guarded(self, request):
        if request.url.host not in LOOPBACK:
            raise AssertionError(f"test tried to reach {request.url.host}; mock it instead")
        return await original(self, request)

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", guarded)


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory) -> str:
    if PG_URL:
        asyncio.run(_drop_all(PG_URL))
        schema.upgrade(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    schema.upgrade(f"sqlite+aiosqlite:///{path}")
    return str(path)


async def _drop_all(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture
def database_url(_migrated_template, tmp_path) -> str:
    if PG_URL:
        asyncio.run(_truncate_all(PG_URL))
        return PG_URL
    path = tmp_path / "smsdesk.db"
    shutil.copyfile(_migrated_template, path)
    return f"sqlite+aiosqlite:///{path}"


async def _truncate_all(url: str) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    engine = create_engine(url)
    async with engine.begin() as conn:
        # The consent ledger's append-only trigger also refuses TRUNCATE; replica mode
        # skips ordinary triggers for this cleanup connection only.
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture
async def engine(database_url):
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine):
    return make_sessionmaker(engine)


@pytest.fixture
def settings(database_url, unused_tcp_port) -> Settings:
    """Demo-like settings: the built-in simulator, on a port the test server will use."""
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key-" + "x" * 32,
        provider=ProviderName.SIMULATOR,
        inbound_mode=InboundMode.PUSH,
        webhook_token="test-webhook-token-0123456789",
        default_region="US",
        demo=True,
        port=unused_tcp_port,
    )


@pytest.fixture
async def client(aiohttp_client, settings):
    """The whole app (workers running) served on settings.port."""
    from inbox.app import create_app

    return await aiohttp_client(create_app(settings), server_kwargs={"port": settings.port})


@pytest.fixture
async def quiet_client(aiohttp_client, settings):
    """The app without background workers: tests drive the pipeline and sender by hand."""
    from inbox.app import create_app

    app = create_app(settings, run_workers=False)
    return await aiohttp_client(app, server_kwargs={"port": settings.port})


def webhook_path(settings: Settings, kind: str = "inbound") -> str:
    return f"/webhooks/clicksend/{settings.webhook_token}/{kind}"
