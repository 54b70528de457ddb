"""Settings kept in the database: the demo secret key, webhook tokens, the sender id.

Two webhook tokens can be valid at once (current and previous) so an operator
can paste a new URL into ClickSend without losing a push in between.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import AppSetting

SECRET_KEY = "secret_key"  # noqa: S105 (a setting name)
WEBHOOK_TOKEN = "webhook_token"  # noqa: S105
WEBHOOK_TOKEN_PREVIOUS = "webhook_token_previous"  # noqa: S105
SENDER_ID = "sender_id"  # the settings page's default sender id; "" = none saved


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 192 random bits


async def get_or_create(session: AsyncSession, key: str, factory: Callable[[], str]) -> str:
    row = await session.get(AppSetting, key)
    if row is None:
        row = AppSetting(key=key, value=factory())
        session.add(row)
        await session.flush()
    return row.value


async def find(session: AsyncSession, key: str) -> str | None:
    row = await session.get(AppSetting, key)
    return None if row is None else row.value


async def webhook_tokens(session: AsyncSession, configured: str | None) -> tuple[str, ...]:
    """Valid tokens, current first. SMSDESK_WEBHOOK_TOKEN, when set, is the current one."""
    current = configured or await get_or_create(session, WEBHOOK_TOKEN, new_token)
    previous = await find(session, WEBHOOK_TOKEN_PREVIOUS)
    return (current, previous) if previous and previous != current else (current,)


async def rotate_webhook_token(session: AsyncSession) -> str:
    current = await get_or_create(session, WEBHOOK_TOKEN, new_token)
    fresh = new_token()
    await put(session, WEBHOOK_TOKEN_PREVIOUS, current)
    await put(session, WEBHOOK_TOKEN, fresh)
    return fresh


async def put(session: AsyncSession, key: str, value: str) -> None:
    row = await session.get(AppSetting, key)
    if row is None:
        session.add(AppSetting(key=key, value=value))
    else:
        row.value = value
