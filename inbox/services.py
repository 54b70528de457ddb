"""The long-lived objects of one running process, built by inbox/app.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot import events
from bot.account import AccountState
from bot.config import Settings
from bot.db import NO_TURNS, WriteTurns
from bot.events import EventBus
from bot.groupcommit import GroupCommitWriter
from bot.providers.base import SmsProvider
from bot.sender import SenderState
from bot.sender_id import DefaultSender


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker
    bus: EventBus = field(default_factory=EventBus)
    webhook_tokens: tuple[str, ...] = ()
    secret_key: str = ""
    writer: GroupCommitWriter | None = None
    http: httpx.AsyncClient | None = None
    provider: SmsProvider | None = None
    clicksend_account: str = ""  # the provider account's API username
    sender_state: SenderState = field(default_factory=SenderState)
    account: AccountState = field(default_factory=AccountState)
    default_sender: DefaultSender = field(default_factory=DefaultSender)
    simulator: object | None = None  # SimulatorState in demo mode
    turns: WriteTurns = NO_TURNS

    def notify_outbox(self) -> None:
        """Wake the sender; call after the transaction that queued messages committed."""
        self.bus.publish(events.OUTBOX_QUEUED)
