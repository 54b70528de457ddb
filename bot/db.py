"""Declarative base, type map, engine and session factories.

SQLite runs in WAL mode with foreign keys on, a busy timeout and
``synchronous=FULL`` by default: a message we acknowledged must survive a power
cut. Every SQLite transaction starts with ``BEGIN IMMEDIATE`` so two writers never
deadlock on a read-to-write lock upgrade; throughput comes from group commit
(bot/ingest.py), not from weaker durability.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import DateTime, MetaData, String, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class EnumText(TypeDecorator[str]):
    """A StrEnum stored as plain text (no native enum types) and loaded back as the enum."""

    impl = String
    cache_ok = True

    def __init__(self, kind: type[enum.StrEnum], length: int | None = None) -> None:
        self.kind = kind
        super().__init__(length or max(len(m.value) for m in kind) + 8)

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else self.kind(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else self.kind(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, *, sqlite_synchronous: str = "FULL") -> AsyncEngine:
    if not is_sqlite(url):
        return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=False)
    engine = create_async_engine(url, connect_args={"timeout": 30})
    _configure_sqlite(engine.sync_engine, sqlite_synchronous)
    return engine


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    if synchronous not in {"FULL", "EXTRA", "NORMAL"}:
        raise ValueError(f"bad synchronous level {synchronous!r}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


READ_ONLY = "smsdesk_read_only"


class WriteTurns:
    """Fair turns at SQLite's single write lock for this process's busy writers.

    SQLite lets one writer in at a time. The group-commit writer polls for the
    lock every millisecond while SQLite's own busy handler makes a waiting
    aiosqlite connection sleep up to 100 ms between tries, so under load the
    workers could starve (a STOP handled seconds late). Taking an asyncio turn
    (FIFO) before BEGIN keeps them in line. On PostgreSQL it does nothing.
    """

    def __init__(self, enabled: bool) -> None:
        self._lock = asyncio.Lock() if enabled else None

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self._lock is None:
            yield
            return
        async with self._lock:
            yield


NO_TURNS = WriteTurns(enabled=False)


def write_turns_for(url: str) -> WriteTurns:
    return WriteTurns(enabled=is_sqlite(url))


def make_sessionmaker(engine: AsyncEngine, *, read_only: bool = False) -> async_sessionmaker:
    """Sessions for work that writes (the default) or only reads.

    On SQLite a writing transaction takes the write lock at BEGIN (IMMEDIATE); a
    read-only one starts DEFERRED and never blocks the group-commit writer.
    """
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return async_sessionmaker(bind, expire_on_commit=False)
