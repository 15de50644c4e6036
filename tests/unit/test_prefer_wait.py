"""`Prefer: wait` (RFC 7240) as the jobs API reads it."""

from __future__ import annotations

import pytest

from tollway.api.gateway.routes.jobs import wait_seconds


@pytest.mark.parametrize(
    ("prefer", "seconds"),
    [
        (None, None),
        ("", None),
        ("respond-async", None),
        ("waiting=5", None),
        ("wait", 60),
        ("wait=5", 5),
        ("WAIT=5", 5),
        ('wait="7"', 7),
        ("respond-async, wait=10", 10),
        ("wait=0", 1),
        ("wait=3600", 60),
        ("handling=lenient; wait=2", 2),
    ],
)
def test_wait_seconds(prefer: str | None, seconds: int | None) -> None:
    assert wait_seconds(prefer) == seconds
