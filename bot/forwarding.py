"""Deliver rule forwards (to a URL or by email) with retries and backoff.

The pipeline only inserts :class:`~bot.models.Forward` rows, in the transaction
that handles the message; this module delivers them later, from a worker, so a
slow or broken endpoint never holds up ingest or the pipeline.

A round claims due rows (``pending`` whose ``next_attempt_at`` has passed),
counts the attempt and leases the row for a while, and commits; then it delivers
without a transaction open, and records each outcome: ``sent``; back to
``pending`` with an exponential backoff; or ``failed`` with ``last_error`` and a
line in the conversation when the error is permanent or the attempts are used
up. A worker that dies mid-delivery leaves the lease to expire, and the row is
tried again.

URL forwards carry ClickSend's push fields (``timestamp``, ``to``, ``from``,
``body``, ``message_id``, …) so an endpoint written for ClickSend's URL action
works unchanged: ``post`` sends them form-encoded, ``get`` as a query string,
``json`` as a JSON body.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import SmtpSettings, SmtpTls
from bot.db import NO_TURNS, WriteTurns, utcnow
from bot.models import ConversationEvent, Forward, ForwardStatus, Message

MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0
LEASE_S = 120.0
BATCH = 20
URL_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
SMTP_TIMEOUT_S = 30.0
RETRYABLE_STATUSES = frozenset({408, 425, 429})
MAX_ERROR = 500


class DeliveryFailed(Exception):
    """One attempt failed; ``permanent`` when retrying cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    conversation_id: int
    kind: str
    target: str
    method: str | None
    payload: dict[str, Any]
    attempts: int


def clicksend_payload(message: Message, from_number: str, our_number: str) -> dict[str, str]:
    """The fields ClickSend's URL action sends for an inbound message."""
    received = message.provider_timestamp or message.created_at or utcnow()
    return {
        "timestamp": str(int(received.timestamp())),
        "to": our_number,
        "from": from_number,
        "body": message.body,
        "original_body": "",
        "original_message_id": "",
        "custom_string": "",
        "user_id": "",
        "subaccount_id": "",
        "message_id": message.provider_message_id or str(message.id),
    }


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next attempt, after ``attempts`` failed ones: 30 s, 60 s, … 1 h."""
    return dt.timedelta(seconds=min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_CAP_S))


async def forward_round(
    sessionmaker: async_sessionmaker,
    http: httpx.AsyncClient,
    smtp: SmtpSettings | None,
    *,
    now: dt.datetime | None = None,
    turns: WriteTurns = NO_TURNS,
) -> int:
    """Claim, deliver and record one batch of due forwards; return how many ran."""
    async with turns.turn(), sessionmaker.begin() as session:
        jobs = await claim_due(session, now or utcnow())
    if not jobs:
        return 0
    outcomes = await asyncio.gather(*(attempt(job, http, smtp) for job in jobs))
    async with turns.turn(), sessionmaker.begin() as session:
        for job, failure in zip(jobs, outcomes, strict=True):
            await record(session, job, failure)
    return len(jobs)


async def claim_due(session: AsyncSession, now: dt.datetime, limit: int = BATCH) -> list[Job]:
    rows = (
        await session.execute(
            select(Forward, Message.conversation_id)
            .join(Message, Forward.message_id == Message.id)
            .where(
                Forward.status == ForwardStatus.PENDING,
                or_(Forward.next_attempt_at.is_(None), Forward.next_attempt_at <= now),
            )
            .order_by(Forward.id)
            .limit(limit)
            .with_for_update(of=Forward, skip_locked=True)
        )
    ).all()
    jobs = []
    for forward, conversation_id in rows:
        forward.attempts += 1
        forward.next_attempt_at = now + dt.timedelta(seconds=LEASE_S)
        jobs.append(_job(forward, conversation_id))
    return jobs


def _job(forward: Forward, conversation_id: int) -> Job:
    return Job(
        forward.id,
        conversation_id,
        forward.kind,
        forward.target,
        forward.method,
        dict(forward.payload or {}),
        forward.attempts,
    )


async def attempt(
    job: Job, http: httpx.AsyncClient, smtp: SmtpSettings | None
) -> DeliveryFailed | None:
    """Deliver once; return the failure (never raise for a delivery problem)."""
    try:
        if job.kind == "url":
            await deliver_url(http, job)
        elif job.kind == "email":
            await deliver_email(smtp, job)
        else:
            raise DeliveryFailed(f"unknown forward kind {job.kind!r}", permanent=True)
    except DeliveryFailed as failure:
        return failure
    return None


async def deliver_url(http: httpx.AsyncClient, job: Job) -> None:
    fields = {k: str(v) for k, v in job.payload.items()}
    method = job.method or "post"
    try:
        if method == "get":
            response = await http.get(job.target, params=fields, timeout=URL_TIMEOUT)
        elif method == "json":
            response = await http.post(job.target, json=fields, timeout=URL_TIMEOUT)
        elif method == "post":
            response = await http.post(job.target, data=fields, timeout=URL_TIMEOUT)
        else:
            raise DeliveryFailed(f"unknown method {method!r}", permanent=True)
    except httpx.InvalidURL as exc:
        raise DeliveryFailed(f"invalid URL: {exc}", permanent=True) from None
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
    if response.is_success:
        return
    permanent = response.is_client_error and response.status_code not in RETRYABLE_STATUSES
    raise DeliveryFailed(f"HTTP {response.status_code} from {job.target}", permanent=permanent)


async def deliver_email(smtp: SmtpSettings | None, job: Job) -> None:
    if smtp is None:
        raise DeliveryFailed("SMTP is not configured (set SMSDESK_SMTP_HOST)", permanent=True)
    try:
        email = compose_email(smtp.sender, job.target, job.payload)
    except ValueError as exc:
        raise DeliveryFailed(f"cannot build the email: {exc}", permanent=True) from None
    try:
        await aiosmtplib.send(
            email,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password,
            use_tls=smtp.tls is SmtpTls.SSL,
            start_tls=smtp.tls is SmtpTls.STARTTLS,
            timeout=SMTP_TIMEOUT_S,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailed(f"recipient refused: {exc}", permanent=True) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise DeliveryFailed(f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500) from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None


def compose_email(sender: str, to: str, payload: dict[str, Any]) -> EmailMessage:
    """A plain-text email of the inbound SMS (the body is the customer's text, as is)."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = to
    email["Subject"] = f"SMS from {payload.get('from', '')} to {payload.get('to', '')}"
    received = dt.datetime.fromtimestamp(int(payload.get("timestamp") or 0), dt.UTC)
    email.set_content(
        f"{payload.get('body', '')}\n\n"
        f"From: {payload.get('from', '')}\n"
        f"To: {payload.get('to', '')}\n"
        f"Received: {received:%Y-%m-%d %H:%M:%S} UTC\n"
        f"Message ID: {payload.get('message_id', '')}\n"
    )
    return email


async def record(session: AsyncSession, job: Job, failure: DeliveryFailed | None) -> None:
    forward = await session.get_one(Forward, job.id)
    if failure is None:
        forward.status = ForwardStatus.SENT
        forward.last_error = None
        forward.next_attempt_at = None
        return
    forward.last_error = str(failure)[:MAX_ERROR]
    if failure.permanent or job.attempts >= MAX_ATTEMPTS:
        forward.status = ForwardStatus.FAILED
        forward.next_attempt_at = None
        session.add(_failure_event(job, forward.last_error))
    else:
        forward.next_attempt_at = utcnow() + backoff(job.attempts)


def _failure_event(job: Job, error: str) -> ConversationEvent:
    where = f"forward to {job.target}" if job.kind == "url" else f"email forward to {job.target}"
    tries = "1 attempt" if job.attempts == 1 else f"{job.attempts} attempts"
    return ConversationEvent(
        conversation_id=job.conversation_id,
        kind="forward",
        text=f"{where} failed after {tries}: {error}",
    )
