"""Reading request bodies, whole or chunk by chunk, with a size limit (refused early on a
too-large Content-Length) and a time limit (a stalled client does not hold a connection
forever); a client that hangs up mid-body is an expected event, answered like any bad request,
not an internal error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from tollway.errors import BadRequest, BodyIncomplete, BodyTooLarge, RequestTimeout
from tollway.store.spool import Spool

__all__ = ["body_chunks", "parse_json_body", "read_body", "spool_body"]

M = TypeVar("M", bound=BaseModel)


def parse_json_body(model: type[M], body: bytes) -> M:
    """`body` as `model`, or a 400 naming every field that is wrong."""
    try:
        return model.model_validate_json(body or b"null")
    except ValidationError as exc:
        raise BadRequest.from_validation(list(exc.errors())) from exc


async def body_chunks(request: Request, limit: int, timeout_seconds: float) -> AsyncIterator[bytes]:
    """The request's body as it arrives, refused once it passes `limit` bytes (at once on a
    larger Content-Length) or takes longer than `timeout_seconds`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number", field="Content-Length")
        if int(declared) > limit:
            raise BodyTooLarge(f"body of {declared} bytes exceeds the {limit}-byte limit")
    size = 0
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    stream = request.stream().__aiter__()
    while True:
        try:
            async with asyncio.timeout_at(deadline):
                chunk = await anext(stream)
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise RequestTimeout(
                f"the body did not arrive within {timeout_seconds:g} s ({size} bytes came)"
            ) from exc
        except ClientDisconnect as exc:
            raise BodyIncomplete(f"the client hung up after {size} bytes of its body") from exc
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body exceeds the {limit}-byte limit")
        yield chunk


async def read_body(request: Request, limit: int, timeout_seconds: float) -> bytes:
    """The whole body (for small bodies a handler parses)."""
    return b"".join([chunk async for chunk in body_chunks(request, limit, timeout_seconds)])


async def spool_body(request: Request, limit: int, timeout_seconds: float, spool: Spool) -> Spool:
    """The body written to `spool` (discarded if it does not arrive whole)."""
    try:
        async for chunk in body_chunks(request, limit, timeout_seconds):
            spool.write(chunk)
    except BaseException:
        spool.discard()
        raise
    spool.close()
    return spool
