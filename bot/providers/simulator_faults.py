"""Fault injection for the simulator (tests and demos; every rate is 0 by default).

Each POST /sms/send draws one fault from a seeded RNG, so a test run is
reproducible:

- ``fail_429_rate``: HTTP 429 with ``Retry-After: retry_after_s``, nothing accepted;
- ``fail_500_rate``: HTTP 500 before anything is accepted;
- ``fail_500_after_accept_rate``: the messages are accepted (in the history,
  charged, receipts follow) and the answer is still HTTP 500 — the realistic
  ambiguous case a client must not answer with a blind re-send;
- ``slow_rate``: the messages are accepted, the answer comes ``slow_s`` later
  (past a client's timeout).

Receipts get ``receipt_jitter_s`` of random extra delay (so they arrive out of
order), and a push is delivered twice with ``duplicate_push_rate``.

Not ClickSend: ``PUT /_simulator/faults`` changes these settings at run time and
``GET /_simulator/stats`` reports request and send counts.
"""

from __future__ import annotations

import enum
import math
import random
from collections import Counter
from typing import Any

from aiohttp import web

from bot.providers.simulator_state import SimulatorConfig
from bot.providers.simulator_web import STATE, SimError, envelope, read_json

SEND_FAULT_RATES = (
    "fail_429_rate",
    "fail_500_rate",
    "fail_500_after_accept_rate",
    "slow_rate",
)
OTHER_RATES = ("duplicate_push_rate",)
SECONDS = ("retry_after_s", "slow_s", "receipt_jitter_s")
MAX_SECONDS = 3600.0


class Fault(enum.StrEnum):
    NONE = "none"
    RATE_LIMITED = "429"
    FAIL_BEFORE = "500_before_accept"
    FAIL_AFTER = "500_after_accept"
    SLOW = "slow"


_FAULT_OF_RATE = {
    "fail_429_rate": Fault.RATE_LIMITED,
    "fail_500_rate": Fault.FAIL_BEFORE,
    "fail_500_after_accept_rate": Fault.FAIL_AFTER,
    "slow_rate": Fault.SLOW,
}


def pick_fault(config: SimulatorConfig, rng: random.Random) -> Fault:
    """One draw: the rates are consecutive bands of [0, 1)."""
    draw = rng.random()
    for name in SEND_FAULT_RATES:
        rate = getattr(config, name)
        if draw < rate:
            return _FAULT_OF_RATE[name]
        draw -= rate
    return Fault.NONE


def check_faults(config: SimulatorConfig) -> None:
    """ValueError naming the setting when a rate or a duration is out of range."""
    for name in (*SEND_FAULT_RATES, *OTHER_RATES):
        _check_range(name, getattr(config, name), 1.0)
    for name in SECONDS:
        _check_range(name, getattr(config, name), MAX_SECONDS)
    total = sum(getattr(config, name) for name in SEND_FAULT_RATES)
    if total > 1.0 + 1e-9:
        raise ValueError(f"the send fault rates add up to {total:g}, more than 1")


def _check_range(name: str, value: Any, high: float) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or not 0 <= value <= high:
        raise ValueError(f"{name} must be a number from 0 to {high:g}")


# -- control endpoints (not ClickSend) ---------------------------------------------


async def control_faults(request: web.Request) -> web.Response:
    """PUT JSON with any of the fault settings (and ``fault_seed``); answers the new ones."""
    state = request.app[STATE]
    payload = await read_json(request)
    if not isinstance(payload, dict):
        raise SimError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    known = {*SEND_FAULT_RATES, *OTHER_RATES, *SECONDS, "fault_seed"}
    unknown = sorted(set(payload) - known)
    if unknown:
        raise SimError(400, "BAD_REQUEST", f"Unknown fault setting: {unknown[0][:40]}.")
    seed = payload.pop("fault_seed", None)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise SimError(400, "BAD_REQUEST", "fault_seed must be an integer.")
    candidate = SimulatorConfig(**{**vars(state.config), **payload})
    try:
        check_faults(candidate)
    except ValueError as exc:
        raise SimError(400, "BAD_REQUEST", f"{exc}.") from None
    for name, value in payload.items():
        setattr(state.config, name, value)
    if seed is not None:
        state.reseed(seed)
    return envelope(fault_settings(state.config), "Fault settings updated.")


def fault_settings(config: SimulatorConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in (*SEND_FAULT_RATES, *OTHER_RATES, *SECONDS)}


async def control_stats(request: web.Request) -> web.Response:
    """Request counts per path, accepted sends, duplicates by custom_string, faults drawn."""
    state = request.app[STATE]
    counts = state.send_counts()
    duplicated = sorted(ref for ref, count in counts.items() if count > 1)
    data = {
        "requests": dict(Counter(f"{r['method']} {r['path']}" for r in state.requests)),
        "sent": len(state.sent),
        "custom_strings": len(counts),
        "duplicated_custom_strings": duplicated[:100],
        "duplicated_count": len(duplicated),
        "faults": dict(state.faults),
        "fault_settings": fault_settings(state.config),
    }
    return envelope(data, "Simulator statistics.")
