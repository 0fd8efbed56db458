"""``ramvid-bench rescore RUN_DIR``: a run's FVD, interval and fvd_inf again from its stored features."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from benchmarks.cli import one_line_errors


def rescore_dir(run_dir: str, bootstrap: int) -> tuple[dict[str, Any], Any]:
    """(the run's protocol as stored in its manifest, ``benchmarks.scoring.Score``) of ``run_dir``."""
    from benchmarks.scoring import fvd_score, load_features

    manifest_path = Path(run_dir) / "manifest.json"
    try:
        protocol = json.loads(manifest_path.read_text())["protocol"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(f"{run_dir}: not a run's work dir (no readable manifest.json)") from None
    real, fake, keys, meta = load_features(run_dir)
    scored = fvd_score(real, fake, keys, int(meta["samples_per_video"]), bootstrap=bootstrap,
                       seed=int(protocol["seed"]), paired=bool(protocol["cond"]),
                       extra={"i3d_sha256": meta.get("i3d_sha256", "")})
    return protocol, scored


@click.command("rescore")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Resamples for the 95% interval and standard error, with fvd_inf (0: the value only).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@one_line_errors
def rescore(run_dir: str, bootstrap: int, as_json: bool) -> None:
    """Recompute a run's FVD from the features kept in RUN_DIR (features.npz): no sampling, no I3D.

    \b
    Examples:
      ramvid-bench rescore runs/shapes-prediction-0123456789ab
      ramvid-bench rescore runs/shapes-prediction-0123456789ab --bootstrap 5000 --json
    """
    from benchmarks.provenance import collect
    from benchmarks.results import uncertainty_text

    protocol, scored = rescore_dir(run_dir, bootstrap)
    key = f"{protocol['name']}@{protocol['version']}"
    if as_json:
        click.echo(json.dumps({"fvd": scored.value, "std": scored.std, "per_repeat": scored.per_repeat,
                               "protocol": key, "seed": protocol["seed"], **scored.extra,
                               "work_dir": run_dir, **collect()}))
        return
    std = f" ± {scored.std:.2f}" if scored.std is not None else ""
    click.echo(f"{key} seed {protocol['seed']}: FVD {scored.value:.2f}{std} "
               f"(n={scored.extra['n_real']} real, {scored.extra['n_fake']} generated)")
    if bootstrap:
        click.echo(f"  {uncertainty_text(scored.extra)}")
