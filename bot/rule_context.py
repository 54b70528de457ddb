"""What a keyword rule sees while it runs: the message, its thread and sender,
the time, the bot settings, and whether this is a dry run.

Conditions and actions read and (outside a dry run) change the database through
``session``; a dry run (the workbench's "try a message") reads only, and the
contact or conversation may not exist yet for a number that never texted us.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.bot_settings import BotSettings
from bot.matching import Match
from bot.models import Contact, Conversation, ConversationEvent, Message, Rule

RULE_EVENT = "rule"


class ActionSkipped(Exception):
    """The action could not run (a bad reference, a cooldown); the message goes on.
    A ``quiet`` skip writes no line in the thread (one was written already)."""

    def __init__(self, reason: str, *, quiet: bool = False) -> None:
        super().__init__(reason)
        self.quiet = quiet


class NeedsAgent(Exception):
    """The action could not run and a person should look (a failed render, the
    reply cap); the conversation is flagged with the reason."""


@dataclass
class RuleContext:
    session: AsyncSession
    body: str
    phone_number: str
    our_number: str
    now: dt.datetime
    settings: BotSettings
    message: Message | None = None  # None in a dry run
    contact: Contact | None = None  # None in a dry run for a number we do not know
    conversation: Conversation | None = None
    dry_run: bool = False
    replies: list[str] = field(default_factory=list)  # rendered bot replies, in order
    queued_replies: int = 0  # bot replies this message queued (or would queue, dry run)

    def event(self, text: str, kind: str = RULE_EVENT) -> None:
        """A system line in the thread (nothing in a dry run)."""
        if self.dry_run or self.conversation is None:
            return
        self.session.add(
            ConversationEvent(conversation_id=self.conversation.id, kind=kind, text=text)
        )

    def flag_for_agent(self, reason: str) -> None:
        if self.dry_run or self.conversation is None:
            return
        self.conversation.needs_agent = True
        self.conversation.needs_agent_reason = reason


@dataclass(frozen=True, slots=True)
class Fired:
    """A rule that matched and passed its conditions, with the match that chose it."""

    rule_id: int
    name: str
    cooldown_s: int
    match: Match

    @classmethod
    def of(cls, rule: Rule, match: Match) -> Fired:
        return cls(rule.id, rule.name, rule.cooldown_s, match)
