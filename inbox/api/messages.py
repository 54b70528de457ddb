"""POST /conversations/{id}/messages and POST /messages: queue an outbound message.

Handlers read the JSON, normalise numbers and call bot/outbox in one transaction;
after it commits they wake the sender. Nothing here talks to a provider, and the
send gate in bot/outbox refuses opted-out numbers (403 ``OPTED_OUT``, nothing
queued).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Contact, Conversation
from bot.outbox import enqueue_reply, enqueue_to_number
from bot.phones import InvalidPhoneNumber, to_e164
from bot.sender_id import InvalidSenderId, check_sender_id
from inbox.api.auth import API_USER
from inbox.api.conversations import path_conversation_id
from inbox.api.envelope import bad_request, envelope
from inbox.api.inputs import json_object, optional_text, required_text
from inbox.api.items import message_item
from inbox.keys import SERVICES

QUEUED_MSG = "Message queued."


async def reply(request: web.Request) -> web.Response:
    payload = await json_object(request)
    body = required_text(payload, "body")
    conversation_id = path_conversation_id(request)
    services = request.config_dict[SERVICES]
    async with services.sessionmaker.begin() as session:
        message = await enqueue_reply(
            session, conversation_id, body, author_user_id=request[API_USER].id
        )
    services.notify_outbox()
    return envelope(message_item(message), response_msg=QUEUED_MSG)


async def send(request: web.Request) -> web.Response:
    payload = await json_object(request)
    body = required_text(payload, "body")
    services = request.config_dict[SERVICES]
    region = services.settings.default_region
    to = _recipient(payload, region)
    sender = _sender(payload, region)
    async with services.sessionmaker.begin() as session:
        our_number = sender if sender is not None else await latest_our_number(session, to)
        message = await enqueue_to_number(
            session, to, body, our_number=our_number, author_user_id=request[API_USER].id
        )
    services.notify_outbox()
    return envelope(message_item(message), response_msg=QUEUED_MSG)


def _recipient(payload: dict[str, Any], region: str) -> str:
    try:
        return to_e164(required_text(payload, "to"), region)
    except InvalidPhoneNumber as exc:
        raise bad_request("to", str(exc)) from None


def _sender(payload: dict[str, Any], region: str) -> str | None:
    raw = optional_text(payload, "from")
    if raw is None:
        return None
    try:
        return to_e164(raw, region)
    except InvalidPhoneNumber:
        pass
    try:  # not a number of ours: it must be a sender id ClickSend accepts
        return check_sender_id(raw)
    except InvalidSenderId as exc:
        raise bad_request("from", f"{exc} (a number of ours or an alpha sender id)") from None


async def latest_our_number(session: AsyncSession, phone_number: str) -> str:
    """The number of ours the customer last talked to, so a new message joins that thread."""
    found = await session.scalar(
        select(Conversation.our_number)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(Contact.phone_number == phone_number)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    return found or ""
