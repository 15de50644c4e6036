"""Live outputs: a job's answer written as it arrives (server-sent events), so that the gateway
API can relay it while the dispatch, in whichever process runs it, is still receiving it.

Per job, in `<artifacts>/live/`: `<name>.body` grows chunk by chunk; `<name>.head` (the status,
content type and orchestrator, as JSON) appears once the body file exists; `<name>.end` once
the body is complete. The whole body becomes the job's output artifact by a hard link, so the
bytes are written once and never held whole in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel

__all__ = ["LiveHead", "LiveOutputs", "LiveWriter"]

POLL_SECONDS = 0.005
"""How often a reader looks for more: the most a relayed event waits on this side."""


class LiveHead(BaseModel):
    status_code: int
    content_type: str
    orchestrator: str
    metadata: str | None = None


class LiveWriter:
    def __init__(self, body: BinaryIO, end: Path) -> None:
        self._body = body
        self._end = end

    def write(self, chunk: bytes) -> None:
        self._body.write(chunk)
        self._body.flush()

    def finish(self, artifact: Path) -> None:
        """Close the body, name it `artifact` too, and mark it complete."""
        self._body.close()
        os.link(self._body.name, artifact)
        self._end.touch()

    def abandon(self) -> None:
        self._body.close()
        self._end.touch()


class LiveOutputs:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _paths(self, job_id: str) -> tuple[Path, Path, Path]:
        name = hashlib.sha256(job_id.encode()).hexdigest()[:32]
        return (self.root / f"{name}.head", self.root / f"{name}.body", self.root / f"{name}.end")

    def start(self, job_id: str, head: LiveHead) -> LiveWriter:
        """Begin (or, for a retried dispatch, begin again) the job's live output."""
        head_path, body_path, end_path = self._paths(job_id)
        for path in (head_path, end_path, body_path):
            path.unlink(missing_ok=True)
        body = open(body_path, "wb")
        tmp = head_path.with_suffix(".tmp")
        tmp.write_text(head.model_dump_json())
        os.replace(tmp, head_path)
        return LiveWriter(body, end_path)

    def remove(self, job_id: str) -> None:
        """Remove the job's live output, if it had one."""
        for path in self._paths(job_id):
            path.unlink(missing_ok=True)

    def head_path(self, job_id: str) -> str:
        """Where the job's head appears (for a waiter that looks often: `os.path.exists`)."""
        return str(self._paths(job_id)[0])

    def head(self, job_id: str) -> LiveHead | None:
        head_path, _, _ = self._paths(job_id)
        try:
            return LiveHead.model_validate_json(head_path.read_bytes())
        except FileNotFoundError:
            return None

    def finished(self, job_id: str) -> bool:
        """True once the job's live output is complete (or was given up)."""
        return self._paths(job_id)[2].exists()

    async def follow(self, job_id: str, until: float) -> AsyncIterator[bytes]:
        """The body as it is written, until it is complete or `until` (monotonic) passes."""
        _, body_path, end_path = self._paths(job_id)
        with open(body_path, "rb") as body:
            while True:
                chunk = body.read(65536)
                if chunk:
                    yield chunk
                    continue
                if end_path.exists():
                    rest = body.read()
                    if rest:
                        yield rest
                    return
                if time.monotonic() > until:
                    return
                await asyncio.sleep(POLL_SECONDS)
