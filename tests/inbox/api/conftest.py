"""Fixtures for the JSON API: an API user and key, a small client, and seeders.

``api`` talks to the app without workers (``quiet_client``), so nothing queued
is ever sent; ``seed`` writes contacts, conversations, messages and opt-outs
straight through the ORM.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from aiohttp import encode_basic_auth

from bot.contacts import find_contact
from bot.models import (
    Contact,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    OptOut,
    Role,
)
from inbox.auth import create_api_key, create_user
from inbox.keys import SERVICES

API_EMAIL = "agent@example.com"
OUR_NUMBER = "+15550001111"
EPOCH = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


class Api:
    """The API client: paths are relative to /api/v1, answers are (status, json).

    Requests carry this user's Basic auth unless ``headers`` are given.
    """

    def __init__(self, client, email: str, key: str) -> None:
        self.client = client
        self.email = email
        self.key = key

    @property
    def services(self):
        return self.client.app[SERVICES]

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": encode_basic_auth(self.email, self.key)}

    async def get(self, path: str, params: dict[str, Any] | None = None, **kwargs):
        kwargs.setdefault("headers", self.auth_headers)
        response = await self.client.get("/api/v1" + path, params=params, **kwargs)
        return response.status, await response.json()

    async def post(self, path: str, payload: Any = None, **kwargs):
        kwargs.setdefault("headers", self.auth_headers)
        if payload is not None:
            kwargs["json"] = payload
        response = await self.client.post("/api/v1" + path, **kwargs)
        return response.status, await response.json()


@pytest.fixture
async def api_key(sessionmaker) -> str:
    async with sessionmaker.begin() as session:
        user = await create_user(session, API_EMAIL, "correct horse battery", Role.AGENT)
        return await create_api_key(session, user)


@pytest.fixture
async def api(quiet_client, api_key) -> Api:
    return Api(quiet_client, API_EMAIL, api_key)


class Seeder:
    """Rows written straight through the ORM; every time defaults to ``EPOCH``.

    The test modules repeat ``EPOCH`` and ``OUR_NUMBER``: importing from a
    conftest is fragile when several directories have one.
    """

    def __init__(self, sessionmaker) -> None:
        self.sessionmaker = sessionmaker

    async def conversation(
        self,
        phone_number: str,
        *,
        our_number: str = OUR_NUMBER,
        at: dt.datetime = EPOCH,
        first_name: str | None = None,
        last_name: str | None = None,
        **fields: Any,
    ) -> int:
        """A conversation, with its contact unless the number has one; ``fields`` are
        Conversation columns."""
        async with self.sessionmaker.begin() as session:
            contact = await find_contact(session, phone_number)
            if contact is None:
                contact = Contact(
                    phone_number=phone_number,
                    first_name=first_name,
                    last_name=last_name,
                    custom_fields={},
                )
                session.add(contact)
                await session.flush()
            conversation = Conversation(
                contact_id=contact.id, our_number=our_number, last_message_at=at, **fields
            )
            session.add(conversation)
            await session.flush()
            return conversation.id

    async def conversations(self, count: int) -> list[int]:
        """``count`` conversations, the first one the most recent."""
        return [
            await self.conversation(f"+1415555{i:04d}", at=EPOCH - dt.timedelta(minutes=i))
            for i in range(count)
        ]

    async def message(
        self,
        conversation_id: int,
        body: str,
        *,
        direction: Direction = Direction.IN,
        at: dt.datetime = EPOCH,
        **fields: Any,
    ) -> int:
        status = MessageStatus.HANDLED if direction is Direction.IN else MessageStatus.SENT
        fields.setdefault("status", status)
        async with self.sessionmaker.begin() as session:
            message = Message(
                conversation_id=conversation_id,
                direction=direction,
                body=body,
                created_at=at,
                updated_at=at,
                **fields,
            )
            session.add(message)
            await session.flush()
            return message.id

    async def opt_out(self, phone_number: str, our_number: str = "") -> None:
        async with self.sessionmaker.begin() as session:
            session.add(OptOut(phone_number=phone_number, our_number=our_number))


@pytest.fixture
def seed(sessionmaker) -> Seeder:
    return Seeder(sessionmaker)


async def api_put(api: Api, path: str, payload: Any = None, **kwargs):
    kwargs.setdefault("headers", api.auth_headers)
    if payload is not None:
        kwargs["json"] = payload
    response = await api.client.put("/api/v1" + path, **kwargs)
    return response.status, await response.json()


async def api_delete(api: Api, path: str, **kwargs):
    kwargs.setdefault("headers", api.auth_headers)
    response = await api.client.delete("/api/v1" + path, **kwargs)
    return response.status, await response.json()
