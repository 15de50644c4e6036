"""Circuit breaker transitions: open on the first transport failure or after a streak of
answered failures, exponential cool-down with a cap, half-open trial, reset on success."""

from __future__ import annotations

from tollway.market.breaker import Breaker, BreakerSettings, FailureKind

SETTINGS = BreakerSettings(threshold=3, base_cooldown_seconds=5, max_cooldown_seconds=40)


def test_unreachable_opens_at_once() -> None:
    breaker = Breaker().on_failure(FailureKind.UNREACHABLE, "refused", 100.0, SETTINGS)
    assert breaker.is_open(104.9)
    assert not breaker.is_open(105.0)
    assert breaker.last_reason == "refused"


def test_answered_failures_open_after_the_threshold() -> None:
    breaker = Breaker()
    for _ in range(2):
        breaker = breaker.on_failure(FailureKind.FAILED, "500", 0.0, SETTINGS)
        assert not breaker.is_open(0.0)
    breaker = breaker.on_failure(FailureKind.FAILED, "500", 0.0, SETTINGS)
    assert breaker.is_open(4.0)


def test_a_success_in_between_resets_the_streak() -> None:
    breaker = Breaker()
    for _ in range(2):
        breaker = breaker.on_failure(FailureKind.FAILED, "500", 0.0, SETTINGS)
    breaker = breaker.on_success()
    breaker = breaker.on_failure(FailureKind.FAILED, "500", 0.0, SETTINGS)
    assert not breaker.is_open(0.0)


def test_cool_down_doubles_up_to_the_cap_and_a_trial_failure_reopens() -> None:
    breaker = Breaker()
    now = 0.0
    cooldowns = []
    for _ in range(6):
        breaker = breaker.on_failure(FailureKind.FAILED, "x", now, SETTINGS)
        if breaker.is_open(now):
            cooldowns.append(breaker.open_until - now)
            now = breaker.open_until  # the trial after the cool-down fails again
    # Three failures open it; every half-open trial failure reopens with twice the cool-down.
    assert cooldowns == [5, 10, 20, 40]


def test_success_closes_and_forgets_openings() -> None:
    breaker = Breaker().on_failure(FailureKind.UNREACHABLE, "x", 0.0, SETTINGS)
    breaker = breaker.on_success()
    assert breaker == Breaker()
    again = breaker.on_failure(FailureKind.UNREACHABLE, "x", 0.0, SETTINGS)
    assert again.open_until == 5.0
