"""Deterministic workflow classes only; no side effects at import."""

__all__ = ["container", "fleet", "job", "network", "redemption", "reward"]
