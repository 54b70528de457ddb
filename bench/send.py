"""Sending throughput: 50,000 queued messages to the standalone ClickSend simulator.

Starts `smsdesk simulator` (a subprocess on 127.0.0.1), then:

1. baseline: raw httpx POSTs of 1,000-message batches straight to the simulator,
   no database (what the simulator and one HTTP client can do at best);
2. smsdesk: a fresh migrated SQLite file with N queued outbound messages, written
   by a direct bulk INSERT of queued rows (the outbox's own constructor costs
   about the same per row and is not what is measured here), then `smsdesk
   worker` (sender, reconciler, pipeline) with SMSDESK_SEND_RATE_PER_S set high,
   timed until every message is `sent`.

Prints messages/second, POST /sms/send calls made (the simulator's counter),
duplicates by custom_string, and the worker's peak RSS (VmHWM).

    .venv/bin/python bench/send.py --messages 50000

Not a test: it prints figures for docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx
from processes import free_port, process, simulator, smsdesk

USER, KEY = "bench", "bench-key-0123456789"
BATCH = 1000


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stats(base: str) -> dict:
    request = urllib.request.Request(base + "/_simulator/stats")  # noqa: S310 - loopback
    token = base64.b64encode(f"{USER}:{KEY}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        return json.load(response)["data"]


def send_calls(base: str) -> int:
    return stats(base)["requests"].get("POST /sms/send", 0)


# -- baseline --------------------------------------------------------------------------


async def baseline(base: str, messages: int) -> dict:
    """Raw 1,000-message POSTs, one after another, as the sender makes them."""
    calls_before = send_calls(base)
    started = time.perf_counter()
    async with httpx.AsyncClient(auth=(USER, KEY), timeout=60) as http:
        for first in range(0, messages, BATCH):
            batch = [
                {
                    "to": f"+1415{i:07d}",
                    "body": f"Baseline {i}",
                    "source": "smsdesk",
                    "custom_string": f"b{i}",
                }
                for i in range(first, min(first + BATCH, messages))
            ]
            response = await http.post(base + "/sms/send", json={"messages": batch})
            response.raise_for_status()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "calls": send_calls(base) - calls_before, "rss": None}


# -- smsdesk ---------------------------------------------------------------------------


def seed(db: Path, messages: int) -> None:
    """Queued outbound rows, one conversation per number (direct bulk INSERT)."""
    now = time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO contacts (phone_number, custom_fields, created_at, updated_at) "
            "VALUES (?, '{}', ?, ?)",
            [(f"+1416{i:07d}", now, now) for i in range(messages)],
        )
        conn.execute(
            "INSERT INTO conversations (contact_id, our_number, status, unread_count, "
            "possible_opt_out, last_message_at, created_at) "
            "SELECT id, '+61411111111', 'open', 0, 0, ?, ? FROM contacts",
            (now, now),
        )
        conn.execute(
            "INSERT INTO messages (conversation_id, direction, body, status, purpose, priority, "
            "provider, parts, attempts, created_at, updated_at) "
            "SELECT id, 'out', 'Your order ' || id || ' has shipped', 'queued', 'api', 1, "
            "'clicksend', 1, 0, ?, ? FROM conversations",
            (now, now),
        )


def count_sent(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM messages WHERE status = 'sent'").fetchone()[0]


def measure_smsdesk(base: str, workdir: Path, messages: int, rate: float) -> dict:
    db = workdir / "send.db"
    url = f"sqlite+aiosqlite:///{db}"
    subprocess.run(  # noqa: S603 - our own CLI
        [smsdesk(), "migrate"], env={**os.environ, "SMSDESK_DATABASE_URL": url}, check=True
    )
    seed(db, messages)
    env = {
        **os.environ,
        "SMSDESK_DATABASE_URL": url,
        "SMSDESK_PROVIDER": "clicksend",
        "SMSDESK_CLICKSEND_BASE_URL": base,
        "SMSDESK_CLICKSEND_USERNAME": USER,
        "SMSDESK_CLICKSEND_API_KEY": KEY,
        "SMSDESK_SECRET_KEY": "s" * 40,
        "SMSDESK_SEND_RATE_PER_S": str(rate),
    }
    calls_before = send_calls(base)
    with process([smsdesk(), "worker"], env, workdir / "worker.log") as worker:
        started = time.perf_counter()
        deadline = started + 600
        while (sent := count_sent(db)) < messages:
            if time.perf_counter() > deadline or worker.poll() is not None:
                raise SystemExit(f"only {sent} of {messages} sent; see {workdir}/worker.log")
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        rss = peak_rss_mib(worker.pid)
    return {"seconds": seconds, "calls": send_calls(base) - calls_before, "rss": rss}


def report(messages: int, rate: float, rows: dict[str, dict], duplicates: int) -> None:
    print(f"send benchmark: {messages} messages, SQLite, rate budget {rate:g}/s, "
          f"{os.cpu_count()} cores")  # fmt: skip
    print(f"{'':34}{'seconds':>9}{'msgs/s':>9}{'calls':>7}{'peak RSS':>10}{'ratio':>7}")
    base_rate = messages / next(iter(rows.values()))["seconds"]
    for name, row in rows.items():
        rss = f"{row['rss']:>6.0f} MiB" if row["rss"] is not None else f"{'—':>10}"
        rate_now = messages / row["seconds"]
        print(
            f"{name:34}{row['seconds']:>9.1f}{rate_now:>9.0f}{row['calls']:>7}{rss}"
            f"{rate_now / base_rate:>7.2f}"
        )
    print(f"custom_strings accepted more than once at the simulator: {duplicates}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=100_000.0, help="SMSDESK_SEND_RATE_PER_S")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="smsdesk-bench-send-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}/v3"
    with simulator(port, USER, KEY, workdir / "simulator.log", "--balance", "100000000"):
        rows = {
            "baseline: raw httpx 1,000-batches": asyncio.run(baseline(base, args.messages)),
            "smsdesk worker (sender + SQLite)": measure_smsdesk(
                base, workdir, args.messages, args.rate
            ),
        }
        duplicates = stats(base)["duplicated_count"]
    report(args.messages, args.rate, rows, duplicates)
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
