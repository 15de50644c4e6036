"""The orchestrator's trickle server, reachable on a stream container's own loopback.

A container sits on a network with no way out (or with egress only), so it cannot reach the
orchestrator. For each running container that serves streams (TRICKLE_PORT_LABEL), the GPU
worker opens a listening socket on 127.0.0.1:<port> *inside the container's network namespace*
and forwards every connection to the orchestrator from the host's. The container is given
trickle URLs on its own loopback; nothing listens on any address but 127.0.0.1.

Entering another network namespace needs CAP_SYS_ADMIN (the GPU worker runs as root beside the
Docker engine). Only a dedicated thread ever switches namespace, and it switches straight back.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from tollway.byoc.spec import TRICKLE_PORT_LABEL, WORKER_LABEL, ContainerInfo
from tollway.errors import ContainerSetupFailed

__all__ = ["TrickleBridges", "trickle_url_inside"]

log = logging.getLogger("tollway.byoc.trickle_bridge")

_CLONE_NEWNET = 0x40000000
_CHUNK = 64 * 1024
_libc = ctypes.CDLL(None, use_errno=True)


def trickle_url_inside(port: int) -> str:
    """Where a bridged container reaches the orchestrator's trickle server."""
    return f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class _Target:
    host: str
    port: int


def _target_of(orchestrator_url: str) -> _Target:
    parts = urlsplit(orchestrator_url)
    if parts.scheme != "http" or not parts.hostname:
        raise ContainerSetupFailed(
            f"cannot bridge trickle to {orchestrator_url!r}: an http URL with a host is needed"
        )
    return _Target(parts.hostname, parts.port or 80)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def _listen_in_namespace(pid: int, port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:`port` in process `pid`'s network namespace."""
    box: dict[str, socket.socket | BaseException] = {}

    def inside() -> None:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            theirs = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                _setns(theirs)
                try:
                    box["socket"] = socket.create_server(("127.0.0.1", port))
                finally:
                    _setns(own)
            finally:
                os.close(theirs)
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc
        finally:
            os.close(own)

    thread = threading.Thread(target=inside, name=f"trickle-bridge-{pid}")
    thread.start()
    thread.join()
    error = box.get("error")
    if isinstance(error, BaseException):
        raise error
    found = box["socket"]
    assert isinstance(found, socket.socket)
    found.setblocking(False)
    return found


class TrickleBridges:
    """One bridge per running stream container of GPU worker `worker_id`, kept in step with
    the containers by `sync`."""

    def __init__(self, orchestrator_url: str, worker_id: str) -> None:
        self._target = _target_of(orchestrator_url)
        self._worker_id = worker_id
        self._servers: dict[str, asyncio.Server] = {}
        self._lock = asyncio.Lock()

    @property
    def bridged(self) -> set[str]:
        return set(self._servers)

    async def sync(self, containers: Iterable[ContainerInfo]) -> None:
        """Bridge every running container of this worker that asks for one; drop the bridges
        of the rest."""
        wanted = {
            c.container_id: (c.pid, int(c.labels[TRICKLE_PORT_LABEL]))
            for c in containers
            if c.status == "running"
            and c.pid
            and c.labels.get(WORKER_LABEL) == self._worker_id
            and c.labels.get(TRICKLE_PORT_LABEL, "").isdigit()
        }
        async with self._lock:
            for container_id in set(self._servers) - set(wanted):
                await self._drop(container_id)
            for container_id, (pid, port) in wanted.items():
                if container_id not in self._servers:
                    await self._open(container_id, pid, port)

    async def close(self) -> None:
        async with self._lock:
            for container_id in list(self._servers):
                await self._drop(container_id)

    async def _open(self, container_id: str, pid: int | None, port: int) -> None:
        assert pid is not None
        try:
            listening = await asyncio.to_thread(_listen_in_namespace, pid, port)
        except OSError as exc:
            # The container may have just exited; the next sync tries again if it has not.
            log.warning("cannot bridge trickle into %s: %s", container_id[:12], exc)
            return
        self._servers[container_id] = await asyncio.start_server(self._forward, sock=listening)
        log.info(
            "trickle bridge: %s 127.0.0.1:%d -> %s:%d",
            container_id[:12],
            port,
            self._target.host,
            self._target.port,
        )

    async def _drop(self, container_id: str) -> None:
        server = self._servers.pop(container_id)
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1.0)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self._target.host, self._target.port
            )
        except OSError as exc:
            log.warning("trickle bridge cannot reach %s: %s", self._target, exc)
            writer.close()
            return
        try:
            await asyncio.gather(_pump(reader, upstream_writer), _pump(upstream_reader, writer))
        finally:
            writer.close()
            upstream_writer.close()


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until the source ends, then pass the end on (a half close)."""
    try:
        while chunk := await source.read(_CHUNK):
            sink.write(chunk)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (ConnectionError, OSError):
        sink.close()
