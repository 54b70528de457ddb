"""Starting, waiting for and stopping the processes a benchmark or a test runs
(`smsdesk serve`, `smsdesk worker`, the standalone simulator), all on 127.0.0.1.

Benchmarks import it as `processes` (they run as scripts from bench/); tests as
`bench.processes`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, seconds: float = 30.0) -> None:
    """Until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port} after {seconds:g} s")


def wait_ready(url: str, seconds: float = 30.0) -> None:
    """Until ``url`` answers HTTP at all (an error page counts)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return  # it answered, if only with an error page
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"server at {url} did not come up in {seconds:g} s")


@contextlib.contextmanager
def process(cmd: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """``cmd`` running from the repository root, its output in ``log_path``; stopped on exit."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Stop a process we started, by its PID: SIGINT, then SIGKILL after 20 s."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def smsdesk() -> str:
    """The `smsdesk` command of the running interpreter's environment."""
    return str(Path(sys.executable).parent / "smsdesk")


@contextlib.contextmanager
def simulator(
    port: int, username: str, api_key: str, log_path: Path, *flags: str
) -> Iterator[subprocess.Popen]:
    """`smsdesk simulator` on ``port`` with these credentials, listening once entered."""
    env = {
        **os.environ,
        "SMSDESK_CLICKSEND_USERNAME": username,
        "SMSDESK_CLICKSEND_API_KEY": api_key,
    }
    with process([smsdesk(), "simulator", "--port", str(port), *flags], env, log_path) as proc:
        wait_listening(port)
        yield proc
