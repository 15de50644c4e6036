"""Deterministic workflow classes only; no side effects at import."""
