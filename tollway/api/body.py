"""Reading request bodies with a size limit, refusing early on a too-large Content-Length."""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from tollway.errors import BadRequest, BodyTooLarge

__all__ = ["parse_json_body", "read_body"]

M = TypeVar("M", bound=BaseModel)


def parse_json_body(model: type[M], body: bytes) -> M:
    """`body` as `model`, or a 400 naming every field that is wrong."""
    try:
        return model.model_validate_json(body or b"null")
    except ValidationError as exc:
        raise BadRequest.from_validation(list(exc.errors())) from exc


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number", field="Content-Length")
        if int(declared) > limit:
            raise BodyTooLarge(f"body of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
