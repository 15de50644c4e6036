"""Job inputs and outputs stored as files and named by id, so bytes stay out of workflow history.

The gateway API and gateway workers share one directory here; at scale this is object storage.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

from tollway.errors import NotFound
from tollway.store.spool import file_chunks

__all__ = ["ArtifactStore"]

_ID = re.compile(r"^[0-9a-f]{32}$")


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, artifact_id: str) -> Path:
        if not _ID.match(artifact_id):
            raise NotFound(f"no artifact {artifact_id!r}")
        return self.root / artifact_id

    def new(self) -> tuple[str, Path]:
        """A fresh id and where its artifact goes, for a writer that puts the file there."""
        artifact_id = uuid.uuid4().hex
        return artifact_id, self.root / artifact_id

    def put(self, data: bytes) -> str:
        artifact_id = uuid.uuid4().hex
        tmp = self.root / f".{artifact_id}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.root / artifact_id)
        return artifact_id

    async def put_chunks(self, chunks: AsyncIterable[bytes]) -> tuple[str, int]:
        """Store bytes as they arrive, never all in memory; (artifact id, size)."""
        artifact_id = uuid.uuid4().hex
        tmp = self.root / f".{artifact_id}.tmp"
        size = 0
        try:
            with open(tmp, "wb") as file:
                async for chunk in chunks:
                    file.write(chunk)
                    size += len(chunk)
            os.replace(tmp, self.root / artifact_id)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return artifact_id, size

    def size(self, artifact_id: str) -> int:
        try:
            return self.path(artifact_id).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(f"no artifact {artifact_id!r}") from exc

    def chunks(self, artifact_id: str) -> AsyncIterator[bytes]:
        return file_chunks(self.path(artifact_id))

    def remove(self, artifact_id: str) -> None:
        """Remove the artifact (nothing happens when it is gone already)."""
        self.path(artifact_id).unlink(missing_ok=True)

    def get(self, artifact_id: str) -> bytes:
        path = self.path(artifact_id)
        if not path.exists():
            raise NotFound(f"no artifact {artifact_id!r}")
        return path.read_bytes()
