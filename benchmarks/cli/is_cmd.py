"""``ramvid-bench is``: TGANv2's Inception Score (C3D trained on UCF-101) of one video set."""
from __future__ import annotations

import json

import click

from benchmarks.cli import one_line_errors
from metrics.inception_score import ESTIMATORS


@click.command(name="is", epilog="""\b
Examples:
  ramvid-bench is samples.npz --c3d-weights conv3d_deepnetA_ucf.npz --c3d-mean mean2.npz
  ramvid-bench is samples.npz --estimator stylegan-v   # one set of 2048, 10 splits
\b
With --repeats R the N videos are cut into R disjoint groups of N/R (N must be a multiple of R);
TGANv2 reports mean +- std over 10 groups of 2048 videos (splits 1), the default.""")
@click.argument("fake", type=click.Path(exists=True))
@click.option("--c3d-weights", envvar="RAMVID_C3D_WEIGHTS", type=click.Path(),
              help="Chainer conv3d_deepnetA_ucf.npz (TGANv2 release page) [env RAMVID_C3D_WEIGHTS]")
@click.option("--c3d-mean", envvar="RAMVID_C3D_MEAN", type=click.Path(),
              help="Chainer mean2.npz (TGANv2 release page) [env RAMVID_C3D_MEAN]")
@click.option("--estimator", type=click.Choice(list(ESTIMATORS)), default="tganv2", show_default=True,
              help="Named estimator: " + "; ".join(f"{e.name}: {e.repeats} group(s) x {e.splits} split(s)"
                                                   for e in ESTIMATORS.values()) + ".")
@click.option("--splits", type=click.IntRange(min=1), default=None,
              help="Splits per group (default: the estimator's; StyleGAN-V: 10).")
@click.option("--repeats", type=click.IntRange(min=1), default=None,
              help="Disjoint groups of N/R videos (default: the estimator's; TGANv2: 10).")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Videos per C3D forward pass.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:1, or auto.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@one_line_errors
def inception_score(fake: str, c3d_weights: str | None, c3d_mean: str | None, estimator: str,
                    splits: int | None, repeats: int | None, batch_size: int, device: str,
                    as_json: bool) -> None:
    """Inception Score of FAKE with TGANv2's C3D.

    FAKE: uint8 [N,16,H,W,3] videos in .npy, .npz (key 'videos'), .h5, or a folder of video files."""
    from metrics._io import resolve_device
    from metrics.c3d import load_c3d
    from metrics.inception_score import c3d_probs, check_groups, score_probs
    from metrics.videos import load_video_set

    dev = resolve_device(device)  # a bad --device fails before any file is read
    chosen = ESTIMATORS[estimator]
    splits = chosen.splits if splits is None else splits
    repeats = chosen.repeats if repeats is None else repeats
    videos = load_video_set(fake, batch_size=batch_size)
    check_groups(len(videos), splits, repeats)
    c3d = load_c3d(c3d_weights, c3d_mean, device=dev)
    probs = c3d_probs(videos, c3d, progress=not as_json)
    result = score_probs(probs, splits=splits, repeats=repeats)
    if as_json:
        click.echo(json.dumps({"is_mean": result.mean, "is_std": result.std, "scores": list(result.scores),
                               "n": result.n, "splits": splits, "repeats": repeats}))
    else:
        click.echo(f"videos: {result.n}, groups: {repeats} x {result.n // repeats}, splits: {splits}")
        click.echo(f"IS: {result.mean:.4f} +- {result.std:.4f}")
