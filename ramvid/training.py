"""RaMViD training loop: random-mask denoising with AdamW, grad clipping, EMA and exact resume.

One step (docs/paper-facts.md sections 1, 2 and 5): for each of ``batch_size`` examples draw a clip,
a random condition mask (p_U unconditional, else k ~ U{1..K} known frames), a timestep t ~ U{0..S-1}
and noise; noise only the unknown frames, keep known frames clean, and regress eps (or v, see
``DiffusionConfig.prediction``) on the noised frames only. Micro-batches accumulate gradients with
each loss divided by their number. Under torchrun the same global batch is shared by the G processes
(DDP; the step itself is ``ramvid.train_step``): rank 0 alone writes the files below, and a run may
be resumed with another G.

Every random draw of step ``s`` comes from ``make_generator(seed, s, item)`` (and the weight init
from ``(seed, INIT_KEY)``), so a run interrupted at any checkpoint and resumed reaches bit-identical
weights on CPU, and the examples do not depend on the micro-batch size.

Output folder: ``config.json`` (the resolved RamvidConfig), ``run.json`` (seed, data, steps),
``log.jsonl`` (one line per step: step, loss, grad_norm, lr, seconds) and ``ckpt-<step>.pt``
every ``save_every`` steps and at the end; only the newest ``keep`` checkpoints are kept
(``keep=0`` keeps all).
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ramvid import diffusion, distributed
from ramvid.batches import Batches, ClipSource
from ramvid.checkpoint import (
    checkpoint_name,
    latest_checkpoint,
    list_checkpoints,
    read_checkpoint,
    save_checkpoint,
)
from ramvid.config import PRESETS, RamvidConfig
from ramvid.data import DATASETS
from ramvid.diffusion import PREDICTIONS
from ramvid.ema import Ema
from ramvid.specs import option, validate
from ramvid.specs import to_dict as spec_dict
from ramvid.train_step import (  # noqa: F401 - micro_batch_loss, DROPOUT_KEY: public here as before
    DROPOUT_KEY,
    PRECISIONS,
    TrainingDiverged,
    TrainState,
    check_compile,
    check_finite_weights,
    check_global_batch,
    matmul_precision,
    micro_batch_loss,
    prepare,
    train_step,
)
from ramvid.utils import (
    atomic_write,
    clean_stale_temp,
    git_hash,
    make_generator,
    note,
    resolve_device,
    seed_for,
)

INIT_KEY = 2**31 - 1  # generator key for the weight init, apart from any step index


@dataclass(frozen=True)
class TrainResult:
    step: int  # optimizer steps completed in total
    checkpoint: Path | None  # newest checkpoint on disk
    last_loss: float | None  # loss of the last step run by this call (None if nothing ran)


def resolve_train_config(config: RamvidConfig, *, batch_size: int | None = None,
                         micro_batch: int | None = None, lr: float | None = None,
                         ema_rate: float | None = None) -> RamvidConfig:
    """Fold command-line overrides into ``config.train`` (validated by TrainConfig).

    A micro-batch larger than the batch is capped to the batch.
    """
    t = config.train
    bs = t.batch_size if batch_size is None else batch_size
    mb = t.micro_batch if micro_batch is None else micro_batch
    changes: dict[str, Any] = {"batch_size": bs, "micro_batch": min(mb, bs)}
    if lr is not None:
        changes["lr"] = float(lr)
    if ema_rate is not None:
        changes["ema_rate"] = float(ema_rate)
    return config.replace(train=dataclasses.replace(t, **changes))


@dataclass(frozen=True)
class TrainSpec:
    """Everything a training run needs besides the model config and the data (``train --dry-run``).

    ``None`` overrides keep the preset's values (or, on ``resume``, the checkpoint's).
    """

    steps: int = option(None, "Stop after this many optimizer steps in total (a resumed run counts its "
                        "past steps).", min=1, required=True)
    out_dir: str = option(None, "Run folder: config.json, run.json, log.jsonl, ckpt-<step>.pt.",
                          flag="--out", required=True)
    preset: str | None = option(None, "Model preset: " + ", ".join(PRESETS) + ".", choices=PRESETS,
                                required=True)
    data: str | None = option(None, "Dataset: " + ", ".join(DATASETS) + " (a library caller may name its "
                              "own).", required=True)
    data_path: str | None = option(None, "Dataset location, for datasets read from disk.")
    resume: bool = option(False, "Continue from the newest ckpt-<step>.pt in --out.")
    seed: int | None = option(None, "Step s, example i draws from generator (seed, s, i) [default: 0, or "
                              "the checkpoint's on --resume].")
    batch_size: int | None = option(None, "Examples per optimizer step, all processes together (default: "
                                    "the preset's).", min=1)
    micro_batch: int | None = option(None, "Examples per forward pass of one process; gradients "
                                     "accumulate (default: the preset's).", min=1)
    lr: float | None = option(None, "AdamW learning rate (default: the preset's).", min=0.0, min_open=True)
    ema_rate: float | None = option(None, "EMA decay (default: the preset's).", min=0.0)
    prediction: str | None = option(None, "Network output: " + "; ".join(
        f"{p.name}: {p.help}" for p in PREDICTIONS.values()) + " (default: the preset's, or the "
        "checkpoint's on --resume).", choices=tuple(PREDICTIONS))
    save_every: int = option(1000, "Checkpoint every K steps (and always at the end).", min=1)
    keep: int = option(3, "Keep the newest K checkpoints; 0 keeps all.", min=0)
    log_every: int = option(1, "Append a log.jsonl line every K steps.", min=1)
    log_dir: str | None = option(None, "Also write TensorBoard event files here (needs "
                                 'pip install "ramvid-bench[tensorboard]").')
    workers: int = option(0, "Processes (per training process) drawing upcoming batches ahead of the GPU "
                          "(same numbers as 0).", min=0)
    max_minutes: float | None = option(None, "Stop after this much wall time, saving a checkpoint "
                                       "(resume with --resume).", min=0.0, min_open=True)
    device: str | None = option(None, "cpu, cuda, cuda:1 ... (default: CUDA if available; under "
                                "torchrun cuda means cuda:LOCAL_RANK).")
    precision: str = option("fp32", "fp32 (TF32 matmuls allowed on CUDA) or bf16 (autocast forward; norms, "
                            "softmax and loss in float32).", choices=PRECISIONS)
    grad_checkpoint: bool = option(False, "Recompute each residual/attention block in backward: less "
                                   "memory, more compute, same gradients.")
    compile: bool = option(False, "torch.compile the model (needs triton on CUDA, a C++ compiler on CPU).")
    progress: bool = option(True, "No progress bar.", flag="--quiet", invert=True)

    def __post_init__(self) -> None:
        validate(self)
        if self.steps is None or self.out_dir is None:
            raise ValueError("steps and out_dir are required (--steps, --out)")


def train(config: RamvidConfig, dataset: ClipSource, spec: TrainSpec | None = None,
          **fields: Any) -> TrainResult:
    """Train ``config`` on ``dataset`` as ``spec`` says (or its fields as keywords, e.g.
    ``steps=100, out_dir="runs/x"``); checkpoints and logs go to ``spec.out_dir``.

    ``resume`` continues from the newest ``ckpt-<step>.pt`` there (settings not given are taken
    from the checkpoint; model, masking, batch size, lr, EMA rate, seed and dataset must agree).
    ``seed`` defaults to 0, or on resume to the checkpoint's. ``prediction`` ("eps" or "v")
    overrides the config's network output; on resume it defaults to the checkpoint's.
    Without ``resume`` an ``out_dir`` that already holds checkpoints is refused.
    ``workers`` > 0 draws the clips, masks and noise of upcoming steps in that many worker processes
    (the same generators, so the same numbers as ``workers=0``; the dataset must pickle).
    ``max_minutes`` stops after the first step that ends past that wall time, saving a checkpoint
    there, so a job with a time limit ends resumable. The spec is stored in every checkpoint.
    Raises ``TrainingDiverged`` on a NaN/inf loss, leaving the last good checkpoint intact.
    Under torchrun (G processes; ``batch_size`` is the global batch, a multiple of G) every rank
    calls this; rank 0 writes the files, and all ranks stop at the same step.
    """
    spec = TrainSpec(**fields) if spec is None else dataclasses.replace(spec, **fields)
    out_dir, seed, prediction = Path(spec.out_dir), spec.seed, spec.prediction
    device = spec.device
    dev = resolve_device(device) if not isinstance(device, torch.device) else device
    world = distributed.init(dev)
    dev = distributed.local_device(dev, world)
    ckpt = _resume_source(out_dir, spec.resume, world)
    saved = read_checkpoint(ckpt) if ckpt is not None else None
    saved_config = RamvidConfig.from_dict(saved["config"]) if saved is not None else None
    if seed is None:
        seed = int(saved["rng"]["seed"]) if saved is not None else 0
    if prediction is None and saved_config is not None:
        prediction = saved_config.diffusion.prediction
    if prediction is not None:
        config = config.replace(diffusion=dataclasses.replace(config.diffusion, prediction=prediction))
    base = saved_config if saved_config is not None else config
    if saved is not None:  # the network and masking must match; train settings come from the ckpt
        _check_same(_core(base, train=False), _core(config, train=False), ckpt, "--preset and --prediction")
    config = resolve_train_config(base, batch_size=spec.batch_size, micro_batch=spec.micro_batch,
                                  lr=spec.lr, ema_rate=spec.ema_rate)
    check_global_batch(config.train.batch_size, world.size)
    if spec.compile:
        check_compile(dev)
    data = {"name": spec.data or type(dataset).__name__,
            "path": None if spec.data_path is None else str(spec.data_path)}
    state = _new_state(config, seed, dev)
    if saved is not None:
        _restore(state, saved, config, seed, data, ckpt)
    spec = dataclasses.replace(spec, seed=seed, prediction=config.diffusion.prediction, device=str(dev))
    if world.main:
        _write_run_files(out_dir, config, spec, data, dev, ckpt, state.step, world.size)
    distributed.barrier(world)
    prepare(state, dev, world, grad_checkpoint=spec.grad_checkpoint, compile_model=spec.compile)
    batches = Batches(dataset, config, seed, workers=spec.workers, rank=world.rank, size=world.size)
    try:
        with matmul_precision(dev, spec.precision):
            return _loop(state, config, batches, spec, dev=dev, data=data, world=world)
    finally:
        batches.close()


def train_job(spec: TrainSpec) -> TrainResult:
    """``ramvid-bench train``: the preset's config on the train split of ``spec.data``, then ``train``."""
    from ramvid.config import get_preset
    from ramvid.data import open_dataset

    if spec.preset is None or spec.data is None:
        raise ValueError("--preset and --data are required")
    config = get_preset(spec.preset)
    source = open_dataset(spec.data, "train", frames=config.frames, resolution=config.resolution,
                          path=spec.data_path)
    return train(config, source, spec)


def planned_batch_size(spec: TrainSpec) -> int:
    """The global batch ``spec`` will train with, found without loading a checkpoint (for launchers).

    ``--batch-size``, else on ``--resume`` the one in ``--out``'s config.json, else the preset's.
    """
    from ramvid.config import get_preset

    if spec.batch_size is not None:
        return spec.batch_size
    saved = Path(spec.out_dir) / "config.json"
    if spec.resume and saved.is_file():
        return RamvidConfig.from_dict(json.loads(saved.read_text())).train.batch_size
    if spec.preset is None:
        raise ValueError("--preset is required")
    return get_preset(spec.preset).train.batch_size


def _resume_source(out_dir: Path, resume: bool, world: distributed.World) -> Path | None:
    newest = latest_checkpoint(out_dir)
    name = None if newest is None else newest.name
    if world.active and distributed.broadcast_object(name, world) != name:
        raise ValueError(f"{out_dir}: rank {world.rank} finds checkpoint {name} but rank 0 another; --out "
                         "must be one folder all processes share (on several nodes: a shared filesystem)")
    if newest is not None and not resume:
        raise ValueError(f"{out_dir} already holds checkpoints ({newest.name}); pass --resume to "
                         "continue, or choose another --out")
    return newest if resume else None


def _new_state(config: RamvidConfig, seed: int, dev: torch.device) -> TrainState:
    from ramvid.model import build_model

    # Init on CPU from its own seed: the same weights on every device, independent of global RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed_for(seed, INIT_KEY))
        model = build_model(config.model)
    model = model.to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=config.train.lr,
                            weight_decay=config.train.weight_decay)
    return TrainState(model=model, opt=opt, ema=Ema(model, config.train.ema_rate), step=0)


def _core(config: RamvidConfig, train: bool = True) -> dict[str, Any]:
    """Everything of a config that must not change on resume (micro_batch only changes memory)."""
    d = config.to_dict()
    d["train"] = {k: v for k, v in d["train"].items() if k != "micro_batch"} if train else {}
    return d


def _check_same(saved: dict[str, Any], now: dict[str, Any], ckpt: Path, hint: str, prefix: str = "") -> None:
    for k in sorted(set(saved) | set(now)):
        a, b = saved.get(k), now.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            _check_same(a, b, ckpt, hint, f"{prefix}{k}.")
        elif a != b:
            raise ValueError(f"--resume: {ckpt.name} was trained with {prefix}{k}={a!r}, this run asks "
                             f"{b!r}; use the same {hint} or another --out")


def _restore(state: TrainState, saved: dict[str, Any], config: RamvidConfig, seed: int,
             data: dict[str, Any], ckpt: Path) -> None:
    from ramvid.model import load_state_dict_checked

    _check_same(_core(RamvidConfig.from_dict(saved["config"])), _core(config), ckpt, "settings")
    if int(saved["rng"]["seed"]) != seed:
        raise ValueError(f"--resume: {ckpt.name} was trained with --seed {int(saved['rng']['seed'])}, "
                         f"this run asks {seed}; use the same --seed or another --out")
    old = (saved.get("dataset") or {}).get("name")
    if old is not None and old != data["name"]:
        raise ValueError(f"--resume: {ckpt.name} was trained on dataset {old!r}, this run uses "
                         f"{data['name']!r}; use the same --data or another --out")
    load_state_dict_checked(state.model, saved["model"])
    state.ema.load_state_dict(saved["ema"])
    state.opt.load_state_dict(saved["optimizer"])
    state.step = int(saved["step"])


def _write_run_files(out_dir: Path, config: RamvidConfig, spec: TrainSpec, data: dict[str, Any],
                     dev: torch.device, ckpt: Path | None, step: int, processes: int = 1) -> None:
    def dump(obj: Any) -> Any:
        return lambda p: p.write_text(json.dumps(obj, indent=2) + "\n")

    out_dir.mkdir(parents=True, exist_ok=True)
    removed, nbytes = clean_stale_temp(out_dir)  # left by checkpoint writes of killed runs
    if removed:
        note(f"{out_dir}: removed {removed} stale temp file(s) of killed writes ({nbytes / 1e6:.1f} MB)")
    atomic_write(out_dir / "config.json", dump(config.to_dict()))
    run = {"seed": spec.seed, "steps": spec.steps, "dataset": data, "device": str(dev),
           "git_hash": git_hash(), "resumed_from": None if ckpt is None else ckpt.name,
           "processes": processes, "spec": spec_dict(spec)}
    atomic_write(out_dir / "run.json", dump(run))
    _truncate_log(out_dir / "log.jsonl", step)


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines past ``step`` (steps run after the last checkpoint of an interrupted run).

    A last line cut short (the run was killed mid-write) is dropped with a note; a broken line
    anywhere else is not ours to guess about: ValueError naming the file and line.
    """
    if not path.exists():
        return
    lines = path.read_text(errors="replace").splitlines()
    numbered = [(i, ln) for i, ln in enumerate(lines, 1) if ln.strip()]
    kept = []
    for j, (i, ln) in enumerate(numbered):
        try:
            row_step = int(json.loads(ln)["step"])
        except (ValueError, KeyError, TypeError):
            if j < len(numbered) - 1:
                raise ValueError(f"{path}: line {i} is not a log row ({ln[:60]!r}); fix or delete that "
                                 "line, then --resume again") from None
            note(f"{path}: dropped the cut-off last line {i} (the run was killed while writing it)")
            continue
        if row_step <= step:
            kept.append(ln)
    atomic_write(path, lambda p: p.write_text("".join(ln + "\n" for ln in kept)))


def _loop(state: TrainState, config: RamvidConfig, batches: Batches, spec: TrainSpec, *,
          dev: torch.device, data: dict[str, Any], world: distributed.World) -> TrainResult:
    steps, out_dir, seed, max_minutes = spec.steps, Path(spec.out_dir), spec.seed, spec.max_minutes
    schedule = diffusion.Schedule.linear(config.diffusion.steps)
    log_path = out_dir / "log.jsonl"
    last_loss = None
    started = time.perf_counter()
    from ramvid.plots import TrainingPlots

    # loss.png beside log.jsonl at every checkpoint (and TensorBoard with --log-dir), rank 0 only;
    # a missing TensorBoard fails here, before step 1
    plots = TrainingPlots(out_dir, spec.log_dir, start_step=state.step) if world.main else None
    bar = tqdm(total=steps, initial=min(state.step, steps), disable=not (spec.progress and world.main),
               desc="train", unit="step", dynamic_ncols=True)
    try:
        while state.step < steps:
            t0 = time.perf_counter()
            try:
                last_loss, grad_norm = train_step(state, config, batches, schedule, seed, dev, world,
                                                  spec.precision)
                seconds = time.perf_counter() - t0
                if world.main and (state.step % spec.log_every == 0 or state.step == steps):
                    row = {"step": state.step, "loss": last_loss, "grad_norm": grad_norm,
                           "lr": state.opt.param_groups[0]["lr"], "seconds": round(seconds, 4)}
                    with open(log_path, "a") as f:
                        f.write(json.dumps(row) + "\n")
                    plots.log(row)
                # every rank stops at the same step: out of time anywhere is out of time everywhere
                out_of_time = max_minutes is not None and distributed.any_true(
                    time.perf_counter() - started >= 60 * max_minutes, world)
                if state.step % spec.save_every == 0 or state.step == steps or out_of_time:
                    _save(state, config, spec, data, world, plots)
            except TrainingDiverged as e:
                kept = latest_checkpoint(out_dir)
                raise TrainingDiverged(f"{e}; stopped without saving (last good checkpoint: "
                                       f"{kept if kept else 'none'})") from None
            bar.update(1)
            bar.set_postfix(loss=f"{last_loss:.4f}")
            if out_of_time:
                break
    finally:
        bar.close()
        if plots is not None:
            plots.close()
    return TrainResult(step=state.step, checkpoint=latest_checkpoint(out_dir), last_loss=last_loss)


def _save(state: TrainState, config: RamvidConfig, spec: TrainSpec, data: dict[str, Any],
          world: distributed.World, plots: Any = None) -> None:
    """Rank 0 writes ``ckpt-<step>.pt`` (and prunes old ones) and the loss plot while the other
    ranks wait."""
    check_finite_weights(state.model, state.step)  # on every rank: all raise together
    if world.main:
        with distributed.sigterm_exits(world):  # killed mid-write by torchrun: the temp files go
            _write_checkpoint(state, config, spec, data)
            if plots is not None:
                plots.checkpoint()
    distributed.barrier(world)


def _write_checkpoint(state: TrainState, config: RamvidConfig, spec: TrainSpec,
                      data: dict[str, Any]) -> None:
    out_dir, seed, keep = Path(spec.out_dir), spec.seed, spec.keep
    save_checkpoint(out_dir / checkpoint_name(state.step), {
        "config": config.to_dict(),
        "step": state.step,
        "model": {k: v.detach().cpu() for k, v in state.model.state_dict().items()},
        "ema": state.ema.state_dict(),
        "optimizer": state.opt.state_dict(),
        "rng": {"seed": seed, "torch_cpu": torch.get_rng_state(),
                "next_step_generator": make_generator(seed, state.step, 0).get_state()},
        "git_hash": git_hash(),
        "dataset": data,
        "spec": spec_dict(spec),
    })
    if keep:
        for _, old in list_checkpoints(out_dir)[:-keep]:
            old.unlink(missing_ok=True)
