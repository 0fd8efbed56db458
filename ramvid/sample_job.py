"""``ramvid-bench sample``: load a checkpoint, fill in the unknown frames of some videos, write them.

Known videos come from ``--input``, else the dataset's test split, else none (unconditional).
Frames: ``--frames``, else the input's length, else the checkpoint's training length.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ramvid.data import DATASETS
from ramvid.long_video import SCHEMES
from ramvid.masking import parse_cond_indices
from ramvid.sampling import SamplerSettings
from ramvid.specs import option, validate

GIF_MAX_VIDEOS = 8  # columns in the preview grid: enough to judge, small enough to open


@dataclass(frozen=True)
class SampleSpec:
    """Everything ``sample`` needs (``sample --dry-run`` prints it)."""

    ckpt: str = option(None, "Checkpoint (.pt).", required=True)
    cond: tuple[int, ...] = option(None, 'Known frame indices, comma separated ("0,1,2,3,4"); "" = '
                                   "unconditional.", required=True, parse=parse_cond_indices)
    out: str = option(None, "Output .npz (videos, cond, seed, steps, sampler, respacing, guidance).",
                      required=True)
    preset: str | None = option(None, "Preset for a bare official state dict (bair|kinetics|ucf|tiny).")
    frames: int | None = option(None, "Frames per video (default: the --input length, else the "
                                "checkpoint's).", min=2)
    num: int | None = option(None, "Videos to sample (default: all of --input, else 8).", min=1)
    input: str | None = option(None, "Known videos: .npz with uint8 'videos' [N,T,H,W,3] (or .npy).")
    data: str | None = option(None, "Dataset for known frames: " + ", ".join(DATASETS) + " (default: the "
                              "checkpoint's, else shapes).")
    data_path: str | None = option(None, "Dataset location, for datasets read from disk.")
    gif: str | None = option(None, "Also write a grid of real (top) vs generated rows, labelled, known "
                             "frames green, generated red: .gif, .mp4 or .webp by the suffix.")
    total_frames: int | None = option(None, "Sample videos this long, beyond the model's clip: windows "
                                      "of the checkpoint's length, each conditioned on the frames known "
                                      "so far.", min=2)
    scheme: str = option("autoregressive", "Long-video scheme (with --total-frames): " + "; ".join(
        f"{s.name}: {s.help}" for s in SCHEMES.values()), choices=tuple(SCHEMES))
    context: int = option(4, "Long videos: frames of the video so far that each window sees as known.", min=1)
    sampling: SamplerSettings = SamplerSettings()
    batch_size: int = option(8, "Videos per sampler batch (the noise does not depend on it; the videos "
                             "only by float rounding, at most 1/255).", min=1)
    device: str | None = option(None, "cpu, cuda, cuda:1 ... (default: CUDA if available).")
    progress: bool = option(True, "No progress bars.", flag="--quiet", invert=True)

    def __post_init__(self) -> None:
        validate(self)
        if self.ckpt is None or self.out is None or self.cond is None:
            raise ValueError("--ckpt, --cond and --out are required")
        if self.total_frames is None and (self.scheme != "autoregressive" or self.context != 4):
            raise ValueError("--scheme and --context apply to long videos only; add --total-frames N")
        if self.total_frames is not None and self.frames is not None:
            raise ValueError("--frames and --total-frames both set the length; long videos use windows of "
                             "the checkpoint's length, so give --total-frames only")
        if self.gif is not None:  # a bad suffix fails now, not after sampling
            from ramvid.video import check_video_path

            check_video_path(self.gif, "--gif")


def _dataset_videos(spec: SampleSpec, info: dict[str, Any], num: int, frames: int,
                    resolution: int) -> np.ndarray:
    """The first ``num`` deterministic test clips of a dataset (default: the checkpoint's)."""
    from ramvid.data import open_dataset

    recorded = info.get("dataset") or {}
    data, data_path = spec.data, spec.data_path
    if data is None:
        data = recorded.get("name") or "shapes"
        if data_path is None:
            data_path = recorded.get("path")
    source = open_dataset(data, "test", frames=frames, resolution=resolution, path=data_path,
                          seed=spec.sampling.seed)
    if num > len(source):
        raise ValueError(f"--num {num} but the {data} test split has only {len(source)} clips; "
                         f"use --num {len(source)} or less")
    return source.clips(list(range(num)))


def _input_videos(input_path: str, num: int | None) -> np.ndarray:
    """The first ``num`` (default all) videos of an --input file, uint8 [N, T, H, W, 3]."""
    from ramvid.video import load_npz

    videos = load_npz(input_path)
    if num is not None:
        if num > len(videos):
            raise ValueError(f"--num {num} but {input_path} holds only {len(videos)} videos")
        videos = videos[:num]
    return videos


def sample_job(spec: SampleSpec) -> tuple[np.ndarray, tuple[int, ...]]:
    """Load the EMA model, sample, write ``spec.out`` (and ``spec.gif``); return (videos, cond)."""
    from ramvid.checkpoint import load_model
    from ramvid.masking import validate_cond_indices
    from ramvid.sampling import generate
    from ramvid.utils import resolve_device
    from ramvid.video import grid_frames, save_npz, write_gif

    cond, frames = spec.cond, spec.frames or spec.total_frames
    # Cheap checks first: a bad --cond or --input fails before the (slow) model load.
    known = _input_videos(spec.input, spec.num) if spec.input is not None else None
    if frames is None and known is not None:
        frames = known.shape[1]
    if frames is not None:
        validate_cond_indices(cond, frames)
    dev = resolve_device(spec.device)
    model, config, info = load_model(spec.ckpt, preset=spec.preset, use_ema=True, device=dev)
    frames = config.frames if frames is None else frames
    cond = validate_cond_indices(cond, frames)
    count = 8 if spec.num is None else spec.num
    if known is None and (cond or spec.data is not None):
        known = _dataset_videos(spec, info, count, frames, config.resolution)
    n = count if known is None else None
    if spec.total_frames is not None:
        from ramvid.long_video import generate_long

        videos = generate_long(model, config, known, cond, spec.sampling, total_frames=spec.total_frames,
                               scheme=spec.scheme, context=spec.context, n=n, batch_size=spec.batch_size,
                               device=dev, progress=spec.progress)
    else:
        videos = generate(model, config, known, cond, spec.sampling, n=n, batch_size=spec.batch_size,
                          device=dev, frames=frames, progress=spec.progress)
    steps = spec.sampling.steps
    save_npz(spec.out, videos, cond=np.asarray(cond, dtype=np.int64), seed=np.asarray(spec.sampling.seed),
             steps=np.asarray(-1 if steps is None else steps), sampler=np.asarray(spec.sampling.sampler),
             respacing=np.asarray(spec.sampling.respacing or ""),
             guidance=np.asarray(spec.sampling.guidance))
    if spec.gif is not None:
        rows = [videos] if known is None or known.shape[1] != videos.shape[1] else [known, videos]
        write_gif(spec.gif, grid_frames([r[:GIF_MAX_VIDEOS] for r in rows], known=cond))
    return videos, cond
