"""`python -m tollway.byoc.triton_host`: serve one model file through nvidia-pytriton's bundled
Triton server, on 127.0.0.1. The GPU worker's TritonRuntime starts one per Triton replica.

The model file (tollway/byoc/CONTRACT.md, "Triton") defines `infer(body: bytes) -> bytes` and
may define CONTENT_TYPE (default application/octet-stream) and CLIENT_ERRORS, the exception
types that mean the input was at fault (answered 400; any other exception answers 500). Its
folder is put on sys.path, so it may import files beside it. Triton batches requests that
arrive together (up to --max-batch-size); `infer` sees them one at a time, so one bad input
fails only its own request.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn, cast

import numpy as np

from tollway.byoc.triton_wire import BODY, CONTENT_TYPE, ERROR, STATUS

__all__ = ["ModelFile", "answer", "batch_infer", "load_model", "main"]

log = logging.getLogger("tollway.triton_host")
EXIT_TIMEOUT_SECONDS = 3


@dataclass(frozen=True)
class ModelFile:
    infer: Callable[[bytes], bytes]
    content_type: str
    client_errors: tuple[type[BaseException], ...]


def load_model(path: Path) -> ModelFile:
    """Import the model file; a file without `infer` is refused with its name."""
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("tollway_triton_model", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: not a Python file")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    infer = getattr(module, "infer", None)
    if not callable(infer):
        raise SystemExit(f"{path}: defines no infer(body: bytes) -> bytes")
    return ModelFile(
        infer=infer,
        content_type=str(getattr(module, "CONTENT_TYPE", "application/octet-stream")),
        client_errors=tuple(getattr(module, "CLIENT_ERRORS", ())),
    )


def answer(model: ModelFile, body: bytes) -> tuple[bytes, int, str]:
    """(output, HTTP status, error message) for one request."""
    try:
        out = model.infer(body)
    except model.client_errors as exc:
        return b"", 400, str(exc) or type(exc).__name__
    except Exception as exc:
        log.error("infer failed:\n%s", traceback.format_exc())
        return b"", 500, f"{type(exc).__name__}: {exc}"
    if not isinstance(out, bytes | bytearray):
        return b"", 500, f"infer returned {type(out).__name__}, not bytes"
    return bytes(out), 200, ""


def batch_infer(model: ModelFile) -> Callable[..., dict[str, np.ndarray[Any, Any]]]:
    """The pytriton inference callable: each row of the batch answered on its own."""
    from pytriton.decorators import batch

    def infer(body: np.ndarray[Any, Any]) -> dict[str, np.ndarray[Any, Any]]:
        rows = [answer(model, bytes(item)) for item in body[:, 0]]
        return {
            BODY: np.array([[out] for out, _, _ in rows], dtype=np.object_),
            STATUS: np.array([[status] for _, status, _ in rows], dtype=np.int32),
            ERROR: np.array([[error.encode()] for _, _, error in rows], dtype=np.object_),
            CONTENT_TYPE: np.array([[model.content_type.encode()]] * len(rows), dtype=np.object_),
        }

    return cast(Callable[..., dict[str, np.ndarray[Any, Any]]], batch(infer))


def _exit(signum: int, frame: object) -> NoReturn:
    sys.exit(0)  # unwinds through Triton's context manager, which stops the server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-file", type=Path, required=True)
    parser.add_argument("--name", required=True, help="the Triton model name (the capability)")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--workspace", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    model = load_model(args.model_file.resolve())

    from pytriton.model_config import ModelConfig, Tensor
    from pytriton.triton import Triton, TritonConfig

    config = TritonConfig(
        http_address="127.0.0.1",
        http_port=args.http_port,
        grpc_address="127.0.0.1",
        grpc_port=args.grpc_port,
        metrics_address="127.0.0.1",
        metrics_port=args.metrics_port,
        exit_timeout_secs=EXIT_TIMEOUT_SECONDS,
    )
    signal.signal(signal.SIGTERM, _exit)
    with Triton(config=config, workspace=args.workspace) as triton:
        triton.bind(
            model_name=args.name,
            infer_func=batch_infer(model),
            inputs=[Tensor(name=BODY, dtype=bytes, shape=(1,))],
            outputs=[
                Tensor(name=BODY, dtype=bytes, shape=(1,)),
                Tensor(name=STATUS, dtype=np.int32, shape=(1,)),
                Tensor(name=ERROR, dtype=bytes, shape=(1,)),
                Tensor(name=CONTENT_TYPE, dtype=bytes, shape=(1,)),
            ],
            config=ModelConfig(max_batch_size=args.max_batch_size),
            strict=True,
        )
        log.info("serving %s from %s on 127.0.0.1:%d", args.name, args.model_file, args.http_port)
        triton.serve()


if __name__ == "__main__":
    main()
