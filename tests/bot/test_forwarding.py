"""Rule forwards delivered by the worker: URL (post/get/json) and email, retries,
backoff, permanent failures; and the SMTP settings."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import json

import httpx
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from bot import ingest
from bot.config import ConfigError, SmtpSettings, SmtpTls, load_settings
from bot.db import utcnow
from bot.events import EventBus
from bot.forwarding import MAX_ATTEMPTS, backoff, clicksend_payload, forward_round
from bot.jobs import ForwardWorker
from bot.models import ConversationEvent, Forward, ForwardStatus, Message
from bot.providers.base import InboundSms

CUSTOMER = "+14155550101"
OURS = "+61411111111"


async def stored_message(engine, sessionmaker, body: str = "Where is order 42?") -> Message:
    sms = InboundSms("IN-1", CUSTOMER, OURS, body, timestamp=dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    async with engine.begin() as conn:
        (stored,) = await ingest.store_inbound_batch(
            conn, [ingest.normalize(sms, provider="clicksend", default_region="US")]
        )
    async with sessionmaker() as session:
        return await session.get_one(Message, stored.message_id)


async def add_forward(sessionmaker, message: Message, kind: str, target: str, method=None) -> int:
    async with sessionmaker.begin() as session:
        forward = Forward(
            message_id=message.id,
            kind=kind,
            target=target,
            method=method,
            payload=clicksend_payload(message, CUSTOMER, OURS),
        )
        session.add(forward)
        await session.flush()
        return forward.id


async def forward_row(sessionmaker, forward_id: int) -> Forward:
    async with sessionmaker() as session:
        return await session.get_one(Forward, forward_id)


async def make_due(sessionmaker) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(update(Forward).values(next_attempt_at=utcnow()))


async def events(sessionmaker) -> list[str]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(ConversationEvent.text))).all())


class Endpoint:
    """A local HTTP endpoint recording requests and answering from a script."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[dict] = []
        self.called = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            {
                "method": request.method,
                "content_type": request.content_type,
                "query": dict(request.query),
                "form": dict(await request.post()) if request.method == "POST" else {},
                "raw": await request.text(),
            }
        )
        self.called.set()
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return web.Response(status=status, text="ok")


@pytest.fixture
async def endpoint_factory(aiohttp_server):
    async def start(statuses: list[int]) -> tuple[Endpoint, str]:
        endpoint = Endpoint(statuses)
        app = web.Application()
        app.router.add_route("*", "/hook", endpoint.handle)
        server = await aiohttp_server(app, host="127.0.0.1")
        return endpoint, str(server.make_url("/hook"))

    return start


@pytest.fixture
async def http():
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


EXPECTED_FIELDS = {
    "timestamp": str(int(dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp())),
    "to": OURS,
    "from": CUSTOMER,
    "body": "Where is order 42?",
    "original_body": "",
    "original_message_id": "",
    "custom_string": "",
    "user_id": "",
    "subaccount_id": "",
    "message_id": "IN-1",
}


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        (
            "post",
            {
                "method": "POST",
                "content_type": "application/x-www-form-urlencoded",
                "query": {},
                "form": EXPECTED_FIELDS,
            },
        ),
        (
            "get",
            {"method": "GET", "content_type": "application/octet-stream", "query": EXPECTED_FIELDS},
        ),
        ("json", {"method": "POST", "content_type": "application/json", "json": EXPECTED_FIELDS}),
    ],
)
async def test_url_forward_sends_clicksend_fields_in_each_format(
    engine, sessionmaker, endpoint_factory, http, method, expected
):
    endpoint, url = await endpoint_factory([200])
    message = await stored_message(engine, sessionmaker)
    forward_id = await add_forward(sessionmaker, message, "url", url, method)
    assert await forward_round(sessionmaker, http, None) == 1
    (request,) = endpoint.requests
    raw = request.pop("raw")
    if method == "json":
        request = {k: request[k] for k in ("method", "content_type")} | {"json": json.loads(raw)}
    elif method == "get":
        del request["form"]
    assert request == expected
    row = await forward_row(sessionmaker, forward_id)
    assert (row.status, row.attempts, row.last_error) == (ForwardStatus.SENT, 1, None)
    assert await forward_round(sessionmaker, http, None) == 0


async def test_server_error_is_retried_with_backoff_then_sent(
    engine, sessionmaker, endpoint_factory, http
):
    endpoint, url = await endpoint_factory([500, 200])
    message = await stored_message(engine, sessionmaker)
    forward_id = await add_forward(sessionmaker, message, "url", url, "post")
    before = utcnow()
    assert await forward_round(sessionmaker, http, None) == 1
    row = await forward_row(sessionmaker, forward_id)
    assert (row.status, row.attempts, row.last_error) == (
        ForwardStatus.PENDING,
        1,
        f"HTTP 500 from {url}",
    )
    assert before + backoff(1) <= row.next_attempt_at <= utcnow() + backoff(1)
    assert await forward_round(sessionmaker, http, None) == 0  # not due yet
    await make_due(sessionmaker)
    assert await forward_round(sessionmaker, http, None) == 1
    row = await forward_row(sessionmaker, forward_id)
    assert (row.status, row.attempts, row.last_error) == (ForwardStatus.SENT, 2, None)
    assert len(endpoint.requests) == 2
    assert await events(sessionmaker) == []


async def test_forward_fails_after_max_attempts_with_an_event(
    engine, sessionmaker, endpoint_factory, http
):
    endpoint, url = await endpoint_factory([503])
    message = await stored_message(engine, sessionmaker)
    forward_id = await add_forward(sessionmaker, message, "url", url, "json")
    for _ in range(MAX_ATTEMPTS):
        await make_due(sessionmaker)
        assert await forward_round(sessionmaker, http, None) == 1
    row = await forward_row(sessionmaker, forward_id)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        ForwardStatus.FAILED,
        MAX_ATTEMPTS,
        None,
    )
    await make_due(sessionmaker)
    assert await forward_round(sessionmaker, http, None) == 0
    assert len(endpoint.requests) == MAX_ATTEMPTS
    assert await events(sessionmaker) == [
        f"forward to {url} failed after {MAX_ATTEMPTS} attempts: HTTP 503 from {url}"
    ]


async def test_client_error_fails_at_once(engine, sessionmaker, endpoint_factory, http):
    endpoint, url = await endpoint_factory([404])
    message = await stored_message(engine, sessionmaker)
    forward_id = await add_forward(sessionmaker, message, "url", url, "get")
    assert await forward_round(sessionmaker, http, None) == 1
    row = await forward_row(sessionmaker, forward_id)
    assert (row.status, row.attempts, row.last_error) == (
        ForwardStatus.FAILED,
        1,
        f"HTTP 404 from {url}",
    )
    assert await events(sessionmaker) == [
        f"forward to {url} failed after 1 attempt: HTTP 404 from {url}"
    ]


async def test_unreachable_endpoint_is_retried(engine, sessionmaker, http, unused_tcp_port):
    message = await stored_message(engine, sessionmaker)
    url = f"http://127.0.0.1:{unused_tcp_port}/hook"
    forward_id = await add_forward(sessionmaker, message, "url", url, "post")
    assert await forward_round(sessionmaker, http, None) == 1
    row = await forward_row(sessionmaker, forward_id)
    assert row.status is ForwardStatus.PENDING
    assert row.last_error.startswith("ConnectError")


async def test_a_claimed_forward_is_leased_not_claimed_twice(engine, sessionmaker, http):
    from bot.forwarding import claim_due

    message = await stored_message(engine, sessionmaker)
    await add_forward(sessionmaker, message, "url", "http://127.0.0.1:9/x", "post")
    async with sessionmaker.begin() as session:
        (job,) = await claim_due(session, utcnow())
    async with sessionmaker.begin() as session:
        assert await claim_due(session, utcnow()) == []
    async with sessionmaker.begin() as session:  # the lease ran out: a worker died
        assert [j.id for j in await claim_due(session, utcnow() + dt.timedelta(hours=1))] == [
            job.id
        ]


class Mailbox:
    def __init__(self, reply: str = "250 OK") -> None:
        self.reply = reply
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return self.reply


@pytest.fixture
def smtp_server(unused_tcp_port_factory):
    started = []

    def start(reply: str = "250 OK") -> tuple[Mailbox, SmtpSettings]:
        mailbox = Mailbox(reply)
        port = unused_tcp_port_factory()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port)
        controller.start()
        started.append(controller)
        settings = SmtpSettings(
            host="127.0.0.1", port=port, sender="smsdesk@example.com", tls=SmtpTls.NONE
        )
        return mailbox, settings

    yield start
    for controller in started:
        controller.stop()


async def test_email_forward_is_sent_through_smtp(engine, sessionmaker, http, smtp_server):
    mailbox, smtp = smtp_server()
    message = await stored_message(engine, sessionmaker, "Call me <b>now</b>")
    forward_id = await add_forward(sessionmaker, message, "email", "ops@example.com")
    assert await forward_round(sessionmaker, http, smtp) == 1
    ((sender, recipients, content),) = mailbox.messages
    assert (sender, recipients) == ("smsdesk@example.com", ["ops@example.com"])
    mail = email.message_from_bytes(content)
    assert mail["Subject"] == f"SMS from {CUSTOMER} to {OURS}"
    assert mail["To"] == "ops@example.com"
    text = mail.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert text.startswith("Call me <b>now</b>\n\nFrom: +14155550101\nTo: +61411111111\n")
    assert "Received: 2026-03-02 00:00:00 UTC" in text
    assert (await forward_row(sessionmaker, forward_id)).status is ForwardStatus.SENT


async def test_email_refused_permanently_fails_with_an_event(
    engine, sessionmaker, http, smtp_server
):
    mailbox, smtp = smtp_server("554 Transaction failed")
    message = await stored_message(engine, sessionmaker)
    forward_id = await add_forward(sessionmaker, message, "email", "ops@example.com")
    assert await forward_round(sessionmaker, http, smtp) == 1
    row = await forward_row(sessionmaker, forward_id)
    assert (row.status, row.last_error) == (ForwardStatus.FAILED, "SMTP 554: Transaction failed")
    assert await events(sessionmaker) == [
        "email forward to ops@example.com failed after 1 attempt: SMTP 554: Transaction failed"
    ]


async def test_email_temporary_refusal_is_retried(engine, sessionmaker, http, smtp_server):
    mailbox, smtp = smtp_server("451 Try again later")
    message = await stored_message(engine, sessionmaker)
    forward_id = await add_forward(sessionmaker, message, "email", "ops@example.com")
    assert await forward_round(sessionmaker, http, smtp) == 1
    row = await forward_row(sessionmaker, forward_id)
    assert (row.status, row.last_error) == (ForwardStatus.PENDING, "SMTP 451: Try again later")
    mailbox.reply = "250 OK"
    await make_due(sessionmaker)
    assert await forward_round(sessionmaker, http, smtp) == 1
    assert (await forward_row(sessionmaker, forward_id)).status is ForwardStatus.SENT
    assert len(mailbox.messages) == 2


async def test_email_without_smtp_settings_fails_naming_the_variable(engine, sessionmaker, http):
    message = await stored_message(engine, sessionmaker)
    forward_id = await add_forward(sessionmaker, message, "email", "ops@example.com")
    assert await forward_round(sessionmaker, http, None) == 1
    row = await forward_row(sessionmaker, forward_id)
    assert (row.status, row.last_error) == (
        ForwardStatus.FAILED,
        "SMTP is not configured (set SMSDESK_SMTP_HOST)",
    )


async def test_worker_loop_delivers_when_woken(engine, sessionmaker, endpoint_factory, http):
    from bot import events as topics

    endpoint, url = await endpoint_factory([200])
    message = await stored_message(engine, sessionmaker)
    bus = EventBus()
    task = asyncio.create_task(ForwardWorker(sessionmaker, bus, http).run())
    try:
        await asyncio.sleep(0.05)
        await add_forward(sessionmaker, message, "url", url, "post")
        bus.publish(topics.FORWARD_QUEUED)
        async with asyncio.timeout(5):
            await endpoint.called.wait()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(endpoint.requests) == 1


def test_backoff_doubles_up_to_an_hour():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 7, 8, 20)] == [
        30,
        60,
        120,
        1920,
        3600,
        3600,
    ]


SMTP = {"SMSDESK_SMTP_HOST": "mail.example.com", "SMSDESK_SMTP_FROM": "Desk <desk@example.com>"}


def test_smtp_settings_are_read():
    env = {
        **SMTP,
        "SMSDESK_SMTP_PORT": "465",
        "SMSDESK_SMTP_USERNAME": "desk",
        "SMSDESK_SMTP_PASSWORD": "secret",
        "SMSDESK_SMTP_TLS": "SSL",
    }
    assert load_settings(env, demo=True).smtp == SmtpSettings(
        host="mail.example.com",
        port=465,
        username="desk",
        password="secret",
        sender="Desk <desk@example.com>",
        tls=SmtpTls.SSL,
    )
    assert load_settings(SMTP, demo=True).smtp == SmtpSettings(
        host="mail.example.com", sender="Desk <desk@example.com>"
    )
    assert load_settings({}, demo=True).smtp is None


@pytest.mark.parametrize(
    ("env", "variable", "problem"),
    [
        ({"SMSDESK_SMTP_FROM": "a@example.com"}, "SMSDESK_SMTP_HOST", "required when"),
        ({"SMSDESK_SMTP_HOST": "mail.example.com"}, "SMSDESK_SMTP_FROM", "required when"),
        ({**SMTP, "SMSDESK_SMTP_FROM": "desk"}, "SMSDESK_SMTP_FROM", "not an email address"),
        ({**SMTP, "SMSDESK_SMTP_PORT": "0"}, "SMSDESK_SMTP_PORT", "not a port number"),
        ({**SMTP, "SMSDESK_SMTP_PORT": "smtp"}, "SMSDESK_SMTP_PORT", "not a port number"),
        ({**SMTP, "SMSDESK_SMTP_TLS": "yes"}, "SMSDESK_SMTP_TLS", "not one of: starttls, ssl"),
        ({**SMTP, "SMSDESK_SMTP_USERNAME": "desk"}, "SMSDESK_SMTP_PASSWORD", "go together"),
        ({**SMTP, "SMSDESK_SMTP_PASSWORD": "pw"}, "SMSDESK_SMTP_USERNAME", "go together"),
        ({**SMTP, "SMSDESK_SMTP_HOST": "smtp://mail"}, "SMSDESK_SMTP_HOST", "not a host name"),
    ],
)
def test_bad_smtp_settings_name_the_variable(env, variable, problem):
    with pytest.raises(ConfigError, match=problem) as caught:
        load_settings(env, demo=True)
    assert caught.value.variable == variable
