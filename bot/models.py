"""Tables. States are StrEnum values stored as text.

Message lifecycle (one table for both directions; the outbox is a query over
outbound message status, not a second table):

- inbound:  ``pending`` (stored and acknowledged) → ``handled`` (pipeline ran).
- outbound: ``queued`` → ``sending`` (claimed by the sender, committed before the
  provider call) → ``sent`` (provider accepted, id known) → ``delivered``;
  or ``retrying`` (temporary error, ``next_attempt_at`` set) → back to ``sending``;
  or ``unknown`` (the provider may have accepted it: a timeout, a 5xx, a cut-off
  answer, or a crash left it ``sending`` too long) → bot/reconciler looks it up in
  the provider's history from ``next_attempt_at`` on: found → ``sent``, absent
  after a grace period → ``retrying`` (sent again);
  or ``failed`` (permanent error or undelivered receipt, ``error_text`` says why);
  ``suppressed`` when the send gate refuses it (opted out); ``cancelled`` by a person.
  For outbound messages ``provider_timestamp`` is when the latest attempt was handed
  to the provider (set at claim time); it bounds the history lookup of ``unknown``.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, EnumText, utcnow


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


class MessageStatus(enum.StrEnum):
    PENDING = "pending"
    HANDLED = "handled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    UNKNOWN = "unknown"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


OUTBOX_STATUSES = (MessageStatus.QUEUED, MessageStatus.RETRYING)


class MessagePurpose(enum.StrEnum):
    """Why an outbound message exists; the send gate and the sender's order depend on it."""

    AGENT_REPLY = "agent_reply"
    API = "api"
    BOT_REPLY = "bot_reply"
    FORWARD = "forward"
    CAMPAIGN = "campaign"
    OPT_OUT_CONFIRMATION = "opt_out_confirmation"
    OPT_IN_CONFIRMATION = "opt_in_confirmation"
    HELP = "help"
    INBOUND = "inbound"


# Lower goes first: compliance texts (the 5-minute STOP confirmation) ahead of
# conversation replies, ahead of bulk campaign traffic.
PRIORITY = {
    MessagePurpose.OPT_OUT_CONFIRMATION: 0,
    MessagePurpose.OPT_IN_CONFIRMATION: 0,
    MessagePurpose.HELP: 0,
    MessagePurpose.CAMPAIGN: 2,
}
DEFAULT_PRIORITY = 1


class ConsentKind(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


class ConsentMethod(enum.StrEnum):
    KEYWORD = "keyword"  # the customer texted STOP / START
    AGENT = "agent"  # an agent confirmed a possible opt-out
    ADMIN = "admin"  # an admin recorded consent or an opt-out by hand, with a reason
    IMPORT = "import"  # imported from a list
    API = "api"
    PROVIDER = "provider"  # the provider reported the recipient unsubscribed


class ConversationStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Role(enum.StrEnum):
    ADMIN = "admin"
    AGENT = "agent"


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_number: Mapped[str] = mapped_column(String(20), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.phone_number


class Conversation(Base):
    """One thread per customer number × our number."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("contact_id", "our_number"),
        Index("ix_conversations_last_message", "last_message_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    our_number: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[ConversationStatus] = mapped_column(
        EnumText(ConversationStatus), default=ConversationStatus.OPEN
    )
    unread_count: Mapped[int] = mapped_column(default=0)
    possible_opt_out: Mapped[bool] = mapped_column(default=False)
    possible_opt_out_at: Mapped[dt.datetime | None] = mapped_column()
    last_message_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    assigned_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # Left for a person: a bot storm cap tripped, a reply template failed to render …
    needs_agent: Mapped[bool] = mapped_column(default=False, server_default=false())
    needs_agent_reason: Mapped[str | None] = mapped_column(Text)

    contact: Mapped[Contact] = relationship(lazy="raise")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("provider", "provider_message_id"),
        Index("ix_messages_conversation", "conversation_id", "id"),
        Index("ix_messages_status_next", "status", "next_attempt_at"),
        Index("ix_messages_outbox", "status", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[Direction] = mapped_column(EnumText(Direction))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[MessageStatus] = mapped_column(EnumText(MessageStatus))
    purpose: Mapped[MessagePurpose] = mapped_column(
        EnumText(MessagePurpose, 32), default=MessagePurpose.INBOUND, server_default="inbound"
    )
    priority: Mapped[int] = mapped_column(default=DEFAULT_PRIORITY, server_default="1")
    consent_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("consent_events.id", ondelete="RESTRICT", use_alter=True), unique=True
    )
    provider: Mapped[str] = mapped_column(String(32), default="clicksend")
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    custom_string: Mapped[str | None] = mapped_column(String(255))
    parts: Mapped[int] = mapped_column(default=1)
    error_text: Mapped[str | None] = mapped_column(Text)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    provider_timestamp: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    conversation: Mapped[Conversation] = relationship(lazy="raise")


class OptOut(Base):
    """A number that must not be messaged. ``our_number`` '' means every number of ours."""

    __tablename__ = "opt_outs"
    __table_args__ = (UniqueConstraint("phone_number", "our_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_number: Mapped[str] = mapped_column(String(20))
    our_number: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConsentEvent(Base):
    """Append-only evidence of every opt-in and opt-out (database triggers refuse
    UPDATE and DELETE). ``scope`` is '' for all our numbers or one number of ours."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_phone", "phone_number", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_number: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(String(20), default="")
    kind: Mapped[ConsentKind] = mapped_column(EnumText(ConsentKind))
    method: Mapped[ConsentMethod] = mapped_column(EnumText(ConsentMethod))
    keyword: Mapped[str | None] = mapped_column(String(64))
    raw_text: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="RESTRICT"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reason: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConversationEvent(Base):
    """A system line in a thread: "opted out by STOP", "rule PRICE replied"."""

    __tablename__ = "conversation_events"
    __table_args__ = (Index("ix_conversation_events_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[Role] = mapped_column(EnumText(Role))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """Keys are 256-bit random strings; only their SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column()

    user: Mapped[User] = relationship(lazy="raise")


class AppSetting(Base):
    """Small key/value store for generated secrets (demo secret key, webhook tokens)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ContactTag(Base):
    __tablename__ = "contact_tags"
    __table_args__ = (Index("ix_contact_tags_tag", "tag"),)

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)


class ContactList(Base):
    """A named list of contacts (ClickSend's contact lists): rule conditions and
    actions, campaign audiences."""

    __tablename__ = "contact_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ContactListMember(Base):
    __tablename__ = "contact_list_members"
    __table_args__ = (Index("ix_contact_list_members_contact", "contact_id"),)

    list_id: Mapped[int] = mapped_column(
        ForeignKey("contact_lists.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConversationLabel(Base):
    __tablename__ = "conversation_labels"
    __table_args__ = (Index("ix_conversation_labels_label", "label"),)

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(50), primary_key=True)


class MessageTemplate(Base):
    """A named message template (ClickSend's /sms/templates shape) shared by rules,
    agents' canned replies and campaigns."""

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Rule(Base):
    """A keyword rule. ``numbers`` empty means every number of ours ('*');
    ``match_type`` is a :class:`bot.matching.MatchType` value; ``conditions`` and
    ``actions`` are lists of plain JSON objects validated by :mod:`bot.rules`."""

    __tablename__ = "rules"
    __table_args__ = (Index("ix_rules_order", "enabled", "priority", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(default=True)
    priority: Mapped[int] = mapped_column(default=100)
    numbers: Mapped[list[str]] = mapped_column(JSON, default=list)
    match_type: Mapped[str] = mapped_column(String(20))
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    continue_matching: Mapped[bool] = mapped_column(default=False)
    cooldown_s: Mapped[int] = mapped_column(default=300)
    hit_count: Mapped[int] = mapped_column(default=0)
    last_hit_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RuleCooldown(Base):
    """When a rule last replied to a number: a rule replies at most once per cooldown."""

    __tablename__ = "rule_cooldowns"

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("rules.id", ondelete="CASCADE"), primary_key=True
    )
    phone_number: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_fired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ForwardStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Forward(Base):
    """A message to forward to a URL or by email, delivered by a worker with retries
    (never inline in ingest or the pipeline transaction)."""

    __tablename__ = "forwards"
    __table_args__ = (Index("ix_forwards_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(10))  # url | email
    target: Mapped[str] = mapped_column(Text)
    method: Mapped[str | None] = mapped_column(String(10))  # post | get | json for URLs
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[ForwardStatus] = mapped_column(
        EnumText(ForwardStatus), default=ForwardStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
