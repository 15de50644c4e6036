"""Where the orchestrator keeps bodies too large for memory: requests while their job runs, and
answers. An answer kept with a job id's charge stays `ttl_seconds` (a retry is answered from
it); files older than that, and request files a killed process left, are swept away."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from tollway.store.spool import Spool

__all__ = ["BodyFiles"]

SWEEP_SECONDS = 60.0


class BodyFiles:
    def __init__(self, root: Path, ttl_seconds: float) -> None:
        self._requests = root / "requests"
        self._answers = root / "answers"
        self._ttl = ttl_seconds
        self._swept = 0.0
        for directory in (self._requests, self._answers):
            directory.mkdir(parents=True, exist_ok=True)
        for left in self._requests.iterdir():  # no job of a previous process runs any more
            left.unlink(missing_ok=True)

    def request(self) -> Spool:
        return Spool(self._requests)

    def answer(self) -> Spool:
        return Spool(self._answers)

    def answer_path(self, name: str) -> Path:
        return self._answers / Path(name).name

    def sweep(self) -> None:
        """Forget answers older than the TTL (at most once a minute)."""
        now = time.time()
        if now - self._swept < SWEEP_SECONDS:
            return
        self._swept = now
        for path in self._answers.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < now - self._ttl:
                    os.unlink(path)
