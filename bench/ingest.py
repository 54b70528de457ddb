"""Durable webhook ingest vs a bare aiohttp handler, measured in the same run.

Starts `smsdesk serve --demo` on a fresh SQLite file (synchronous=FULL, group
commit) and bench/bare_server.py, fires ClickSend inbound pushes (each with a
new message_id) at each for a fixed time from wrk (a second process, loopback
only) at the given concurrency, and prints
requests/second, p50/p99 latency, their ratio, the server's CPU time per
request, how many messages the database holds afterwards (every acknowledged
message must be there, once), how many were still pending when the load stopped
and how long the pipeline then took to handle them.

    .venv/bin/python bench/ingest.py --seconds 10 --concurrency 64

Needs wrk (Debian package `wrk`). Not a test: it prints figures for
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from processes import free_port, process, smsdesk, wait_ready

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-0123456789abcdef"  # noqa: S105 - a throwaway bench token
PATH = f"/webhooks/clicksend/{TOKEN}/inbound"
LUA = """
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  prefix = os.getenv("BENCH_PREFIX") .. "-" .. tid .. "-"
end
function request()
  counter = counter + 1
  local body = "message_id=" .. prefix .. counter ..
    "&from=%2B1415555" .. string.format("%04d", counter % 5000) ..
    "&to=%2B61411111111&timestamp=1442398236&custom_string=" ..
    "&body=Hi%2C+is+my+order+shipped+yet%3F+" .. counter
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"""


def run_wrk(url: str, seconds: int, concurrency: int, prefix: str, lua: Path) -> dict:
    env = {**os.environ, "BENCH_PREFIX": prefix}
    cmd = ["wrk", "-t", "2", "-c", str(concurrency), "-d", f"{seconds}s", "--latency"]
    cmd += ["--timeout", "10s", "-s", str(lua), url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def timed_wrk(pid: int, url: str, args, prefix: str, lua: Path) -> dict:
    """wrk against ``url``, plus the server process's CPU time per request (all its
    threads; less sensitive than req/s to what else runs on the machine)."""
    before = cpu_seconds(pid)
    row = run_wrk(url, args.seconds, args.concurrency, prefix, lua)
    row["cpu_us"] = (cpu_seconds(pid) - before) / max(row["requests"], 1) * 1e6
    return row


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_wrk(out: str) -> dict:
    def latency(pct: str) -> float:
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": total,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    parser.add_argument(
        "--modes",
        default="single,split,webonly",
        help="comma-separated subset of single,split,webonly (the bare baseline always runs)",
    )
    parser.add_argument(
        "--drain-limit", type=float, default=60.0, help="longest wait for the backlog (s)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="smsdesk-bench-"))
    lua = workdir / "push.lua"
    lua.write_text(LUA)

    bare_port = free_port()
    bare_url = f"http://127.0.0.1:{bare_port}"
    with process(
        [sys.executable, str(ROOT / "bench/bare_server.py"), str(bare_port)],
        dict(os.environ),
        workdir / "bare.log",
    ) as proc:
        wait_ready(bare_url + "/")
        bare = timed_wrk(proc.pid, bare_url + PATH, args, "bare", lua)

    rows = {}
    modes = (
        ("one process", "single", "inside"),
        ("web + worker", "split", "beside"),
        ("web only, no workers", "webonly", "none"),
    )
    wanted = set(args.modes.split(","))
    for name, prefix, workers in modes:
        if prefix not in wanted:
            continue
        rows[name] = measure_smsdesk(args, lua, workdir, prefix, workers)
    report(args, bare, rows)
    shutil.rmtree(workdir)


def measure_smsdesk(args, lua: Path, workdir: Path, prefix: str, workers: str) -> dict:
    """`serve --demo` with its workers inside, or `serve --no-workers` with
    `smsdesk worker` beside it, or alone (the webhook path by itself)."""
    db = workdir / f"{prefix}.db"
    env = {
        **os.environ,
        "SMSDESK_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "SMSDESK_WEBHOOK_TOKEN": TOKEN,
        "SMSDESK_SQLITE_SYNCHRONOUS": args.synchronous,
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [smsdesk(), "serve", "--demo", "--port", str(port)]
    serve += [] if workers == "inside" else ["--no-workers"]
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(process(serve, env, workdir / f"{prefix}.log"))
        wait_ready(url + "/healthz")
        if workers == "beside":
            worker_env = {**env, "SMSDESK_PROVIDER": "simulator", "SMSDESK_SECRET_KEY": "b" * 40}
            stack.enter_context(process([smsdesk(), "worker"], worker_env, workdir / "w.log"))
            time.sleep(2)  # let the worker start before the load does
        row = timed_wrk(server.pid, url + PATH, args, prefix, lua)
        row["pending"] = _pending(db)
        row["drain_s"] = None if workers == "none" else _drain(db, args.drain_limit)
    with sqlite3.connect(db) as conn:
        row["stored"] = conn.execute(
            "SELECT count(*) FROM messages WHERE provider_message_id LIKE ?", (prefix + "-%",)
        ).fetchone()[0]
    return row


def _pending(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return conn.execute("SELECT count(*) FROM messages WHERE status = 'pending'").fetchone()[0]


def _drain(db: Path, limit_s: float) -> float | None:
    """Seconds from the end of the load until nothing is pending (None: not within limit_s)."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        if _pending(db) == 0:
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def report(args, bare: dict, rows: dict[str, dict]) -> None:
    print(
        f"ingest benchmark: {args.seconds} s of pushes per server, concurrency "
        f"{args.concurrency}, SQLite synchronous={args.synchronous}, {os.cpu_count()} cores"
    )
    header = f"{'':28}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-200':>9}{'ratio':>7}"
    header += f"{'CPU µs':>8}"
    print(header + f"{'stored':>9}{'pending':>9}{'drain s':>9}")
    print(f"{'bare aiohttp handler':28}" + _cells(bare, bare["rps"]))
    for name, row in rows.items():
        verdict = "ok" if row["stored"] >= row["requests"] - row["errors"] else "LOST"
        drain = "-" if row["drain_s"] is None else f"{row['drain_s']:.1f}"
        extra = f"{row['stored']:>9}{row['pending']:>9}{drain:>9}  {verdict}"
        print(f"{'smsdesk, ' + name:28}" + _cells(row, bare["rps"]) + extra)
    print("targets: ratio >= 0.40 and p99 < 25 ms; stored >= acknowledged (ok), pending =")
    print("messages the pipeline had not handled yet when the run ended, drain s = time")
    print("after the load until none was pending (- : no pipeline, or not within the limit),")
    print("CPU µs = the server process's CPU time (all threads) per request during the load")


def _cells(row: dict, bare_rps: float) -> str:
    return (
        f"{row['rps']:>9.0f}{row['p50']:>9.2f}{row['p99']:>9.2f}{row['errors']:>9}"
        f"{row['rps'] / bare_rps:>7.2f}{row['cpu_us']:>8.0f}"
    )


if __name__ == "__main__":
    main()
