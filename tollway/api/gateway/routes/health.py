from __future__ import annotations

from fastapi import APIRouter

__all__ = ["healthz", "router"]

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "role": "gateway"}
