"""Composition root: ``create_app(settings)`` wires the database, the group
commit writer, the provider, the workers and every route.

Every long-lived resource is a cleanup context, so teardown runs exactly when
setup did and in reverse order: workers stop before the provider and writer
they use, and the engine is disposed last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp_jinja2
import httpx
import jinja2
from aiohttp import web

from bot import appsettings, events, ingest
from bot.config import InboundMode, ProviderName, Settings
from bot.db import create_engine, make_sessionmaker, write_turns_for
from bot.jobs import (
    AccountWorker,
    ForwardWorker,
    PipelineWorker,
    PollerWorker,
    ReconcilerWorker,
    SenderWorker,
)
from bot.poller import Poller
from bot.providers.clicksend import ClickSendClient
from bot.ratelimit import TokenBucket
from bot.reconciler import ReconcilePolicy
from bot.web import WebhookContext, create_webhook_app
from bot.write_backends import make_writer
from inbox import routes
from inbox.keys import SERVICES
from inbox.middleware import error_pages, security_headers
from inbox.services import Services

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = PROJECT_ROOT / "templates"
SIM_MOUNT = "/_sim/clicksend/v3"
SIM_USERNAME = "demo"
SIM_API_KEY = "demo-api-key"


def create_app(
    settings: Settings, *, run_workers: bool = True, check_account: bool | None = None
) -> web.Application:
    """``check_account`` (default: with the workers) runs the account check alone, for
    `serve --no-workers`, whose header still shows the balance."""
    app = web.Application(middlewares=[security_headers, error_pages])
    services = _build_services(settings)
    app[SERVICES] = services
    app.cleanup_ctx.extend([_database_ctx, _writer_ctx, _provider_ctx])
    if run_workers:
        app.cleanup_ctx.append(_workers_ctx)
    elif check_account:
        app.cleanup_ctx.append(_account_ctx)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
    )
    context = WebhookContext(
        writer=services.writer,
        valid_tokens=lambda: services.webhook_tokens,
        default_region=settings.default_region,
    )
    app.add_subapp("/webhooks", create_webhook_app(context))
    if settings.provider is ProviderName.SIMULATOR:
        _mount_simulator(app, services)
    routes.setup(app)
    return app


def _build_services(settings: Settings) -> Services:
    engine = create_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    services = Services(
        settings=settings,
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        turns=write_turns_for(settings.database_url),
    )
    services.default_sender.configured = settings.sender_id
    services.writer = make_writer(
        engine,
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        on_commit=lambda kind, results: _after_commit(services, kind, results),
        turns=services.turns,
    )
    return services


def _after_commit(services: Services, kind: str, results: Sequence[object]) -> None:
    if kind == ingest.KIND and any(not r.duplicate for r in results):
        services.bus.publish(events.INBOUND_STORED)
    services.bus.publish(events.MESSAGE_UPDATED, None)


def local_base_url(settings: Settings) -> str:
    """How this process reaches itself (the demo simulator, its own webhooks)."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}"


def provider_base_url(settings: Settings) -> str:
    if settings.provider is ProviderName.SIMULATOR:
        return local_base_url(settings) + SIM_MOUNT
    return settings.clicksend_base_url


def _mount_simulator(app: web.Application, services: Services) -> None:
    from bot.providers.simulator import SimulatorConfig, create_simulator_app

    settings = services.settings
    config = SimulatorConfig(
        username=settings.clicksend_username or SIM_USERNAME,
        api_key=settings.clicksend_api_key or SIM_API_KEY,
    )
    sim_app, state = create_simulator_app(config)
    services.simulator = state
    app.add_subapp(SIM_MOUNT, sim_app)


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    settings = services.settings
    async with services.sessionmaker.begin() as session:
        services.webhook_tokens = await appsettings.webhook_tokens(session, settings.webhook_token)
        services.secret_key = settings.secret_key or await appsettings.get_or_create(
            session, appsettings.SECRET_KEY, appsettings.new_token
        )
        services.default_sender.saved = await appsettings.find(session, appsettings.SENDER_ID)
    if services.simulator is not None:
        _point_simulator_at_us(services)
    yield
    await services.engine.dispose()


def _point_simulator_at_us(services: Services) -> None:
    """Push rules for the demo simulator, as an operator would set them in ClickSend:
    none in poll mode, so the simulator keeps replies and receipts for the poller."""
    if services.settings.inbound_mode is InboundMode.POLL:
        return
    base = local_base_url(services.settings) + f"/webhooks/clicksend/{services.webhook_tokens[0]}"
    services.simulator.config.inbound_push_url = base + "/inbound"
    services.simulator.config.receipt_push_url = base + "/receipts"


async def _writer_ctx(app: web.Application) -> AsyncIterator[None]:
    writer = app[SERVICES].writer
    await writer.start()
    yield
    await writer.stop()


async def _provider_ctx(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    settings = services.settings
    timeout = httpx.Timeout(30.0, connect=5.0)
    async with httpx.AsyncClient(timeout=timeout, trust_env=False) as http:
        services.http = http
        services.clicksend_account = settings.clicksend_username or SIM_USERNAME
        services.provider = ClickSendClient(
            http,
            base_url=provider_base_url(settings),
            username=services.clicksend_account,
            api_key=settings.clicksend_api_key or SIM_API_KEY,
            send_timeout_s=settings.send_timeout_s,
        )
        yield
        services.provider = None
        services.http = None


async def _workers_ctx(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    tasks = start_workers(services)
    yield
    await stop_tasks(tasks)


async def _account_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(account_worker(app[SERVICES]).run(), name="account-worker")
    yield
    await stop_tasks([task])


def account_worker(services: Services) -> AccountWorker:
    return AccountWorker(
        services.provider,
        services.sessionmaker,
        services.bus,
        services.account,
        services.sender_state,
        services.default_sender,
        first_check_after_s=1.0 if services.simulator is not None else 0.0,
    )


def reconcile_policy(send_timeout_s: float) -> ReconcilePolicy:
    """A send still unanswered 30 s after its timeout was never recorded; one absent
    from ClickSend's history that long after plus a minute was never accepted."""
    stale_s = send_timeout_s + 30.0
    return ReconcilePolicy(stale_sending_s=stale_s, grace_s=max(120.0, stale_s + 60.0))


def start_workers(services: Services) -> list[asyncio.Task[None]]:
    pipeline = PipelineWorker(
        services.sessionmaker, services.bus, turns=services.turns, writer=services.writer
    )
    sender = SenderWorker(
        services.sessionmaker,
        services.bus,
        services.provider,
        default_sender=services.default_sender,
        state=services.sender_state,
        turns=services.turns,
        bucket=TokenBucket(services.settings.send_rate_per_s),
    )
    reconciler = ReconcilerWorker(
        services.sessionmaker,
        services.bus,
        services.provider,
        policy=reconcile_policy(services.provider.send_timeout_s),
        turns=services.turns,
    )
    forwarder = ForwardWorker(
        services.sessionmaker,
        services.bus,
        services.http,
        smtp=services.settings.smtp,
        turns=services.turns,
    )
    account = account_worker(services)
    tasks = [
        asyncio.create_task(pipeline.run(), name="pipeline-worker"),
        asyncio.create_task(sender.run(), name="sender-worker"),
        asyncio.create_task(account.run(), name="account-worker"),
        asyncio.create_task(reconciler.run(), name="reconciler-worker"),
        asyncio.create_task(forwarder.run(), name="forward-worker"),
    ]
    if services.settings.inbound_mode in (InboundMode.POLL, InboundMode.BOTH):
        tasks.append(asyncio.create_task(poller_worker(services).run(), name="poller-worker"))
    return tasks


def poller_worker(services: Services) -> PollerWorker:
    settings = services.settings
    poller = Poller(services.provider, services.writer, default_region=settings.default_region)
    return PollerWorker(poller, interval_s=settings.poll_interval_s)


async def stop_tasks(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
