"""The torch effects live-effect applies to every video frame.

A frame is an H x W x 3 (or 1 x H x W x 3) float tensor in 0..1, as pytrickle hands it over;
each effect returns one of the same shape. EFFECT picks one: "invert" (the default), "sepia"
or "edges" (Sobel gradient magnitude). The work runs on the first CUDA GPU when torch sees one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EFFECTS = ("invert", "sepia", "edges")
DEVICE = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")

_SEPIA = torch.tensor([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]]).T
_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def apply(frame: torch.Tensor, effect: str) -> torch.Tensor:
    """`effect` applied to one frame (channels last, values in 0..1)."""
    if effect not in EFFECTS:
        raise ValueError(f"unknown effect {effect!r}: pick one of {', '.join(EFFECTS)}")
    pixels = frame.to(DEVICE, torch.float32)
    if effect == "invert":
        out = 1.0 - pixels
    elif effect == "sepia":
        out = pixels @ _SEPIA.to(DEVICE)
    else:
        out = _edges(pixels)
    return out.clamp(0.0, 1.0).to(frame.device)


def _edges(pixels: torch.Tensor) -> torch.Tensor:
    batched = pixels if pixels.dim() == 4 else pixels.unsqueeze(0)
    gray = batched.mean(dim=-1).unsqueeze(1)  # N x 1 x H x W
    kernels = torch.stack([_SOBEL_X, _SOBEL_X.T]).unsqueeze(1).to(DEVICE)
    gradient = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), kernels)
    magnitude = gradient.pow(2).sum(dim=1, keepdim=True).sqrt().div(4.0)
    out = magnitude.squeeze(1).unsqueeze(-1).expand(*batched.shape)
    return out if pixels.dim() == 4 else out.squeeze(0)
