"""Store a trained run as the showcase model: a slimmed checkpoint plus TRAINING.md from its logs.

A training checkpoint carries model, EMA and AdamW state (~4x the weights). The stored one keeps the
EMA weights only, under both ``ema`` and ``model`` (the same tensors, saved once), with the config,
step, dataset and git hash, so ``ramvid.checkpoint.load_model`` reads it like any other.

    ramvid-bench showcase runs/showcase benchmarks/assets/checkpoints/showcase-tiny-shapes.pt
"""
from __future__ import annotations

import json
from pathlib import Path

from ramvid.checkpoint import latest_checkpoint, read_checkpoint, save_checkpoint


def slim_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """Write ``src``'s EMA weights and metadata to ``dst`` (atomic); returns ``dst``."""
    obj = read_checkpoint(src)
    ema = obj.get("ema") or obj["model"]
    keep = {k: obj[k] for k in ("config", "step", "git_hash", "dataset") if k in obj}
    return save_checkpoint(dst, {**keep, "model": ema, "ema": ema, "slim": True})


def training_notes(run_dir: Path, ckpt: Path, stored: Path) -> str:
    """TRAINING.md text from the run's run.json / log.jsonl (measured, not typed)."""
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines() if line.strip()]
    run = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    config = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").exists() else {}
    train = config.get("train", config)
    step = read_checkpoint(ckpt)["step"]
    log = [e for e in log if e["step"] <= step]
    wall = sum(float(e.get("seconds", 0.0)) for e in log)
    first, last = log[:10], log[-10:]
    mean = lambda es: sum(e["loss"] for e in es) / len(es)  # noqa: E731
    lines = [
        "# Showcase model: `tiny` preset trained on `shapes`",
        "",
        f"Stored as `{stored.name}`: the EMA weights of `{ckpt.name}`, read by `load_model`.",
        "",
        f"- steps: {step}",
        f"- loss (mean of first 10 steps): {mean(first):.4f}; (mean of last 10 steps): {mean(last):.4f}",
        f"- wall time of the optimizer steps: {wall / 60:.1f} min ({wall / max(step, 1):.2f} s/step "
        f"on {run.get('device', 'an unrecorded device')})",
        f"- run settings: `{json.dumps(run, sort_keys=True)}`" if run else "",
        f"- train config: `{json.dumps(train, sort_keys=True)}`" if train else "",
        f"- diffusion: `{json.dumps(config['diffusion'], sort_keys=True)}`" if "diffusion" in config else "",
        "",
        "The full per-step log is `showcase-loss.jsonl` beside this file.",
    ]
    return "\n".join(lines) + "\n"


def store_showcase(run_dir: str | Path, dst: str | Path) -> str:
    """Slim the newest checkpoint of ``run_dir`` into ``dst`` with its loss log and TRAINING.md."""
    run = Path(run_dir)
    src = latest_checkpoint(run)
    if src is None:
        raise FileNotFoundError(f"{run}: no ckpt-<step>.pt found; pass a training run folder")
    out = slim_checkpoint(src, dst)
    step = read_checkpoint(src)["step"]
    log = [line for line in (run / "log.jsonl").read_text().splitlines()
           if line.strip() and json.loads(line)["step"] <= step]
    (out.parent / "showcase-loss.jsonl").write_text("\n".join(log) + "\n")
    notes = out.parent / "TRAINING.md"
    if not notes.exists():  # the command section is written by hand once; keep it
        notes.write_text(training_notes(run, src, out))
    return f"{src} -> {out} ({out.stat().st_size / 1e6:.1f} MB)"
