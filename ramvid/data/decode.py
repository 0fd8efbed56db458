"""Decode one video file with PyAV into uint8 [T, R, R, 3], or say exactly why it is skipped.

Resize rule: the centred square of side min(H, W) (sub-pixel exact, via PIL's ``box``) is resized to
R x R with PIL's Lanczos filter, which widens its kernel by the downscale factor (antialiased). This
equals "resize the short side to R, then centre-crop" without rounding the crop offset.

Containers lie about frame counts (webm reports 0, avi may report more than decode), so the header
is never used: frames are decoded until the stream ends. FFmpeg's error log is captured so a
silently truncated file ("File ended prematurely") is caught even when no exception is raised.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import av.logging
import numpy as np
from PIL import Image

# An equal copy of metrics.videos.VIDEO_EXTENSIONS (ramvid must not import metrics); pinned equal by
# tests/test_naming.py, so ``prepare videos`` and ``fvd FOLDER`` accept the same files.
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv",
                              ".ogv", ".3gp", ".wmv", ".gif"})
_TRUNCATION_LOGS = ("ended prematurely", "truncat", "partial file", "end of file")


@dataclass(frozen=True)
class DecodeOptions:
    """How every video is turned into frames; stored in the output's attributes."""

    resolution: int = 64
    stride: int = 1              # keep frames 0, stride, 2*stride, ...
    min_frames: int = 16         # fewer frames (after stride) -> skipped as too short
    max_frames: int = 0          # 0: no cap; else stop after this many kept frames
    keep_truncated: bool = False  # keep the frames decoded before a mid-stream error

    def __post_init__(self) -> None:
        if self.resolution < 4 or self.stride < 1 or self.min_frames < 1 or self.max_frames < 0:
            raise ValueError("resolution >= 4, stride >= 1, min_frames >= 1 and max_frames >= 0 required")


class SkipVideo(Exception):
    """A file that yields no video; ``str(exc)`` is the reason written to the report."""


def square_resize(img: Image.Image, r: int) -> np.ndarray:
    """Centre square of ``img`` resized to r x r (Lanczos): uint8 [r, r, 3]."""
    w, h = img.size
    s = min(w, h)
    box = ((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2)
    return np.asarray(img.convert("RGB").resize((r, r), Image.LANCZOS, box=box))


def _describe(error: Exception | None, logs: list) -> str:
    """One line: the exception's message plus FFmpeg's most telling error log line."""
    errs = [m.strip() for level, _, m in logs if level <= av.logging.ERROR and m.strip()]
    telling = [m for m in errs if any(k in m.lower() for k in _TRUNCATION_LOGS)] or errs
    if error is None:
        return telling[0] if telling and telling is not errs else ""
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return f"{text} ({telling[-1]})" if telling else text


def _decode_frames(container: av.container.InputContainer, opts: DecodeOptions
                   ) -> tuple[list, Exception | None]:
    """Kept frames and the exception that ended decoding early (None if the stream ended cleanly)."""
    stream = container.streams.video[0]
    frames: list[np.ndarray] = []
    try:
        for k, frame in enumerate(container.decode(stream)):
            if k % opts.stride == 0:
                frames.append(square_resize(frame.to_image(), opts.resolution))
                if opts.max_frames and len(frames) >= opts.max_frames:
                    break
    except (av.error.FFmpegError, ValueError, OSError) as e:
        return frames, e
    return frames, None


def decode_video(path: str | os.PathLike, opts: DecodeOptions) -> np.ndarray:
    """Every (strided) frame of ``path`` as uint8 [T, R, R, 3]; raises ``SkipVideo(reason)``."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise SkipVideo("empty file (0 bytes)")
    av.logging.set_level(av.logging.ERROR)
    with av.logging.Capture(local=False) as logs:  # FFmpeg's log goes to the report, not the terminal
        try:
            container = av.open(str(path), metadata_errors="ignore")
        except (av.error.FFmpegError, ValueError, OSError) as e:
            raise SkipVideo(f"cannot open: {_describe(e, logs)}") from None
        with container:
            if not container.streams.video:
                raise SkipVideo("no video stream")
            frames, error = _decode_frames(container, opts)
    problem = _describe(error, logs) if error is not None else _describe(None, logs)
    if problem and not opts.keep_truncated:
        raise SkipVideo(f"truncated or corrupt after {len(frames)} frames: {problem}")
    if len(frames) < opts.min_frames:
        raise SkipVideo(f"too short: {len(frames)} frames < min_frames {opts.min_frames}")
    return np.stack(frames)
