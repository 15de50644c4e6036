"""A job's stored output as an HTTP answer: small ones in one piece, large ones streamed from
their file, never read whole into memory."""

from __future__ import annotations

from fastapi import Response
from fastapi.responses import StreamingResponse

from tollway.store.artifacts import ArtifactStore
from tollway.store.spool import MEMORY_LIMIT

__all__ = ["output_response"]


def output_response(
    artifacts: ArtifactStore,
    artifact_id: str,
    status_code: int,
    media_type: str,
    headers: dict[str, str],
) -> Response:
    size = artifacts.size(artifact_id)
    if size <= MEMORY_LIMIT:
        body = artifacts.get(artifact_id)
        return Response(body, status_code=status_code, media_type=media_type, headers=headers)
    return StreamingResponse(
        artifacts.chunks(artifact_id),
        status_code=status_code,
        media_type=media_type,
        headers={**headers, "Content-Length": str(size)},
    )
