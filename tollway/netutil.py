"""Small networking helpers (tollway only ever binds 127.0.0.1)."""

from __future__ import annotations

import socket

__all__ = ["LOCALHOST", "free_port", "is_event_stream"]

LOCALHOST = "127.0.0.1"


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port that was free on `host` a moment ago (the caller should retry on a clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def is_event_stream(status_code: int, content_type: str) -> bool:
    """A successful answer of server-sent events: relayed as it comes, not read whole."""
    media = content_type.split(";")[0].strip().lower()
    return status_code < 300 and media == "text/event-stream"
