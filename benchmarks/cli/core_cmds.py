"""Core commands: ``train`` and ``sample``. Each is a thin layer over one library function."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np

# ---------------------------------------------------------------------------------------------
# sample
# ---------------------------------------------------------------------------------------------

GIF_MAX_VIDEOS = 8  # columns in the preview grid: enough to judge, small enough to open


def parse_cond(text: str) -> tuple[int, ...]:
    """Parse ``--cond`` strictly: comma-separated integers ("0,15" is frames 0 and 15); "" = none."""
    text = text.strip()
    if not text:
        return ()
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            out.append(int(part))
        except ValueError:
            raise ValueError(f"--cond {text!r}: {part!r} is not an integer; write comma-separated "
                             "frame indices such as 0,1,2,3,4 (or \"\" for unconditional)") from None
    return tuple(out)


def _dataset_videos(data: str | None, data_path: str | None, info: dict[str, Any], num: int,
                    frames: int, resolution: int, seed: int) -> np.ndarray:
    """The first ``num`` deterministic test clips of a dataset (default: the checkpoint's)."""
    from ramvid.data import open_dataset

    recorded = info.get("dataset") or {}
    if data is None:
        data = recorded.get("name") or "shapes"
        if data_path is None:
            data_path = recorded.get("path")
    source = open_dataset(data, "test", frames=frames, resolution=resolution, path=data_path, seed=seed)
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


def run_sample(ckpt: str, preset: str | None, cond_text: str, frames: int | None, num: int | None,
               steps: int | None, seed: int, input_path: str | None, data: str | None,
               data_path: str | None, out: str, gif: str | None, resample: int, batch_size: int,
               device: str | None, sampler: str = "ddpm", eta: float = 0.0,
               ) -> tuple[np.ndarray, tuple[int, ...]]:
    """Load the checkpoint's EMA model, sample, write ``out`` (and ``gif``); return (videos, cond).

    Known videos: --input, else the dataset's test split, else none (unconditional, no --data).
    Frames: --frames, else the input's length, else the checkpoint's training length.
    """
    from ramvid.checkpoint import load_model
    from ramvid.masking import validate_cond_indices
    from ramvid.sampling import generate
    from ramvid.utils import resolve_device
    from ramvid.video import grid_frames, save_npz, write_gif

    cond = parse_cond(cond_text)
    # Cheap checks first: a bad --cond or --input fails before the (slow) model load.
    known = _input_videos(input_path, num) if input_path is not None else None
    if frames is None and known is not None:
        frames = known.shape[1]
    if frames is not None:
        validate_cond_indices(cond, frames)
    dev = resolve_device(device)
    model, config, info = load_model(ckpt, preset=preset, use_ema=True, device=dev)
    frames = config.frames if frames is None else frames
    cond = validate_cond_indices(cond, frames)
    count = 8 if num is None else num
    if known is None and (cond or data is not None):
        known = _dataset_videos(data, data_path, info, count, frames, config.resolution, seed)
    videos = generate(model, config, known, cond, n=count if known is None else None, steps=steps,
                      seed=seed, batch_size=batch_size, device=dev, resample=resample, frames=frames,
                      sampler=sampler, eta=eta, progress=True)
    save_npz(out, videos, cond=np.asarray(cond, dtype=np.int64), seed=np.asarray(seed),
             steps=np.asarray(-1 if steps is None else steps))
    if gif is not None:
        rows = [videos] if known is None else [known, videos]
        write_gif(gif, grid_frames([r[:GIF_MAX_VIDEOS] for r in rows], known=cond))
    return videos, cond


@click.command("sample")
@click.option("--ckpt", required=True, type=click.Path(dir_okay=False), help="Checkpoint (.pt).")
@click.option("--preset", default=None,
              help="Preset for a bare official state dict (bair|kinetics|ucf|tiny).")
@click.option("--cond", "cond_text", required=True,
              help='Known frame indices, comma separated ("0,1,2,3,4"); "" = unconditional.')
@click.option("--frames", type=click.IntRange(min=2), default=None,
              help="Frames per video (default: the --input length, else the checkpoint's).")
@click.option("--num", type=click.IntRange(min=1), default=None,
              help="Videos to sample (default: all of --input, else 8).")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Respaced sampling steps (default: the full diffusion chain).")
@click.option("--seed", type=int, default=0, show_default=True, help="Video i uses generator (seed, i).")
@click.option("--input", "input_path", type=click.Path(dir_okay=False), default=None,
              help="Known videos: .npz with uint8 'videos' [N,T,H,W,3] (or .npy).")
@click.option("--data", default=None,
              help="Dataset for known frames (default: the checkpoint's, else shapes).")
@click.option("--data-path", default=None, help="Dataset location, for datasets read from disk.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output .npz (videos, cond).")
@click.option("--gif", default=None, type=click.Path(dir_okay=False),
              help="Also write a GIF grid: real (top) vs generated, known frames framed green.")
@click.option("--resample", type=click.IntRange(min=1), default=1, show_default=True,
              help="RePaint-style resampling: denoiser calls per step (ddpm only).")
@click.option("--sampler", type=click.Choice(["ddpm", "ddim"]), default="ddpm", show_default=True,
              help="ddpm: the paper's ancestral sampler; ddim: deterministic (eta 0), good in few steps.")
@click.option("--eta", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="DDIM noise scale (0 deterministic, 1 DDPM-like).")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA if available).")
def sample(**kw: Any) -> None:
    """Sample videos given known frames (prediction, infilling, unconditional).

    \b
    Examples:
      ramvid-bench sample --ckpt runs/tiny/ckpt-2000.pt --cond 0,1,2,3 --num 8 --steps 100 \\
          --out samples.npz --gif grid.gif
      ramvid-bench sample --ckpt ema_0.9999_250000.pt --preset bair --cond 0 --frames 16 \\
          --input test.npz --steps 250 --out bair.npz
      ramvid-bench sample --ckpt ckpt.pt --cond "" --num 16 --out uncond.npz
    """
    try:
        videos, cond = run_sample(**kw)
    except (ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e).strip().splitlines()[0] if str(e).strip() else repr(e)) from None
    click.echo(f"wrote {len(videos)} videos {list(videos.shape[1:])} (known frames {list(cond)}) "
               f"to {Path(kw['out'])}" + (f" and {kw['gif']}" if kw.get("gif") else ""))


# ---------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------

def run_train(preset: str, data: str, data_path: str | None, steps: int, batch_size: int | None,
              micro_batch: int | None, out: str, resume: bool, seed: int | None, device: str | None,
              save_every: int, keep: int, ema_rate: float | None, lr: float | None,
              prediction: str | None = None, workers: int = 0, max_minutes: float | None = None) -> Any:
    """Open the dataset's train split at the preset's clip length and resolution, then train."""
    from ramvid.config import get_preset
    from ramvid.data import open_dataset
    from ramvid.training import train as train_loop
    from ramvid.utils import resolve_device

    config = get_preset(preset)
    dev = resolve_device(device)
    source = open_dataset(data, "train", frames=config.frames, resolution=config.resolution,
                          path=data_path)
    return train_loop(config, source, steps=steps, out_dir=out, batch_size=batch_size,
                      micro_batch=micro_batch, resume=resume, seed=seed, device=dev,
                      save_every=save_every, keep=keep, ema_rate=ema_rate, lr=lr,
                      data_name=data, data_path=data_path, prediction=prediction, workers=workers,
                      max_minutes=max_minutes)


@click.command("train")
@click.option("--preset", required=True, help="Model preset: bair|kinetics|ucf|tiny.")
@click.option("--data", required=True, help="Dataset: shapes, moving-mnist, hdf5, bair, ucf101, kinetics.")
@click.option("--data-path", default=None, help="Dataset location, for datasets read from disk.")
@click.option("--steps", type=click.IntRange(min=1), required=True,
              help="Stop after this many optimizer steps in total (a resumed run counts its past steps).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Examples per optimizer step (default: the preset's).")
@click.option("--micro-batch", type=click.IntRange(min=1), default=None,
              help="Examples per forward pass; gradients accumulate (default: the preset's).")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Run folder: config.json, run.json, log.jsonl, ckpt-<step>.pt.")
@click.option("--resume", is_flag=True, help="Continue from the newest ckpt-<step>.pt in --out.")
@click.option("--seed", type=int, default=None,
              help="Step s, example i draws from generator (seed, s, i) [default: 0, or the "
                   "checkpoint's on --resume].")
@click.option("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA if available).")
@click.option("--save-every", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Checkpoint every K steps (and always at the end).")
@click.option("--keep", type=click.IntRange(min=0), default=3, show_default=True,
              help="Keep the newest K checkpoints; 0 keeps all.")
@click.option("--ema-rate", type=float, default=None, help="EMA decay (default: the preset's).")
@click.option("--lr", type=float, default=None, help="AdamW learning rate (default: the preset's).")
@click.option("--prediction", type=click.Choice(["eps", "v"]), default=None,
              help="Network output: eps (the paper's) or v, whose x0 estimate stays bounded at "
                   "high noise (default: the preset's, or the checkpoint's on --resume).")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Processes drawing upcoming batches ahead of the GPU (same numbers as 0).")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this much wall time, saving a checkpoint (resume with --resume).")
def train(**kw: Any) -> None:
    """Train a RaMViD model with random masks (resumable, bit-exact on CPU).

    \b
    Examples:
      ramvid-bench train --preset tiny --data shapes --steps 2000 --out runs/tiny
      ramvid-bench train --preset tiny --data shapes --steps 4000 --out runs/tiny --resume
      ramvid-bench train --preset bair --data hdf5 --data-path bair.h5 --steps 250000 \\
          --micro-batch 2 --save-every 5000 --out runs/bair --device cuda
    """
    from ramvid.training import TrainingDiverged

    try:
        result = run_train(**kw)
    except (ValueError, FileNotFoundError, TrainingDiverged) as e:
        raise click.ClickException(str(e).strip().splitlines()[0] if str(e).strip() else repr(e)) from None
    loss = "" if result.last_loss is None else f", last loss {result.last_loss:.4f}"
    click.echo(f"trained to step {result.step}{loss}; newest checkpoint {result.checkpoint}")
