"""Worker loops: the pipeline (inbound), the sender (outbound) and the forwarder.

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

from bot import compliance_settings, events
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
from bot.providers.base import SmsProvider
from bot.rule_engine import RuleBookCache, RulesStep
from bot.sender import SenderState, send_round

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
) -> None:
    """``gather_s``: a pause after a busy round, so that under load work arrives
    in larger batches instead of one round per trickle."""
    while True:
        try:
            done = await round_()
        except Exception:
            log.exception("%s round failed; retrying shortly", name)
            await asyncio.sleep(idle_s)
            continue
        if not done:
            await bus.wait(topic, idle_s)
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

    def __post_init__(self) -> None:
        self._reader = make_sessionmaker(self.sessionmaker.kw["bind"], read_only=True)
        self._steps = steps_with(RulesStep(self.rulebooks))

    async def round(self) -> int:
        async with self._reader() as session:
            batch = await pending_inbound(session, limit=500)
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
            "pipeline", self.round, self.bus, events.INBOUND_STORED, gather_s=PIPELINE_GATHER_S
        )


@dataclass
class SenderWorker:
    sessionmaker: async_sessionmaker
    bus: events.EventBus
    provider: SmsProvider
    default_sender: str | None = None
    state: SenderState = field(default_factory=SenderState)
    turns: WriteTurns = NO_TURNS

    async def round(self) -> int:
        sent = await send_round(
            self.sessionmaker,
            self.provider,
            state=self.state,
            default_sender=self.default_sender,
            turns=self.turns,
        )
        if sent:
            self.bus.publish(events.MESSAGE_UPDATED, None)
        return sent

    async def run(self) -> None:
        await run_loop("sender", self.round, self.bus, events.OUTBOX_QUEUED, idle_s=0.5)


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
