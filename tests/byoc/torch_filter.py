"""The torch filter example, imported here to compute what its container and Triton model
should answer."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
FILTER_DIR = REPO_ROOT / "examples" / "torch-filter"
SAMPLE = (FILTER_DIR / "sample.png").read_bytes()


def filter_module() -> ModuleType:
    sys.path.insert(0, str(FILTER_DIR))
    try:
        spec = importlib.util.spec_from_file_location(
            "torch_filter_expected", FILTER_DIR / "filter.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(FILTER_DIR))


def expected(kind: str, image: bytes = SAMPLE) -> bytes:
    """The filter's own answer, computed in this process."""
    answer: bytes = filter_module().apply(image, kind)
    return answer


def pixels(png: bytes) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGB").tobytes()


def same_image(png: bytes, wanted: bytes) -> bool:
    """The same size, every channel within 1 of `wanted`'s (float sums run in another order
    with another thread count, which can round a value the other way)."""
    ours, theirs = (np.frombuffer(pixels(p), dtype=np.uint8).astype(int) for p in (png, wanted))
    return ours.shape == theirs.shape and int(np.abs(ours - theirs).max()) <= 1
