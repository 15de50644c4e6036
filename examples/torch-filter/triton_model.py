"""The torch filter as a Triton model: tollway's Triton host imports this file and serves
`infer` through nvidia-pytriton's bundled Triton server (tollway/byoc/CONTRACT.md, "Triton")."""

from __future__ import annotations

import filter as image_filter

CONTENT_TYPE = "image/png"
CLIENT_ERRORS = (image_filter.BadImage,)


def infer(body: bytes) -> bytes:
    return image_filter.apply(body)
