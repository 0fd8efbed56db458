"""``ramvid-bench model-info``: a preset's resolved config and its exact parameter count."""
from __future__ import annotations

import json
from typing import Any

import click
import torch

from ramvid.config import PRESETS, get_preset
from ramvid.model import build_model, count_parameters


def model_summary(preset: str) -> dict[str, Any]:
    """Preset name, config dict, parameter count, resolution and frames of a preset.

    The module is built on the meta device: the count is of the real module, without allocating
    hundreds of MB of weights.
    """
    cfg = get_preset(preset)
    with torch.device("meta"):
        model = build_model(cfg.model)
    return {"preset": preset, "parameters": count_parameters(model), "resolution": cfg.resolution,
            "frames": cfg.frames, "config": cfg.to_dict(),
            "state_dict": [(k, list(v.shape)) for k, v in model.state_dict().items()]}


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for k, v in d.items():
        if isinstance(v, dict):
            rows += _flatten(v, f"{prefix}{k}.")
        else:
            rows.append((f"{prefix}{k}", tuple(v) if isinstance(v, list) else v))
    return rows


@click.command("model-info")
@click.option("--preset", required=True, type=click.Choice(sorted(PRESETS)), help="Named config.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--keys", is_flag=True,
              help="Also list every state-dict key and shape "
                   "(the format of tests/data/official_state_dict_*.tsv).")
def model_info(preset: str, as_json: bool, keys: bool) -> None:
    """Print a preset's config and parameter count.

    \b
    Examples:
      ramvid-bench model-info --preset bair
      ramvid-bench model-info --preset tiny --json
      ramvid-bench model-info --preset kinetics --keys
    """
    info = model_summary(preset)
    if not keys:
        info.pop("state_dict")
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    res = info["resolution"]
    click.echo(f"preset: {preset} ({info['frames']} frames at {res}x{res})")
    for name, value in _flatten(info["config"]):
        click.echo(f"  {name}: {value}")
    n = info["parameters"]
    click.echo(f"parameters: {n} ({n / 1e6:.1f}M)")
    for key, shape in info.get("state_dict", []):
        click.echo(f"{key}\t{tuple(shape)}")
