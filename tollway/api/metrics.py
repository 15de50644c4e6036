"""`GET /metrics` for both APIs (a route, not a mount, so the path needs no trailing slash)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["metrics", "router"]

router = APIRouter()


@router.get("/metrics", response_class=PlainTextResponse)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
