"""Running a Temporal worker until SIGTERM/SIGINT, then shutting it down gracefully."""

from __future__ import annotations

import asyncio
import signal

from prometheus_client import start_http_server
from temporalio.worker import Worker

__all__ = ["run_until_signalled", "serve_metrics"]


def serve_metrics(port: int | None, host: str = "127.0.0.1") -> None:
    """Serve this process's Prometheus metrics on `host`:`port` (when a port is set)."""
    if port is not None:
        start_http_server(port, addr=host)


async def run_until_signalled(*workers: Worker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
    for worker in workers:
        await worker.shutdown()
    for task in done:
        if task is not waiter:
            task.result()
