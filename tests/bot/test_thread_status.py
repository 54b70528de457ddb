"""The "conversation open / closed" condition sees the status the thread had when
the customer's message arrived, although ingest reopens a closed thread at once."""

from __future__ import annotations

from sqlalchemy import select

from bot.models import Conversation, ConversationEvent, ConversationStatus
from bot.thread_status import CLOSED_EVENT, REOPENED_EVENT, set_status
from tests.bot.rule_helpers import add_rule, bot_replies, text_in


async def _status(sessionmaker, conversation_id: int) -> ConversationStatus:
    async with sessionmaker() as session:
        return (await session.get(Conversation, conversation_id)).status


async def _rules_for_closed_threads(sessionmaker) -> None:
    await add_rule(
        sessionmaker,
        "BYE",
        "only_word",
        ["bye"],
        actions=[{"type": "close"}],
    )
    await add_rule(
        sessionmaker,
        "WELCOME BACK",
        "any",
        conditions=[{"type": "conversation_status", "status": "closed"}],
        actions=[{"type": "reply", "body": "Welcome back!"}],
        priority=200,
    )


async def test_a_message_to_a_closed_thread_sees_closed_and_the_thread_reopens(
    engine, sessionmaker
):
    await _rules_for_closed_threads(sessionmaker)
    conversation_id = await text_in(engine, sessionmaker, "hello")
    assert await bot_replies(sessionmaker, conversation_id) == []

    await text_in(engine, sessionmaker, "bye")
    assert await _status(sessionmaker, conversation_id) is ConversationStatus.CLOSED

    await text_in(engine, sessionmaker, "I have another question")
    assert await bot_replies(sessionmaker, conversation_id) == ["Welcome back!"]
    assert await _status(sessionmaker, conversation_id) is ConversationStatus.OPEN

    # The thread is open again: the next message is an ordinary one.
    await text_in(engine, sessionmaker, "and one more")
    assert await bot_replies(sessionmaker, conversation_id) == ["Welcome back!"]


async def test_close_and_reopen_lines_carry_their_own_kind(engine, sessionmaker):
    await _rules_for_closed_threads(sessionmaker)
    conversation_id = await text_in(engine, sessionmaker, "bye")
    async with sessionmaker() as session:
        kinds = (
            await session.scalars(
                select(ConversationEvent.kind).where(
                    ConversationEvent.conversation_id == conversation_id
                )
            )
        ).all()
    assert kinds == [CLOSED_EVENT]


async def test_a_thread_reopened_by_a_person_before_the_message_is_open(engine, sessionmaker):
    await _rules_for_closed_threads(sessionmaker)
    conversation_id = await text_in(engine, sessionmaker, "bye")
    async with sessionmaker.begin() as session:
        conversation = await session.get(Conversation, conversation_id)
        set_status(session, conversation, ConversationStatus.OPEN, "reopened by Sam")
    await text_in(engine, sessionmaker, "hi again")
    assert await bot_replies(sessionmaker, conversation_id) == []
    async with sessionmaker() as session:
        kinds = (
            await session.scalars(
                select(ConversationEvent.kind)
                .where(ConversationEvent.conversation_id == conversation_id)
                .order_by(ConversationEvent.id)
            )
        ).all()
    assert kinds == [CLOSED_EVENT, REOPENED_EVENT]
