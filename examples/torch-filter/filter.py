"""A small torch image filter: an image in (PNG, JPEG, anything Pillow reads), a PNG out.

FILTER picks the kernel: "edges" (Sobel gradient magnitude, the default), "blur" (Gaussian) or
"sharpen". The work runs on the first CUDA GPU when torch sees one, on the CPU otherwise.
Shared by the container (server.py) and the Triton model (triton_model.py).
"""

from __future__ import annotations

import io
import os

import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = int(os.environ.get("MAX_PIXELS", str(16 * 1024 * 1024)))
FILTERS = ("edges", "blur", "sharpen")
DEVICE = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")

_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
_GAUSS = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
_SHARPEN = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]])


class BadImage(ValueError):
    """The input is not an image this filter takes: the caller's fault, said in the message."""


def decode(data: bytes) -> torch.Tensor:
    """The image as a float tensor, 3 x H x W in 0..1."""
    if not data:
        raise BadImage("empty body: send an image (PNG or JPEG)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise BadImage(f"image is {width}x{height}, more than {MAX_PIXELS} pixels")
            rgb = image.convert("RGB")
    except UnidentifiedImageError:
        raise BadImage("not an image Pillow can read (send PNG, JPEG, WebP, ...)") from None
    except (OSError, Image.DecompressionBombError) as exc:
        raise BadImage(f"unreadable image: {exc}") from None
    pixels = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8)
    return pixels.view(height, width, 3).permute(2, 0, 1).float().div(255.0)


def encode(image: torch.Tensor) -> bytes:
    """A 3 x H x W tensor in 0..1 as PNG bytes."""
    pixels = image.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).permute(1, 2, 0).cpu()
    out = io.BytesIO()
    Image.fromarray(pixels.contiguous().numpy(), "RGB").save(out, format="PNG")
    return out.getvalue()


def run(image: torch.Tensor, kind: str) -> torch.Tensor:
    """`kind` applied to a 3 x H x W image; the result has the same shape."""
    batch = image.unsqueeze(0).to(DEVICE)
    if kind == "edges":
        gray = batch.mean(dim=1, keepdim=True)
        padded = F.pad(gray, (1, 1, 1, 1), mode="replicate")
        gx = F.conv2d(padded, _SOBEL_X.to(DEVICE).view(1, 1, 3, 3))
        gy = F.conv2d(padded, _SOBEL_X.t().to(DEVICE).view(1, 1, 3, 3))
        result = (gx.square() + gy.square()).sqrt().div(4.0).expand(-1, 3, -1, -1)
    elif kind == "blur":
        kernel = torch.outer(_GAUSS, _GAUSS) / 256.0
        result = _per_channel(batch, kernel.to(DEVICE))
    elif kind == "sharpen":
        result = _per_channel(batch, _SHARPEN.to(DEVICE))
    else:
        raise BadImage(f"unknown filter {kind!r}; choose one of {', '.join(FILTERS)}")
    return result.squeeze(0)


def _per_channel(batch: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    size = kernel.shape[0]
    half = size // 2
    padded = F.pad(batch, (half, half, half, half), mode="replicate")
    return F.conv2d(padded, kernel.view(1, 1, size, size).repeat(3, 1, 1, 1), groups=3)


def apply(data: bytes, kind: str | None = None) -> bytes:
    """The whole job: image bytes in, filtered PNG bytes out."""
    with torch.inference_mode():
        return encode(run(decode(data), kind or os.environ.get("FILTER", "edges")))
