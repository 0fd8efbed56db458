"""Video tensors at the boundaries: uint8 [N, T, H, W, 3] on disk, float [-1, 1] [N, 3, T, H, W] in the model.

Also the `.npz` sample files (key ``videos``) and pictures for people: labelled grids (animated:
``grid_frames``; every frame side by side: ``filmstrip``) with known frames marked, written as GIF, MP4
or WebP by the file's suffix (``write_video``).
"""
from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ramvid.utils import atomic_path


def check_videos(videos: np.ndarray, name: str = "videos") -> np.ndarray:
    """Assert the on-disk contract: uint8 [N, T, H, W, 3]. One clear line (with the fix) on violation."""
    if not isinstance(videos, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array, got {type(videos).__name__}")
    if videos.ndim != 5 or videos.shape[-1] != 3:
        raise ValueError(f"{name}: expected shape [N, T, H, W, 3], got {list(videos.shape)}"
                         f"{_shape_hint(videos)}")
    if videos.dtype != np.uint8:
        raise ValueError(f"{name}: expected dtype uint8 (0..255), got {videos.dtype}; {_dtype_hint(videos)}")
    return videos


def _shape_hint(videos: np.ndarray) -> str:
    if videos.ndim == 5 and videos.shape[1] == 3:
        return "; channels first? convert with x.transpose(0, 2, 3, 4, 1)"
    if videos.ndim == 4 and videos.shape[-1] == 3:
        return "; one video? add the batch axis with x[None]"
    if videos.ndim == 4:
        return "; grey videos? repeat the channel with np.repeat(x[..., None], 3, axis=-1)"
    return ""


def _dtype_hint(videos: np.ndarray) -> str:
    if videos.dtype.kind == "f" and videos.size and np.nanmin(videos) >= -1 and np.nanmax(videos) <= 1:
        scale = "((x + 1) * 127.5)" if np.nanmin(videos) < 0 else "(x * 255)"
        return f"values lie in [{'-1' if np.nanmin(videos) < 0 else '0'}, 1]: convert with " \
               f"np.clip({scale}.round(), 0, 255).astype(np.uint8)"
    return "convert with np.clip(x, 0, 255).astype(np.uint8)"


def to_model(videos: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 [N, T, H, W, 3] -> float32 [N, 3, T, H, W] in [-1, 1]."""
    x = torch.as_tensor(videos).to(device)
    return x.permute(0, 4, 1, 2, 3).float().div(127.5).sub(1.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float [N, 3, T, H, W] in [-1, 1] -> uint8 [N, T, H, W, 3] (round half up, clamp)."""
    y = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return y.permute(0, 2, 3, 4, 1).cpu().numpy()


def save_npz(path: str | os.PathLike, videos: np.ndarray, **extra: np.ndarray) -> Path:
    """Write ``videos`` (and extra arrays) to an ``.npz`` atomically."""
    check_videos(videos)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, videos=videos, **extra)
    return Path(path)


def load_npz(path: str | os.PathLike) -> np.ndarray:
    """Read uint8 [N, T, H, W, 3] (N >= 1) from an ``.npz`` (key ``videos`` or its only array) or ``.npy``.

    Never unpickles: a file holding Python objects is refused. Anything unreadable (truncated,
    not numpy at all) is one ValueError line naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: not a file; pass an .npz (or .npy) of uint8 videos [N, T, H, W, 3]")
    try:
        videos = _read_videos(path)
    except _NotVideos:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        if "allow_pickle" in str(e):  # numpy's words for "this holds pickled objects"
            raise ValueError(f"{path}: {_PICKLED}") from None
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        raise ValueError(f"{path}: not a readable .npz/.npy file ({type(e).__name__}: {reason}); is it "
                         "truncated? write it with np.savez(path, videos=x)") from None
    check_videos(videos, str(path))
    if len(videos) == 0:
        raise ValueError(f"{path}: holds 0 videos (shape {list(videos.shape)}); pass at least one")
    return videos


_PICKLED = ("holds pickled Python objects, which are never loaded (they could run code); save a plain "
            "uint8 array with np.savez(path, videos=x)")


class _NotVideos(ValueError):
    """Not a video file we can use; the message already names the file and the fix."""


def _read_videos(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic.startswith(b"\x80"):  # a bare pickle: numpy would need to unpickle it
        raise _NotVideos(f"{path}: {_PICKLED}")
    if magic == b"\x93NUMPY":
        return np.load(path, allow_pickle=False)
    if not magic.startswith(b"PK"):
        what = "empty" if not magic else f"starts with {magic!r}"
        raise _NotVideos(f"{path}: not an .npz or .npy file ({what}); write it with np.savez(path, videos=x)")
    with np.load(path, allow_pickle=False) as z:
        keys = list(z.keys())
        if "videos" in keys:
            return z["videos"]
        if len(keys) == 1:
            return z[keys[0]]
    raise _NotVideos(f"{path}: no 'videos' array (found {keys}); save with np.savez(path, videos=x)")


# --- pictures for people: labelled grids with the known frames marked --------------------------------

KNOWN_COLOUR = (0, 160, 0)  # green: a frame given to the model (the same pixels in every row)
GENERATED_COLOUR = (215, 40, 40)  # red: a frame the model produced
REAL_COLOUR = (190, 190, 190)  # grey: a real frame hidden from the model (never "generated")
SCORED_COLOUR = (40, 90, 220)  # blue bar under a frame number: the metric scores that frame
_INK, _PAPER = (20, 20, 20), (255, 255, 255)
VIDEO_SUFFIXES = (".gif", ".mp4", ".webp")


def _font() -> Any:
    """Pillow's default font (FreeType at 11 px from Pillow 10.1, else its bitmap font): no font files."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=11)
    except TypeError:  # Pillow < 10.1 has no size argument
        return ImageFont.load_default()


def _text_size(text: str, font: Any) -> tuple[int, int]:
    from PIL import Image, ImageDraw

    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=font)
    return right, bottom


def _legend(draw: Any, xy: tuple[int, int], items: Sequence[tuple[tuple[int, int, int], str]],
            font: Any) -> None:
    """Colour swatches with their words, left to right from ``xy``."""
    x, y = xy
    for colour, word in items:
        draw.rectangle([x, y + 1, x + 10, y + 11], fill=colour, outline=_INK)
        draw.text((x + 14, y), word, fill=_INK, font=font)
        x += 14 + _text_size(word, font)[0] + 14


def _legend_items(known: Sequence[int], real: bool, scored: bool) -> list[tuple[tuple[int, int, int], str]]:
    items = [(KNOWN_COLOUR, "known (given)")] if known else []
    items.append((GENERATED_COLOUR, "generated"))
    if real:
        items.append((REAL_COLOUR, "real, hidden from the model"))
    if scored:
        items.append((SCORED_COLOUR, "scored by the metric"))
    return items


def _cell_colour(t: int, known: set[int], generated: bool) -> tuple[int, int, int]:
    if t in known:
        return KNOWN_COLOUR
    return GENERATED_COLOUR if generated else REAL_COLOUR


def _default_labels(n_rows: int, real_rows: Sequence[int]) -> list[str]:
    fakes = [r for r in range(n_rows) if r not in real_rows]
    return ["real" if r in real_rows else "generated" if len(fakes) == 1 else f"generated {fakes.index(r)}"
            for r in range(n_rows)]


def grid_frames(rows: Sequence[np.ndarray], known: Sequence[int] = (), border: int = 2,
                labels: Sequence[str] | None = None, real_rows: Sequence[int] | None = None,
                scale: int = 2) -> np.ndarray:
    """Animated grid: rows[i] is uint8 [N, T, H, W, 3] (one video per column); returns [T, H', W', 3].

    Each row is labelled on the left (default: "real" for ``real_rows``, else "generated"); each frame
    has a header "frame t: known|generated" (0-based, as ``cond`` indices) and a legend below. Known
    frames get a green border in every row; the other frames red in generated rows and grey in real
    rows (a real frame is never marked generated). ``real_rows`` defaults to (0,) when there are
    several rows (real over generated, as every caller lays them out), else (). Tiles are enlarged
    ``scale`` times (nearest) before the text is drawn, so the words stay sharp.
    """
    from PIL import Image, ImageDraw

    real_rows = tuple(real_rows) if real_rows is not None else ((0,) if len(rows) > 1 else ())
    labels = list(labels) if labels is not None else _default_labels(len(rows), real_rows)
    if len(labels) != len(rows):
        raise ValueError(f"{len(labels)} labels for {len(rows)} rows")
    known_set = {int(k) for k in known}
    tiles = [np.asarray(r).repeat(scale, axis=2).repeat(scale, axis=3) for r in rows]
    n_cols, t_len, h, w = tiles[0].shape[:4]
    font = _font()
    line = _text_size("Ag", font)[1] + 4
    label_w = max(_text_size(s, font)[0] for s in labels) + 8
    cell_h, cell_w = h + 2 * border, w + 2 * border
    items = _legend_items(known_set, bool(real_rows), False)
    legend_w = sum(28 + _text_size(word, font)[0] for _, word in items)
    width = max(label_w + n_cols * cell_w, legend_w, _text_size("frame 00: generated", font)[0] + 8)
    top = line
    height = top + len(rows) * cell_h + line + 4
    base = Image.new("RGB", (width, height), _PAPER)
    draw = ImageDraw.Draw(base)
    for r, label in enumerate(labels):
        draw.text((4, top + r * cell_h + max(0, (cell_h - line) // 2)), label, fill=_INK, font=font)
    _legend(draw, (4, top + len(rows) * cell_h + 3), items, font)
    base_arr = np.asarray(base)
    out = np.empty((t_len, height, width, 3), np.uint8)
    for t in range(t_len):
        arr = base_arr.copy()
        for r, vids in enumerate(tiles):
            colour = _cell_colour(t, known_set, r not in real_rows)
            for c in range(n_cols):
                y, x = top + r * cell_h, label_w + c * cell_w
                arr[y:y + cell_h, x:x + cell_w] = colour
                arr[y + border:y + border + h, x + border:x + border + w] = vids[c, t]
        frame = Image.fromarray(arr)
        state = "known" if t in known_set else "generated"
        ImageDraw.Draw(frame).text((4, 2), f"frame {t}: {state}", fill=_INK, font=font)
        out[t] = np.asarray(frame)
    return out


def filmstrip(groups: Sequence[Sequence[tuple[str, np.ndarray, bool]]], known: Sequence[int] = (),
              scored: Sequence[int] | None = None, border: int = 2, scale: int = 2) -> np.ndarray:
    """Every frame side by side -> one uint8 image [H', W', 3] (for reports and papers).

    ``groups``: rows separated by a gap, each row (label, video uint8 [T, H, W, 3], generated). Frame
    numbers (0-based) head the columns; ``scored`` frames get a blue bar under their number. Borders
    as in ``grid_frames``: known green everywhere, else red (generated rows) or grey (real rows).
    """
    from PIL import Image, ImageDraw

    rows = [row for group in groups for row in group]
    if not rows:
        raise ValueError("filmstrip needs at least one row")
    t_len, h, w = rows[0][1].shape[0], rows[0][1].shape[1] * scale, rows[0][1].shape[2] * scale
    known_set, scored_set = {int(k) for k in known}, None if scored is None else {int(s) for s in scored}
    font = _font()
    line = _text_size("Ag", font)[1] + 4
    label_w = max(_text_size(label, font)[0] for label, _, _ in rows) + 8
    cell_h, cell_w, gap = h + 2 * border, w + 2 * border, line // 2
    tops, y = [], line + (5 if scored_set is not None else 0)
    for group in groups:
        tops += [y + i * cell_h for i in range(len(group))]
        y += len(group) * cell_h + gap
    items = _legend_items(known_set, any(not g for _, _, g in rows), scored_set is not None)
    width = max(label_w + t_len * cell_w, sum(28 + _text_size(word, font)[0] for _, word in items))
    arr = np.full((y - gap + line + 6, width, 3), _PAPER, np.uint8)
    for top, (_, video, generated) in zip(tops, rows, strict=True):
        tiles = np.asarray(video).repeat(scale, axis=1).repeat(scale, axis=2)
        for t in range(t_len):
            x = label_w + t * cell_w
            arr[top:top + cell_h, x:x + cell_w] = _cell_colour(t, known_set, generated)
            arr[top + border:top + border + h, x + border:x + border + w] = tiles[t]
    image = Image.fromarray(arr)
    draw = ImageDraw.Draw(image)
    for t in range(t_len):
        x = label_w + t * cell_w
        draw.text((x + (cell_w - _text_size(str(t), font)[0]) // 2, 1), str(t), fill=_INK, font=font)
        if scored_set is not None and t in scored_set:
            draw.rectangle([x + 2, line, x + cell_w - 3, line + 2], fill=SCORED_COLOUR)
    for top, (label, _, _) in zip(tops, rows, strict=True):
        draw.text((4, top + max(0, (cell_h - line) // 2)), label, fill=_INK, font=font)
    _legend(draw, (4, y - gap + 4), items, font)
    return np.asarray(image)


def check_video_path(path: str | os.PathLike, flag: str = "--gif") -> Path:
    """``path`` if its suffix is one ``write_video`` writes; one line naming ``flag`` otherwise."""
    if Path(path).suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"{flag} {path}: unknown video type; end the name with one of "
                         f"{', '.join(VIDEO_SUFFIXES)}")
    return Path(path)


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float = 4, scale: int = 1) -> Path:
    """Write uint8 [T, H, W, 3] frames, atomically, as the suffix says: .gif (Pillow, looping), .mp4
    (H.264 through PyAV, plays in browsers) or .webp (Pillow, lossless, looping); ``fps`` frames a second."""
    suffix = check_video_path(path, "video file").suffix.lower()
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise ValueError(f"{path}: expected uint8 frames [T, H, W, 3], got {frames.dtype} "
                         f"{list(frames.shape)}")
    if scale > 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    with atomic_path(path) as tmp:
        if suffix == ".mp4":
            _write_mp4(tmp, frames, fps)
        else:
            from PIL import Image

            images = [Image.fromarray(f) for f in frames]
            extra = {"lossless": True} if suffix == ".webp" else {}
            images[0].save(tmp, format=suffix[1:].upper(), save_all=True, append_images=images[1:],
                           duration=int(round(1000 / fps)), loop=0, **extra)
    return Path(path)


def write_gif(path: str | os.PathLike, frames: np.ndarray, fps: float = 4, scale: int = 1) -> Path:
    """``write_video`` under its older name: .gif, .mp4 or .webp by the suffix of ``path``."""
    return write_video(path, frames, fps=fps, scale=scale)


def write_mp4(path: str | os.PathLike, frames: np.ndarray, fps: float = 4, scale: int = 1) -> Path:
    """uint8 [T, H, W, 3] frames as an H.264 MP4 (yuv420p, as browsers play), atomically."""
    if Path(path).suffix.lower() != ".mp4":
        raise ValueError(f"{path}: write_mp4 writes .mp4 files; name it *.mp4")
    return write_video(path, frames, fps=fps, scale=scale)


def _write_mp4(tmp: Path, frames: np.ndarray, fps: float) -> None:
    import fractions

    import av

    # yuv420p needs even sides: pad with white on the right and bottom
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), constant_values=255)
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    rate = fractions.Fraction(fps).limit_denominator(1000)
    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "12"}  # near lossless: thin coloured borders survive chroma subsampling
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            frame.pts = i
            frame.time_base = 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
