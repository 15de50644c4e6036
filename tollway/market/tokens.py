"""Job tokens reused for a few seconds, as go-livepeer reuses a session's ticket params: most
jobs then cost no token round trip. A token is dropped as soon as a dispatch on it fails (its
params expired, the orchestrator wants more credit, or anything else), and the balance it
reports follows the orchestrator's answers meanwhile."""

from __future__ import annotations

import time

from tollway.market.selection import Candidate

__all__ = ["RecentTokens"]


class RecentTokens:
    def __init__(self, reuse_seconds: float) -> None:
        self._reuse = reuse_seconds
        self._kept: dict[tuple[str, str], tuple[float, Candidate]] = {}

    def get(self, url: str, capability: str) -> Candidate | None:
        kept = self._kept.get((url, capability))
        if kept is None or kept[0] < time.monotonic():
            return None
        return kept[1]

    def keep(self, candidate: Candidate, capability: str) -> None:
        if self._reuse > 0:
            expires = time.monotonic() + self._reuse
            self._kept[(candidate.url, capability)] = (expires, candidate)

    def forget(self, url: str, capability: str) -> None:
        self._kept.pop((url, capability), None)

    def balance(self, url: str, capability: str, balance_wei: int) -> None:
        """The orchestrator's credit for us, as its latest answer reported it."""
        kept = self._kept.get((url, capability))
        if kept is not None:
            expires, candidate = kept
            updated = candidate.model_copy(update={"balance_wei": balance_wei})
            self._kept[(url, capability)] = (expires, updated)
