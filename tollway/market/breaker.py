"""A circuit breaker per orchestrator: closed, open for a cool-down, then half-open.

A transport failure (nothing answered) opens it at once; other failures (5xx, timeouts of a
running job) open it after `threshold` in a row. Each opening doubles the cool-down up to a cap;
a success closes it and forgets the openings. The state lives in the market store, in the
gateway database, so every gateway host sees who is suspended and a restart remembers it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

__all__ = ["Breaker", "BreakerSettings", "FailureKind"]


class FailureKind(StrEnum):
    UNREACHABLE = "unreachable"
    """Connection refused, DNS, TLS, or no answer at all: the orchestrator is likely down."""
    FAILED = "failed"
    """It answered, badly: a 5xx, a malformed token, a job that ran past its timeout."""


@dataclass(frozen=True)
class BreakerSettings:
    threshold: int = 3
    base_cooldown_seconds: float = 5.0
    max_cooldown_seconds: float = 300.0


@dataclass(frozen=True)
class Breaker:
    consecutive_failures: int = 0
    openings: int = 0
    open_until: float = 0.0
    last_reason: str = ""

    def is_open(self, now: float) -> bool:
        return now < self.open_until

    def on_success(self) -> Breaker:
        return Breaker()

    def on_failure(
        self, kind: FailureKind, reason: str, now: float, settings: BreakerSettings
    ) -> Breaker:
        failures = self.consecutive_failures + 1
        half_open = self.openings > 0  # a trial after a cool-down: one failure reopens
        if kind is FailureKind.UNREACHABLE or half_open or failures >= settings.threshold:
            openings = self.openings + 1
            cooldown = min(
                settings.max_cooldown_seconds,
                settings.base_cooldown_seconds * 2 ** (openings - 1),
            )
            return Breaker(failures, openings, now + cooldown, reason)
        return replace(self, consecutive_failures=failures, last_reason=reason)
