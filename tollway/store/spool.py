"""Bytes that may be large: held in memory up to a limit, beyond it written to a file, and read
back in chunks as often as needed (a request tried on a second replica, an answer relayed and
kept). So a large body is never held whole in memory, and a small one costs no file.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["CHUNK_BYTES", "MEMORY_LIMIT", "Spool", "file_chunks"]

MEMORY_LIMIT = 1024 * 1024
CHUNK_BYTES = 256 * 1024


async def file_chunks(path: Path, offset: int = 0) -> AsyncIterator[bytes]:
    """`path`'s bytes from `offset`, a chunk at a time."""
    with open(path, "rb") as file:
        file.seek(offset)
        while chunk := file.read(CHUNK_BYTES):
            yield chunk


class Spool:
    def __init__(self, directory: Path, memory_limit: int = MEMORY_LIMIT) -> None:
        self._directory = directory
        self._limit = memory_limit
        self._memory = bytearray()
        self._file: BinaryIO | None = None
        self.path: Path | None = None
        """The file holding the bytes, once they outgrew memory."""
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._file is None and len(self._memory) + len(chunk) <= self._limit:
            self._memory += chunk
            return
        if self._file is None:
            self._directory.mkdir(parents=True, exist_ok=True)
            self.path = self._directory / uuid.uuid4().hex
            self._file = open(self.path, "wb")
            self._file.write(self._memory)
            self._memory = bytearray()
        self._file.write(chunk)

    def close(self) -> None:
        """Done writing."""
        if self._file is not None:
            self._file.close()

    def in_memory(self) -> bytes | None:
        """The bytes, when they never outgrew memory."""
        return None if self.path is not None else bytes(self._memory)

    def head(self, size: int) -> bytes:
        """The first `size` bytes (for an error message)."""
        if self.path is None:
            return bytes(self._memory[:size])
        with open(self.path, "rb") as file:
            return file.read(size)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The bytes from the start, a chunk at a time."""
        if self.path is None:
            if self._memory:
                yield bytes(self._memory)
            return
        async for chunk in file_chunks(self.path):
            yield chunk

    def discard(self) -> None:
        """Remove the file, if any."""
        self.close()
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
