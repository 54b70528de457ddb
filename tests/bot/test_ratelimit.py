"""The token bucket, driven by an injected clock."""

from __future__ import annotations

import pytest

from bot.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_starts_full_with_one_seconds_budget(clock):
    bucket = TokenBucket(10, clock=clock)
    assert (bucket.take(25), bucket.take(1)) == (10, 0)


def test_refills_at_the_rate_up_to_the_capacity(clock):
    bucket = TokenBucket(10, clock=clock)
    bucket.take(10)
    clock.now += 0.35
    assert bucket.take(10) == 3  # 3.5 tokens: only whole ones are granted
    clock.now += 60
    assert bucket.take(1000) == 10


def test_fractions_carry_over(clock):
    bucket = TokenBucket(10, clock=clock)
    bucket.take(10)
    clock.now += 0.15
    assert bucket.take(5) == 1
    clock.now += 0.05
    assert bucket.take(5) == 1  # 0.5 left over + 0.5 new


def test_wait_s_says_when_tokens_are_there(clock):
    bucket = TokenBucket(4, clock=clock)
    bucket.take(4)
    assert bucket.wait_s(2) == pytest.approx(0.5)
    assert bucket.wait_s(100) == pytest.approx(1.0)  # never more than the capacity
    clock.now += 0.5
    assert (bucket.wait_s(2), bucket.take(2)) == (0.0, 2)


def test_give_back_returns_unused_tokens_but_not_past_capacity(clock):
    bucket = TokenBucket(10, clock=clock)
    granted = bucket.take(10)
    bucket.give_back(granted - 4)
    assert bucket.take(10) == 6
    bucket.give_back(50)
    assert bucket.take(100) == 10


def test_a_slow_rate_still_grants_one_message(clock):
    bucket = TokenBucket(0.5, clock=clock)
    assert (bucket.capacity, bucket.take(5), bucket.wait_s()) == (1.0, 1, 2.0)


def test_a_clock_going_backwards_adds_nothing(clock):
    bucket = TokenBucket(10, clock=clock)
    bucket.take(10)
    clock.now -= 5
    assert bucket.take(1) == 0


@pytest.mark.parametrize("rate", [0, -1, float("nan"), float("inf")])
def test_rate_must_be_positive_and_finite(rate):
    with pytest.raises(ValueError, match="rate_per_s"):
        TokenBucket(rate)
