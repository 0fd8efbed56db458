"""Frozen, validated configs and the named presets (docs/paper-facts.md sections 2 and 4).

A checkpoint stores ``RamvidConfig.to_dict()``; ``RamvidConfig.from_dict`` rebuilds it, so
``--ckpt`` alone rebuilds the model. Named presets may be added, never changed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ramvid.diffusion import PREDICTIONS  # what the network is trained to output (the table's keys)


@dataclass(frozen=True)
class ModelConfig:
    """improved-diffusion U-Net with 3D convolutions (time never down/upsampled)."""

    image_size: int = 64
    in_channels: int = 3
    model_channels: int = 128
    out_channels: int = 3
    num_res_blocks: int = 2
    attention_resolutions: tuple[int, ...] = (16, 8)  # spatial sizes that get joint attention
    channel_mult: tuple[int, ...] = (1, 2, 3, 4)
    num_heads: int = 4
    dropout: float = 0.0
    use_scale_shift_norm: bool = True
    conv_resample: bool = True
    norm_groups: int = 32  # GroupNorm groups (improved-diffusion and every preset: 32)

    def __post_init__(self) -> None:
        if self.image_size % (2 ** (len(self.channel_mult) - 1)):
            raise ValueError(
                f"image_size {self.image_size} is not divisible by 2**{len(self.channel_mult) - 1}"
                " (one halving per extra channel_mult level); pick another size or channel_mult"
            )
        if self.norm_groups < 1 or self.model_channels % self.norm_groups:
            raise ValueError(f"model_channels {self.model_channels} must be a multiple of norm_groups "
                             f"{self.norm_groups} (GroupNorm)")
        if self.num_res_blocks < 1 or self.num_heads < 1:
            raise ValueError("num_res_blocks and num_heads must be >= 1")


@dataclass(frozen=True)
class DiffusionConfig:
    """Linear-beta, fixed-large-variance Gaussian diffusion.

    ``prediction``: what the network outputs. "eps" (the paper's and improved-diffusion's) or "v"
    (v = sqrt(abar) eps - sqrt(1 - abar) x0, Salimans & Ho 2022): at high noise v is nearly -x0, so
    the network's x0 estimate is not amplified by 1/sqrt(abar) as eps's is (``benchmarks.probe``).
    """

    steps: int = 1000
    noise_schedule: str = "linear"
    prediction: str = "eps"

    def __post_init__(self) -> None:
        if self.noise_schedule != "linear":
            raise ValueError(f"unknown noise_schedule {self.noise_schedule!r}; only 'linear' exists")
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"unknown prediction {self.prediction!r}; "
                             f"choose one of {', '.join(PREDICTIONS)}")
        if self.steps < 1:
            raise ValueError("diffusion steps must be >= 1")


@dataclass(frozen=True)
class MaskConfig:
    """RaMViD's random-mask training: p_U unconditional, else k ~ U{1..K} known frames."""

    p_uncond: float = 0.25
    max_cond: int = 4  # K

    def __post_init__(self) -> None:
        if not 0.0 <= self.p_uncond <= 1.0:
            raise ValueError(f"p_uncond must be in [0, 1], got {self.p_uncond}")
        if self.max_cond < 1:
            raise ValueError("max_cond (K) must be >= 1")


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 2e-5
    batch_size: int = 32
    micro_batch: int = 2
    ema_rate: float = 0.9999
    grad_clip: float = 1.0
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.micro_batch < 1:
            raise ValueError("batch_size and micro_batch must be >= 1")
        if self.batch_size % self.micro_batch:
            raise ValueError(
                f"batch_size {self.batch_size} is not a multiple of micro_batch {self.micro_batch}"
            )
        if not 0.0 <= self.ema_rate < 1.0:
            raise ValueError("ema_rate must be in [0, 1)")


@dataclass(frozen=True)
class RamvidConfig:
    """Everything that defines a RaMViD model: network, diffusion, masking, training, clip length."""

    name: str
    frames: int
    model: ModelConfig = field(default_factory=ModelConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.frames < 2:
            raise ValueError("frames must be >= 2")
        if self.mask.max_cond >= self.frames:
            raise ValueError("max_cond (K) must be smaller than the number of frames")

    @property
    def resolution(self) -> int:
        return self.model.image_size

    def replace(self, **changes: Any) -> RamvidConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of builtins (tuples become lists): safe for ``torch.load(weights_only=True)``."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RamvidConfig:
        subs = {"model": ModelConfig, "diffusion": DiffusionConfig, "mask": MaskConfig,
                "train": TrainConfig}
        kwargs: dict[str, Any] = {}
        for k, v in d.items():
            if k in subs:
                kwargs[k] = _build(subs[k], v)
            else:
                kwargs[k] = v
        return _build(cls, kwargs)


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _build(cls: type, d: dict[str, Any]) -> Any:
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}: config from a newer version?")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


PAPER_TRAIN = TrainConfig(lr=2e-5, batch_size=32, micro_batch=2)

PRESETS: dict[str, RamvidConfig] = {
    "bair": RamvidConfig(
        name="bair", frames=20, model=ModelConfig(num_res_blocks=2),
        mask=MaskConfig(p_uncond=0.25), train=PAPER_TRAIN,
    ),
    "kinetics": RamvidConfig(
        name="kinetics", frames=16, model=ModelConfig(num_res_blocks=3),
        mask=MaskConfig(p_uncond=0.25), train=dataclasses.replace(PAPER_TRAIN, batch_size=64),
    ),
    "ucf": RamvidConfig(
        name="ucf", frames=16, model=ModelConfig(num_res_blocks=3),
        mask=MaskConfig(p_uncond=0.75), train=dataclasses.replace(PAPER_TRAIN, batch_size=64),
    ),
    # Trains visibly on a 2-core CPU: base 32 channels, mult (1,2,2), joint attention at 8x8 only.
    "tiny": RamvidConfig(
        name="tiny", frames=16,
        model=ModelConfig(image_size=32, model_channels=32, channel_mult=(1, 2, 2),
                          num_res_blocks=1, attention_resolutions=(8,), num_heads=4),
        mask=MaskConfig(p_uncond=0.25),
        train=TrainConfig(lr=2e-4, batch_size=8, micro_batch=4, ema_rate=0.995),
    ),
}


def get_preset(name: str) -> RamvidConfig:
    """Return a named preset; unknown names get a one-line error listing the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
