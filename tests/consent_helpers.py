"""Readers of the consent ledger and the opt-out table for tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.models import ConsentEvent, OptOut

LEDGER_COLUMNS = (
    ConsentEvent.phone_number,
    ConsentEvent.scope,
    ConsentEvent.kind,
    ConsentEvent.method,
    ConsentEvent.reason,
)


async def ledger(sessionmaker, *extra: Any) -> list[tuple]:
    """(phone_number, scope, kind, method, reason, *extra) of every event, oldest first."""
    async with sessionmaker() as session:
        rows = await session.execute(select(*LEDGER_COLUMNS, *extra).order_by(ConsentEvent.id))
        return [tuple(row) for row in rows]


async def opt_outs(sessionmaker) -> list[tuple[str, str]]:
    """(phone_number, our_number) of every opt-out, sorted."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(OptOut.phone_number, OptOut.our_number).order_by(
                OptOut.phone_number, OptOut.our_number
            )
        )
        return [tuple(row) for row in rows]
