"""The `smsdesk` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import getpass
import logging
import signal
import sys
from collections.abc import Coroutine
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from bot import appsettings, schema
from bot.config import ConfigError, Settings, load_settings
from bot.db import create_engine, make_sessionmaker
from bot.models import Role

log = logging.getLogger("smsdesk")


class CommandError(Exception):
    """A one-line message for the operator; exit status 1."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging()
    try:
        return args.handler(args) or 0
    except ConfigError as exc:
        print(f"smsdesk: configuration error: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"smsdesk: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def configure_logging() -> None:
    """INFO for smsdesk; libraries only from WARNING (httpx would log every ClickSend call)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in ("alembic", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smsdesk", description="Self-hosted SMS help desk.")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web inbox, webhooks and workers")
    serve.add_argument("--demo", action="store_true", help="SQLite + built-in ClickSend simulator")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--no-workers",
        action="store_true",
        help="HTTP only; run `smsdesk worker` in another process for the workers",
    )
    serve.set_defaults(handler=cmd_serve)

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(handler=cmd_migrate)

    user = commands.add_parser("create-user", help="add an agent or admin (password from stdin)")
    user.add_argument("email")
    user.add_argument("--role", choices=[r.value for r in Role], required=True)
    user.add_argument("--name", default="")
    user.set_defaults(handler=cmd_create_user)

    api_key = commands.add_parser("api-key", help="manage API keys")
    key_commands = api_key.add_subparsers(required=True, metavar="ACTION")
    create = key_commands.add_parser("create", help="create a key; prints username:key")
    create.add_argument("email")
    create.set_defaults(handler=cmd_api_key_create)

    token = commands.add_parser("webhook-token", help="manage the webhook URL token")
    token_commands = token.add_subparsers(required=True, metavar="ACTION")
    rotate = token_commands.add_parser("rotate", help="new token; the old one stays valid too")
    rotate.set_defaults(handler=cmd_webhook_token_rotate)

    sim = commands.add_parser("simulator", help="standalone ClickSend-compatible simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8081)
    sim.add_argument("--push-inbound", metavar="URL", help="push inbound SMS to this webhook URL")
    sim.add_argument("--push-receipts", metavar="URL", help="push delivery receipts to this URL")
    sim.add_argument("--balance", type=_amount, default="100.000000", help="starting balance")
    _add_fault_flags(sim)
    sim.set_defaults(handler=cmd_simulator)

    worker = commands.add_parser(
        "worker", help="sender, pipeline, poller and account workers without the web server"
    )
    worker.set_defaults(handler=cmd_worker)
    return parser


def _add_fault_flags(sim: argparse.ArgumentParser) -> None:
    """Fault injection for tests and demos; every share is 0 unless given."""
    faults = sim.add_argument_group("fault injection (shares of POST /sms/send calls, 0..1)")
    faults.add_argument("--fail-429-rate", type=_share, default=0.0, help="answer 429")
    faults.add_argument("--retry-after", type=_seconds, default=1.0, help="429 Retry-After (s)")
    faults.add_argument("--fail-500-rate", type=_share, default=0.0, help="500, nothing accepted")
    faults.add_argument(
        "--fail-500-after-accept-rate", type=_share, default=0.0, help="accept, then answer 500"
    )
    faults.add_argument("--slow-rate", type=_share, default=0.0, help="accept, answer late")
    faults.add_argument("--slow-s", type=_seconds, default=35.0, help="how late (s)")
    faults.add_argument(
        "--receipt-jitter-s", type=_seconds, default=0.0, help="random extra receipt delay (s)"
    )
    faults.add_argument("--duplicate-push-rate", type=_share, default=0.0, help="push twice")
    faults.add_argument("--fault-seed", type=int, default=None, help="seed of the fault draws")


def _share(text: str) -> float:
    return _float_within(text, 0, 1, "a number", "is not a share from 0 to 1")


def _seconds(text: str) -> float:
    return _float_within(text, 0, 3600, "a number of seconds", "is outside 0..3600 seconds")


def _float_within(text: str, low: float, high: float, kind: str, outside: str) -> float:
    """``text`` as a float from ``low`` to ``high``; argparse shows the error as given."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{text} {outside}")
    return value


def _amount(text: str) -> str:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount")
    return text


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings(demo=args.demo, serving=True).with_overrides(
        host=args.host, port=args.port
    )
    if args.demo:
        schema.upgrade(settings.database_url)
        _run(_seed_demo(settings))
    else:
        _require_migrated(settings)
    from inbox.app import create_app

    print(f"smsdesk: inbox on http://{_display_host(args.host)}:{args.port}/", flush=True)
    app = create_app(settings, run_workers=not args.no_workers, check_account=True)
    if args.demo:
        _seed_demo_simulator(app)
    tune_gc()
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)
    return 0


def _seed_demo_simulator(app: web.Application) -> None:
    from inbox.demo import seed_simulator
    from inbox.keys import SERVICES

    simulator = app[SERVICES].simulator
    if simulator is not None:
        seed_simulator(simulator)


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a long-running server.

    Measured with bench/ingest.py: CPython's default thresholds (700, 10, 10) run
    collections often enough that their pauses dominate the webhook p99 (about
    50 ms at 64 concurrent pushes, 16 ms with this). The objects alive after
    start-up (modules, routes, templates) are frozen out of every collection.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104


def _require_migrated(settings: Settings) -> None:
    if not schema.is_up_to_date(settings.database_url):
        raise CommandError(
            "the database schema is missing or out of date; run `smsdesk migrate` first"
        )


async def _seed_demo(settings: Settings) -> None:
    from inbox.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo

    async with _session(settings) as session:
        created = await seed_demo(session)
    print(
        f"smsdesk demo: {'seeded demo data; ' if created else ''}"
        f"admin login {DEMO_EMAIL} / {DEMO_PASSWORD}",
        flush=True,
    )


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    schema.upgrade(settings.database_url)
    print(
        f"smsdesk: database is up to date (revision {schema.head_revision(settings.database_url)})"
    )
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    settings = load_settings()
    _require_migrated(settings)
    password = _read_password()
    from inbox.auth import AuthError, create_user

    async def create() -> None:
        async with _session(settings) as session:
            await create_user(session, args.email, password, Role(args.role), name=args.name)

    try:
        _run(create())
    except AuthError as exc:
        raise CommandError(str(exc)) from None
    print(f"smsdesk: created {args.role} {args.email.strip().lower()}")
    return 0


def _read_password() -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise CommandError("no password on standard input")
        return line.rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise CommandError("the passwords differ")
    return first


def cmd_api_key_create(args: argparse.Namespace) -> int:
    settings = load_settings()
    _require_migrated(settings)
    from inbox.auth import create_api_key, find_user

    async def create() -> tuple[str, str]:
        async with _session(settings) as session:
            user = await find_user(session, args.email)
            if user is None:
                raise CommandError(f"no user with email {args.email.strip().lower()}")
            return user.email, await create_api_key(session, user)

    username, key = _run(create())
    print("smsdesk: API key created; it is shown only once. Use it as Basic auth:")
    print(f"{username}:{key}")
    return 0


def cmd_webhook_token_rotate(args: argparse.Namespace) -> int:
    settings = load_settings()
    _require_migrated(settings)
    if settings.webhook_token:
        raise CommandError("SMSDESK_WEBHOOK_TOKEN is set; change that variable instead")

    async def rotate() -> str:
        async with _session(settings) as session:
            return await appsettings.rotate_webhook_token(session)

    token = _run(rotate())
    print("smsdesk: new webhook URLs (the previous token stays valid until the next rotation):")
    print(f"  inbound:  https://YOUR-HOST/webhooks/clicksend/{token}/inbound")
    print(f"  receipts: https://YOUR-HOST/webhooks/clicksend/{token}/receipts")
    print("Restart `smsdesk serve` to apply.")
    return 0


def cmd_simulator(args: argparse.Namespace) -> int:
    from bot.providers.simulator import SimulatorConfig, create_standalone_app
    from bot.providers.simulator_faults import check_faults

    settings = load_settings()
    config = SimulatorConfig(
        username=settings.clicksend_username,
        api_key=settings.clicksend_api_key,
        inbound_push_url=args.push_inbound,
        receipt_push_url=args.push_receipts,
        balance=args.balance,
        fail_429_rate=args.fail_429_rate,
        retry_after_s=args.retry_after,
        fail_500_rate=args.fail_500_rate,
        fail_500_after_accept_rate=args.fail_500_after_accept_rate,
        slow_rate=args.slow_rate,
        slow_s=args.slow_s,
        receipt_jitter_s=args.receipt_jitter_s,
        duplicate_push_rate=args.duplicate_push_rate,
        fault_seed=args.fault_seed,
    )
    try:
        check_faults(config)
    except ValueError as exc:
        raise CommandError(f"simulator: {exc}") from None
    print(f"smsdesk simulator: ClickSend v3 API on http://{args.host}:{args.port}/v3", flush=True)
    web.run_app(
        create_standalone_app(config), host=args.host, port=args.port, access_log=None, print=None
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    settings = load_settings(serving=True)
    _require_migrated(settings)
    _run(_worker(settings))
    return 0


async def _worker(settings: Settings) -> None:
    from inbox.app import create_app

    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    tune_gc()  # runs the cleanup contexts: database, provider, workers
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print("smsdesk worker: running; Ctrl-C to stop", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def _session(settings: Settings):
    engine = create_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        async with make_sessionmaker(engine).begin() as session:
            yield session
    finally:
        await engine.dispose()


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


if __name__ == "__main__":
    sys.exit(main())
