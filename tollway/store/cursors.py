"""Keyset cursors for lists ordered newest first by (created_at, id): a cursor is the last row's
pair, so a page is as cheap deep in a list as at its head, and a row made meanwhile moves
nothing."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from tollway.errors import BadRequest

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The pair a cursor names, or BadRequest naming the `cursor` field."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, row_id = json.loads(raw)
        return datetime.fromisoformat(at), str(row_id)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadRequest("cursor is not one this API gave out", field="cursor") from exc
