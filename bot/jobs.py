"""Worker loops: the pipeline (inbound), the sender and the reconciler (outbound),
the poller, the account check and the forwarder.

Each loop runs one round, goes straight on while there is work, and otherwise
sleeps until its topic is published or a poll interval passes (a safety net for
wake-ups from other processes). An unexpected error is logged and retried after
a pause; it never ends the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot import appsettings, compliance_settings, events
from bot.account import CHECK_INTERVAL_S, AccountState, check_account
from bot.config import SmtpSettings
from bot.db import NO_TURNS, WriteTurns, make_sessionmaker
from bot.forwarding import forward_round
from bot.groupcommit import GroupCommitWriter
from bot.pipeline import (
    HANDLED_KIND,
    handle_inbound,
    mark_handled,
    pending_inbound,
    steps_with,
    triage,
)
from bot.poller import Poller
from bot.providers.base import ProviderError, SmsProvider
from bot.ratelimit import TokenBucket
from bot.reconciler import ReconcilePolicy, reconcile_round
from bot.rule_engine import RuleBookCache, RulesStep
from bot.sender import UNKNOWN_FIRST_CHECK_S, SenderState, send_round
from bot.sender_id import DefaultSender

log = logging.getLogger(__name__)

PIPELINE_RETRY_S = 30.0
PIPELINE_GATHER_S = 0.05


async def run_loop(
    name: str,
    round_: Callable[[], Awaitable[int]],
    bus: events.EventBus,
    topic: str,
    idle_s: float = 1.0,
    gather_s: float = 0.0,
    full: int | None = None,
) -> None:
    """``gather_s``: a pause after a busy round, so that under load work arrives
    in larger batches instead of one round per trickle. A round that did ``full``
    items or more left a backlog: the next one starts at once (after one pass of
    the event loop), so a backlog drains at the rate the work itself allows."""
    while True:
        try:
            done = await round_()
        except Exception:
            log.exception("%s round failed; retrying shortly", name)
            await asyncio.sleep(idle_s)
            continue
        if not done:
            await bus.wait(topic, idle_s)
        elif full is not None and done >= full:
            await asyncio.sleep(0)
        elif gather_s:
            await asyncio.sleep(gather_s)


@dataclass
class PipelineWorker:
    """Handles pending inbound messages: quiet ones in bulk, the rest one by one."""

    sessionmaker: async_sessionmaker
    bus: events.EventBus
    turns: WriteTurns = NO_TURNS
    # With a group-commit writer, quiet messages are marked handled in the writer's
    # next batch: no second writing connection competes with the webhooks.
    writer: GroupCommitWriter | None = None
    _failed_until: dict[int, float] = field(default_factory=dict)
    # The keyword rules compiled once per rules_version, shared by triage and the step.
    rulebooks: RuleBookCache = field(default_factory=RuleBookCache)
    batch_limit: int = 500

    def __post_init__(self) -> None:
        self._reader = make_sessionmaker(self.sessionmaker.kw["bind"], read_only=True)
        self._steps = steps_with(RulesStep(self.rulebooks))

    async def round(self) -> int:
        async with self._reader() as session:
            batch = await pending_inbound(session, limit=self.batch_limit)
            if not batch:
                return 0
            vocabulary = (await compliance_settings.load(session)).vocabulary()
            matcher = (await self.rulebooks.get(session)).matcher
        now = time.monotonic()
        due = [item for item in batch if self._failed_until.get(item.id, 0) <= now]
        quiet, actionable = triage(due, vocabulary, matcher)
        if quiet:
            await self._mark_handled(quiet)
            self.bus.publish(events.MESSAGE_UPDATED, None)
        for message_id in actionable:
            await self._handle(message_id)
        return len(due)

    async def _mark_handled(self, quiet: list[int]) -> None:
        if self.writer is not None:
            await self.writer.submit(HANDLED_KIND, quiet)
            return
        async with self.turns.turn(), self.sessionmaker.begin() as session:
            await mark_handled(session, quiet)

    async def _handle(self, message_id: int) -> None:
        try:
            async with self.turns.turn(), self.sessionmaker.begin() as session:
                handled = await handle_inbound(session, message_id, self._steps)
        except Exception:
            log.exception("handling inbound message %d failed; it stays pending", message_id)
            self._failed_until[message_id] = time.monotonic() + PIPELINE_RETRY_S
            return
        self._failed_until.pop(message_id, None)
        if handled:  # a rule may have queued replies or forwards: wake their workers
            self.bus.publish(events.MESSAGE_UPDATED, message_id)
            self.bus.publish(events.OUTBOX_QUEUED)
            self.bus.publish(events.FORWARD_QUEUED)

    async def run(self) -> None:
        await run_loop(
            "pipeline",
            self.round,
            self.bus,
            events.INBOUND_STORED,
            gather_s=PIPELINE_GATHER_S,
            full=self.batch_limit,
        )


@dataclass
class SenderWorker:
    sessionmaker: async_sessionmaker
    bus: events.EventBus
    provider: SmsProvider
    # The saved setting, else SMSDESK_SENDER_ID; read every round (it may change live).
    default_sender: DefaultSender = field(default_factory=DefaultSender)
    state: SenderState = field(default_factory=SenderState)
    turns: WriteTurns = NO_TURNS
    # The process's messages-per-second budget (None: unlimited).
    bucket: TokenBucket | None = None
    batch_size: int = 1000
    unknown_check_s: float = UNKNOWN_FIRST_CHECK_S

    async def round(self) -> int:
        sent = await send_round(
            self.sessionmaker,
            self.provider,
            state=self.state,
            default_sender=self.default_sender.value,
            turns=self.turns,
            bucket=self.bucket,
            batch_size=self.batch_size,
            unknown_check_s=self.unknown_check_s,
        )
        if sent:
            self.bus.publish(events.MESSAGE_UPDATED, None)
        return sent

    async def run(self) -> None:
        await run_loop("sender", self.round, self.bus, events.OUTBOX_QUEUED, idle_s=0.5)


POLL_BACKOFF_MAX_S = 300.0
ACCOUNT_RETRY_S = 5.0


@dataclass
class PollerWorker:
    """Pulls inbound messages and receipts every ``interval_s`` (SMSDESK_POLL_INTERVAL_S).

    A failed round is logged and the pause doubles (up to five minutes) until a
    round succeeds; nothing is marked read that was not stored, so a failure
    only delays messages.
    """

    poller: Poller
    interval_s: float
    failures: int = 0

    async def run(self) -> None:
        while True:
            await self.round()
            await asyncio.sleep(self.delay_s())

    async def round(self) -> None:
        try:
            await self.poller.round()
        except ProviderError as exc:
            self.failures += 1
            log.warning("poll round failed (%d in a row): %s", self.failures, exc)
        except Exception:
            self.failures += 1
            log.exception("poll round failed (%d in a row)", self.failures)
        else:
            self.failures = 0

    def delay_s(self) -> float:
        if not self.failures:
            return self.interval_s
        return max(self.interval_s, min(self.interval_s * 2.0**self.failures, POLL_BACKOFF_MAX_S))


@dataclass
class AccountWorker:
    """Checks the provider account every minute (balance, standing; resumes a paused
    sender) and reloads the saved default sender id, so a change made in another
    process applies here within a minute."""

    provider: SmsProvider
    sessionmaker: async_sessionmaker
    bus: events.EventBus
    account: AccountState
    sender_state: SenderState
    default_sender: DefaultSender
    interval_s: float = CHECK_INTERVAL_S
    # The demo's simulator is served by the same web server, which starts listening
    # only after the workers start: the first check waits for it.
    first_check_after_s: float = 0.0

    async def round(self) -> None:
        if await check_account(self.provider, self.account, self.sender_state):
            self.bus.publish(events.OUTBOX_QUEUED)
        async with self.sessionmaker() as session:
            self.default_sender.saved = await appsettings.find(session, appsettings.SENDER_ID)

    async def run(self) -> None:
        await asyncio.sleep(self.first_check_after_s)
        failures = 0
        while True:
            try:
                await self.round()
            except Exception:
                log.exception("account check round failed")
            failures = failures + 1 if self.account.error else 0
            await asyncio.sleep(self.delay_s(failures))

    def delay_s(self, failures: int) -> float:
        """A failed check is retried sooner (5, 10, 20, 40 s), never later than the interval."""
        if not failures:
            return self.interval_s
        return min(self.interval_s, ACCOUNT_RETRY_S * 2.0 ** (failures - 1))


@dataclass
class ReconcilerWorker:
    """Looks up ``unknown`` messages in the provider's history (bot/reconciler)."""

    sessionmaker: async_sessionmaker
    bus: events.EventBus
    provider: SmsProvider
    policy: ReconcilePolicy = field(default_factory=ReconcilePolicy)
    turns: WriteTurns = NO_TURNS

    async def round(self) -> int:
        changed = await reconcile_round(
            self.sessionmaker, self.provider, policy=self.policy, turns=self.turns
        )
        if changed:
            self.bus.publish(events.MESSAGE_UPDATED, None)
            self.bus.publish(events.OUTBOX_QUEUED)  # re-sends are due
        return changed

    async def run(self) -> None:
        # Nothing publishes to this loop's topic: it polls every interval_s.
        await run_loop(
            "reconciler", self.round, self.bus, RECONCILE_TOPIC, idle_s=self.policy.interval_s
        )


RECONCILE_TOPIC = "outbox.reconcile"


@dataclass
class ForwardWorker:
    """Delivers rule forwards (URL, email); polls for retries that come due."""

    sessionmaker: async_sessionmaker
    bus: events.EventBus
    http: httpx.AsyncClient
    smtp: SmtpSettings | None = None
    turns: WriteTurns = NO_TURNS

    async def round(self) -> int:
        return await forward_round(self.sessionmaker, self.http, self.smtp, turns=self.turns)

    async def run(self) -> None:
        await run_loop("forwarder", self.round, self.bus, events.FORWARD_QUEUED, idle_s=5.0)
