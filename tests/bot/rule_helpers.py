"""Small helpers for keyword-rule tests: rules and templates straight through the
ORM (bumping rules_version as a rule change does), inbound messages through ingest
and the pipeline, and readers for what the engine wrote."""

from __future__ import annotations

import itertools

from sqlalchemy import func, select

from bot import ingest
from bot.bot_settings import bump_rules_version
from bot.models import (
    Conversation,
    ConversationEvent,
    ConversationLabel,
    Direction,
    Message,
    MessagePurpose,
    MessageTemplate,
    Rule,
)
from bot.pipeline import handle_inbound
from bot.providers.base import InboundSms

CUSTOMER = "+14155550101"
OURS = "+61411111111"
_ids = itertools.count(1)


async def add_rule(sessionmaker, name: str, match_type: str = "only_word", terms=(), **fields):
    fields.setdefault("actions", [])
    fields.setdefault("conditions", [])
    async with sessionmaker.begin() as session:
        rule = Rule(name=name, match_type=match_type, terms=list(terms), **fields)
        session.add(rule)
        await session.flush()
        await bump_rules_version(session)
        return rule.id


async def add_template(sessionmaker, name: str, body: str) -> int:
    async with sessionmaker.begin() as session:
        template = MessageTemplate(name=name, body=body)
        session.add(template)
        await session.flush()
        return template.id


async def store(engine, body: str, sender: str = CUSTOMER, ours: str = OURS):
    sms = InboundSms(f"IN-{next(_ids)}", sender, ours, body)
    async with engine.begin() as conn:
        (stored,) = await ingest.store_inbound_batch(
            conn, [ingest.normalize(sms, provider="clicksend", default_region="US")]
        )
    return stored


async def text_in(engine, sessionmaker, body: str, sender: str = CUSTOMER, ours: str = OURS):
    """Store an inbound SMS and run the pipeline on it, as the worker would; return
    the conversation id."""
    stored = await store(engine, body, sender, ours)
    async with sessionmaker.begin() as session:
        assert await handle_inbound(session, stored.message_id)
    return stored.conversation_id


async def bot_replies(sessionmaker, conversation_id: int | None = None) -> list[str]:
    query = select(Message.body).where(
        Message.direction == Direction.OUT, Message.purpose == MessagePurpose.BOT_REPLY
    )
    if conversation_id is not None:
        query = query.where(Message.conversation_id == conversation_id)
    async with sessionmaker() as session:
        return list((await session.scalars(query.order_by(Message.id))).all())


async def thread_events(sessionmaker, conversation_id: int) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(ConversationEvent.text)
            .where(ConversationEvent.conversation_id == conversation_id)
            .order_by(ConversationEvent.id)
        )
        return list(rows.all())


async def labels(sessionmaker, conversation_id: int) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(ConversationLabel.label)
            .where(ConversationLabel.conversation_id == conversation_id)
            .order_by(ConversationLabel.label)
        )
        return list(rows.all())


async def conversation(sessionmaker, conversation_id: int) -> Conversation:
    async with sessionmaker() as session:
        return await session.get_one(Conversation, conversation_id)


async def rule_row(sessionmaker, rule_id: int) -> Rule:
    async with sessionmaker() as session:
        return await session.get_one(Rule, rule_id)


async def count(sessionmaker, model, *where) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))
