"""Importing ClickSend rules: how long the write transaction (SQLite's write lock)
is held, next to creating the same rules one by one through ``rules.create_rule``.

For 100, 300 and 1,000 ClickSend rules (already fetched: the network is not part
of the figure) it prints seconds for:

- one_by_one: ``rules.create_rule`` per rule, which bumps ``rules_version`` and
  reads every rule for conflict warnings each time (quadratic);
- import: ``rule_import.import_fetched``, which creates them with
  ``rules.add_rule`` and bumps the version and checks conflicts once.

Each run uses a fresh SQLite database in a temporary directory.

    .venv/bin/python bench/rule_import.py

Not a test: it prints figures for docs/PERFORMANCE.md.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import rule_import, rules  # noqa: E402
from bot.db import create_engine, make_sessionmaker  # noqa: E402
from bot.models import Base  # noqa: E402
from bot.providers.base import InboundRule  # noqa: E402

SIZES = (100, 300, 1000)


def clicksend_rules(count: int) -> tuple[InboundRule, ...]:
    return tuple(
        InboundRule(n, f"R{n}", "*", 2, f"word{n}", "AUTO_REPLY", "", f"Reply {n}", True)
        for n in range(1, count + 1)
    )


async def fresh_database(directory: str, name: str):
    engine = create_engine(f"sqlite+aiosqlite:///{directory}/{name}.db")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    return engine, make_sessionmaker(engine)


async def one_by_one(sessionmaker, items: tuple[InboundRule, ...]) -> float:
    started = time.perf_counter()
    async with sessionmaker.begin() as session:
        for item in items:
            mapped = rule_import.mapped_rule(item, None)
            mapped.fields["enabled"] = False
            await rules.create_rule(session, rules.parse_rule(mapped.fields))
    return time.perf_counter() - started


async def batched(sessionmaker, items: tuple[InboundRule, ...]) -> float:
    fetched = rule_import.Fetched(rules=items, templates=())
    started = time.perf_counter()
    async with sessionmaker.begin() as session:
        report = await rule_import.import_fetched(
            session, fetched, enable=False, user_email=None, default_region="US"
        )
    elapsed = time.perf_counter() - started
    assert report.count("imported") == len(items)  # noqa: S101 - a bench sanity check
    return elapsed


async def main() -> None:
    print(f"{'rules':>6} {'one_by_one s':>13} {'import s':>9} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as directory:
        for size in SIZES:
            items = clicksend_rules(size)
            figures = []
            for name, run in (("baseline", one_by_one), ("import", batched)):
                engine, sessionmaker = await fresh_database(directory, f"{name}-{size}")
                figures.append(await run(sessionmaker, items))
                await engine.dispose()
            base, ours = figures
            print(f"{size:>6} {base:>13.2f} {ours:>9.2f} {base / ours:>5.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
