"""A token bucket: the messages-per-second budget for the provider (pure, no I/O).

One bucket per process is shared by every outbound message (agent replies, bot
replies, campaigns). The sender takes tokens before it claims, and claims in
priority order, so when the budget is tight the replies take it first and
campaign traffic gets what is left. Tokens are whole messages.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBucket:
    """``rate_per_s`` tokens a second, at most ``capacity`` saved (default: a second's worth)."""

    def __init__(
        self,
        rate_per_s: float,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (rate_per_s > 0 and math.isfinite(rate_per_s)):
            raise ValueError("rate_per_s must be a positive number")
        self.rate_per_s = rate_per_s
        self.capacity = max(1.0, rate_per_s if capacity is None else capacity)
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()

    def take(self, wanted: int) -> int:
        """Take up to ``wanted`` whole tokens now; returns how many were granted (maybe 0)."""
        self._refill()
        granted = max(0, min(wanted, int(self._tokens)))
        self._tokens -= granted
        return granted

    def give_back(self, tokens: int) -> None:
        """Return tokens taken but not used (fewer messages were due than granted)."""
        self._refill()
        self._tokens = min(self.capacity, self._tokens + max(0, tokens))

    def wait_s(self, wanted: int = 1) -> float:
        """Seconds until ``wanted`` tokens (at most the capacity) are available."""
        self._refill()
        missing = min(float(wanted), self.capacity) - self._tokens
        return max(0.0, missing / self.rate_per_s)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate_per_s)
        self._updated = now
