"""Video for live streams on the client side: a generated test pattern cut into MPEG-TS
segments, a video file cut the same way, and segments decoded back into frames (PyAV).

The pattern is what a pixel check needs: two flat halves (a warm left, a cool right) whose
colours survive lossy encoding, a white bar that moves, and the frame's number written in the
top band as 16 black or white blocks, so a frame that comes back says which one it was.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

__all__ = [
    "CODE_ROWS",
    "LEFT_COLOUR",
    "RIGHT_COLOUR",
    "BadSegment",
    "Frame",
    "decode_segment",
    "encode_segment",
    "file_segments",
    "frame_number",
    "pattern_frame",
    "pattern_segments",
]

Frame = npt.NDArray[np.uint8]
"""H x W x 3, RGB."""

LEFT_COLOUR = (208, 64, 48)
RIGHT_COLOUR = (40, 96, 200)
CODE_ROWS = 16
"""The top band that holds the frame's number; the colours start below it."""
_BITS = 16
_BAR_WIDTH = 6


def pattern_frame(index: int, width: int, height: int) -> Frame:
    """Frame `index` of the test pattern (at least 64 x 64)."""
    if width < 64 or height < 64:
        raise ValueError(f"the test pattern needs at least 64 x 64, not {width} x {height}")
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:, : width // 2] = LEFT_COLOUR
    frame[:, width // 2 :] = RIGHT_COLOUR
    block = width // _BITS
    for bit in range(_BITS):
        on = (index >> (_BITS - 1 - bit)) & 1
        frame[:CODE_ROWS, bit * block : (bit + 1) * block] = 255 if on else 0
    bar = (index * 4) % max(1, width - _BAR_WIDTH)
    frame[(3 * height) // 4 :, bar : bar + _BAR_WIDTH] = 255
    return frame


def frame_number(frame: Frame, inverted: bool = False) -> int:
    """The number a pattern frame carries (mod 65536), read back after encoding; `inverted`
    for a frame whose colours were inverted on the way."""
    width = frame.shape[1]
    block = width // _BITS
    number = 0
    for bit in range(_BITS):
        # The middle of each block: its edges blur into the next one.
        core = frame[2 : CODE_ROWS - 2, bit * block + 2 : (bit + 1) * block - 2]
        on = float(core.mean()) > 127.5
        number = (number << 1) | int(on != inverted)
    return number


def pattern_segments(
    width: int, height: int, fps: int, frames_per_segment: int, count: int | None = None
) -> Iterator[bytes]:
    """The test pattern as MPEG-TS segments (H.264), `count` of them or forever."""
    n = 0
    while count is None or n < count:
        first = n * frames_per_segment
        frames = (pattern_frame(first + i, width, height) for i in range(frames_per_segment))
        yield encode_segment(frames, fps, first)
        n += 1


def encode_segment(frames: Iterable[Frame], fps: int, first_index: int) -> bytes:
    """Frames as one MPEG-TS segment that starts on a key frame; `first_index` carries the
    timestamps on from the segment before."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.pix_fmt = "yuv420p"
        stream.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency"}
        stream.codec_context.time_base = Fraction(1, fps)
        sized = False
        for i, pixels in enumerate(frames):
            if not sized:
                stream.height, stream.width = pixels.shape[0], pixels.shape[1]
                sized = True
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = first_index + i
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def file_segments(path: Path, frames_per_segment: int) -> Iterator[bytes]:
    """A video file's frames, re-encoded as MPEG-TS segments (H.264) at its own frame rate."""
    with av.open(str(path)) as source:
        video = source.streams.video[0]
        fps = round(float(video.average_rate or 30))
        batch: list[Frame] = []
        first = 0
        for frame in source.decode(video):
            batch.append(_rgb(frame))
            if len(batch) == frames_per_segment:
                yield encode_segment(batch, fps, first)
                first += len(batch)
                batch = []
        if batch:
            yield encode_segment(batch, fps, first)


class BadSegment(ValueError):
    """A segment that is not MPEG-TS video PyAV can decode."""


def decode_segment(data: bytes) -> list[Frame]:
    """Every video frame in one MPEG-TS segment; [] for a segment with none. BadSegment for
    one that does not decode."""
    frames: list[Frame] = []
    if not data:
        return frames
    try:
        with av.open(io.BytesIO(data), mode="r", format="mpegts") as container:
            if not container.streams.video:
                return frames
            for frame in container.decode(video=0):
                frames.append(_rgb(frame))
    except av.FFmpegError as exc:
        raise BadSegment(f"not decodable MPEG-TS video ({len(data)} bytes): {exc}") from exc
    return frames


def _rgb(frame: av.VideoFrame) -> Frame:
    return np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
