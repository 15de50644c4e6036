"""Reading request bodies with a size limit (refused early on a too-large Content-Length) and a
time limit (a stalled client does not hold a connection forever); a client that hangs up
mid-body is an expected event, answered like any bad request, not an internal error."""

from __future__ import annotations

import asyncio
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from tollway.errors import BadRequest, BodyIncomplete, BodyTooLarge, RequestTimeout

__all__ = ["parse_json_body", "read_body"]

M = TypeVar("M", bound=BaseModel)


def parse_json_body(model: type[M], body: bytes) -> M:
    """`body` as `model`, or a 400 naming every field that is wrong."""
    try:
        return model.model_validate_json(body or b"null")
    except ValidationError as exc:
        raise BadRequest.from_validation(list(exc.errors())) from exc


async def read_body(request: Request, limit: int, timeout_seconds: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number", field="Content-Length")
        if int(declared) > limit:
            raise BodyTooLarge(f"body of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(f"body exceeds the {limit}-byte limit")
                chunks.append(chunk)
    except TimeoutError as exc:
        raise RequestTimeout(
            f"the body did not arrive within {timeout_seconds:g} s ({size} bytes came)"
        ) from exc
    except ClientDisconnect as exc:
        raise BodyIncomplete(f"the client hung up after {size} bytes of its body") from exc
    return b"".join(chunks)
