"""A spool holds small bodies in memory and large ones in a file, read back as often as asked."""

from __future__ import annotations

from pathlib import Path

from tollway.store.spool import Spool


async def read(spool: Spool) -> bytes:
    return b"".join([chunk async for chunk in spool.chunks()])


async def test_a_small_body_stays_in_memory(tmp_path: Path) -> None:
    spool = Spool(tmp_path, memory_limit=10)
    spool.write(b"hello")
    spool.write(b"world")
    spool.close()
    assert spool.in_memory() == b"helloworld" and spool.path is None
    assert await read(spool) == await read(spool) == b"helloworld"
    assert list(tmp_path.iterdir()) == []


async def test_a_large_body_goes_to_a_file_and_reads_back_twice(tmp_path: Path) -> None:
    spool = Spool(tmp_path, memory_limit=10)
    parts = [bytes([i]) * 7 for i in range(100)]
    for part in parts:
        spool.write(part)
    spool.close()
    assert spool.in_memory() is None and spool.path is not None
    assert spool.size == 700 and spool.path.stat().st_size == 700
    assert await read(spool) == await read(spool) == b"".join(parts)
    assert spool.head(9) == b"\x00" * 7 + b"\x01" * 2
    spool.discard()
    assert list(tmp_path.iterdir()) == []
    spool.discard()  # twice is harmless
