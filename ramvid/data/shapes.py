"""``shapes``: procedural coloured sprites over a smooth texture, generated from a seed (no downloads).

Clip ``i`` of split ``s`` is rendered from ``make_generator(seed, SPLIT_IDS[s], i)``, so splits are
disjoint by construction and any clip is reproducible on its own. Everything is defined in
normalised coordinates ([0, 1] across the frame), so a scene at 32x32 is the same scene as at 64x64.

Motion is stochastic: every frame each sprite may turn (up to +-90 degrees), change speed or change
spin, and it bounces off the walls, so the future of a clip is genuinely uncertain given its past.
Edges are anti-aliased (1-pixel coverage ramp from a signed distance), sprites are shaded and cast a
soft shadow, and the background is a sum of Gaussian bumps: frames stay smooth after FVD's bilinear
resize to 224x224 instead of turning into blocky pixel art.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from ramvid.data.base import VideoSource, randint
from ramvid.utils import make_generator

SPLIT_IDS = {"train": 0, "test": 1, "val": 2}
CIRCLE, SQUARE, TRIANGLE = 0, 1, 2


@dataclass(frozen=True)
class ShapesConfig:
    """Scene statistics (normalised units: 1.0 = frame width; speeds per frame)."""

    test_size: int = 1024          # deterministic clips in the test / val split
    train_size: int = 2 ** 31      # train is effectively infinite: random_clip draws an index
    max_sprites: int = 3
    radius: tuple[float, float] = (0.09, 0.17)
    speed: tuple[float, float] = (0.015, 0.07)
    p_turn: float = 0.15           # per frame and sprite
    p_speed: float = 0.15
    p_spin: float = 0.1

    def __post_init__(self) -> None:
        if self.test_size < 1 or self.max_sprites < 1:
            raise ValueError("shapes: test_size and max_sprites must be >= 1")


def _rand(g: torch.Generator, *shape: int) -> np.ndarray:
    return torch.rand(shape, generator=g, dtype=torch.float64).numpy()


@functools.lru_cache(maxsize=32)
def _bump_matrix(res: int, nodes: int, sigma: float) -> np.ndarray:
    """Row-normalised Gaussian weights [res, nodes] from pixel centres to evenly spaced nodes."""
    x = (np.arange(res) + 0.5) / res
    c = np.linspace(-0.1, 1.1, nodes)
    w = np.exp(-0.5 * ((x[:, None] - c[None, :]) / sigma) ** 2)
    return w / w.sum(1, keepdims=True)


def _background(g: torch.Generator, res: int) -> np.ndarray:
    """Smooth random texture float [R, R, 3] in [0, 1]: a muted base colour plus two octaves."""
    base = 0.25 + 0.45 * _rand(g, 3)
    out = np.broadcast_to(base, (res, res, 3)).copy()
    for nodes, sigma, amp in ((5, 0.16, 0.22), (11, 0.07, 0.08)):
        grid = (_rand(g, nodes, nodes, 3) - 0.5) * 2 * amp
        w = _bump_matrix(res, nodes, sigma)
        out += (w[None] @ grid.transpose(2, 0, 1) @ w.T[None]).transpose(1, 2, 0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    k = (np.array([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _trajectory(g: torch.Generator, n: int, frames: int, cfg: ShapesConfig, radius: np.ndarray):
    """Centres [T, n, 2] and angles [T, n] under random turns, speed changes and wall bounces.

    Plain Python floats: with at most a few sprites this beats tiny numpy arrays by ~10x.
    """
    lo, hi = cfg.speed
    init = _rand(g, n, 6).tolist()
    ev = _rand(g, frames, n, 6).tolist()  # per step: turn?, amount, speed?, factor, spin?, new spin
    out = np.empty((frames, n, 3))
    for s in range(n):
        r = float(radius[s])
        x, y = r + (1 - 2 * r) * init[s][0], r + (1 - 2 * r) * init[s][1]
        speed, heading = lo + (hi - lo) * init[s][2], 2 * math.pi * init[s][3]
        angle, spin = 2 * math.pi * init[s][4], (init[s][5] - 0.5) * 0.3
        for t in range(frames):
            out[t, s] = (x, y, angle)
            turn, amount, change, factor, respin, new_spin = ev[t][s]
            if turn < cfg.p_turn:
                heading += (amount - 0.5) * math.pi
            if change < cfg.p_speed:
                speed = min(max(speed * (0.5 + 1.3 * factor), lo), hi)
            if respin < cfg.p_spin:
                spin = (new_spin - 0.5) * 0.3
            vx, vy = speed * math.cos(heading), speed * math.sin(heading)
            x, vx = bounce(x + vx, vx, r)
            y, vy = bounce(y + vy, vy, r)
            heading, angle = math.atan2(vy, vx), angle + spin
    return out[..., :2], out[..., 2]


def bounce(p: float, v: float, r: float) -> tuple[float, float]:
    """Reflect position ``p`` and velocity ``v`` at the walls of [r, 1 - r]."""
    if p < r:
        return 2 * r - p, -v
    if p > 1 - r:
        return 2 * (1 - r) - p, -v
    return p, v


def _sdf(kind: int, x: np.ndarray, y: np.ndarray, r: float) -> np.ndarray:
    """Signed distance (normalised units, negative inside) in the sprite's rotated frame."""
    if kind == CIRCLE:
        return np.sqrt(x * x + y * y) - r
    if kind == SQUARE:
        a = 0.85 * r
        qx, qy = np.abs(x) - a, np.abs(y) - a
        outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
        return outside + np.minimum(np.maximum(qx, qy), 0)
    # Equilateral triangle (Inigo Quilez's exact SDF), half side h, circumradius 1.15 r.
    k, h = np.float32(np.sqrt(3.0)), np.float32(1.15 * r * np.sqrt(3.0) / 2)
    px, py = np.abs(x) - h, y + h / k
    fold = px + k * py > 0
    px, py = np.where(fold, (px - k * py) / 2, px), np.where(fold, (-k * px - py) / 2, py)
    px = px - np.clip(px, -2 * h, 0)
    return -np.sqrt(px * px + py * py) * np.sign(py)


def render_shapes(g: torch.Generator, frames: int, res: int, cfg: ShapesConfig = ShapesConfig()
                  ) -> np.ndarray:
    """Render one clip from generator ``g``: uint8 [frames, res, res, 3]."""
    n = 1 + randint(g, cfg.max_sprites)
    img = np.broadcast_to(_background(g, res), (frames, res, res, 3)).copy()
    kinds = torch.randint(0, 3, (n,), generator=g).numpy()
    lo, hi = cfg.radius
    radius = lo + (hi - lo) * _rand(g, n)
    hue = _rand(g, n, 3)
    centres, angles = _trajectory(g, n, frames, cfg, radius)
    grid = ((np.arange(res) + 0.5) / res).astype(np.float32)
    centres, angles = centres.astype(np.float32), angles.astype(np.float32)
    gx, gy = grid[None, None, :], grid[None, :, None]
    for s in range(n):
        colour = _hsv_to_rgb(hue[s, 0], 0.55 + 0.45 * hue[s, 1], 0.7 + 0.3 * hue[s, 2]).astype(np.float32)
        r = np.float32(radius[s])
        x = gx - centres[:, s, 0, None, None]
        y = gy - centres[:, s, 1, None, None]
        c, si = np.cos(angles[:, s])[:, None, None], np.sin(angles[:, s])[:, None, None]
        off = 0.025  # shadow offset down-right, soft (3-pixel ramp)
        xs, ys = x - off, y - off
        sdf_sh = _sdf(kinds[s], c * xs + si * ys, -si * xs + c * ys, r)
        shadow = np.clip(0.5 - sdf_sh * (res / 3.0), 0.0, 1.0)
        img *= (1.0 - 0.35 * shadow)[..., None]
        sdf = _sdf(kinds[s], c * x + si * y, -si * x + c * y, r)
        cover = np.clip(0.5 - sdf * res, 0.0, 1.0)[..., None]
        shade = 1.0 - 0.3 * np.clip((x + y) * (0.5 / r), -1.0, 1.0)  # lit from the top left
        sprite = np.minimum(colour * shade[..., None], 1.0)
        img += (sprite - img) * cover
    return (img * 255.0 + 0.5).astype(np.uint8)  # img stays in [0, 1]: no clip needed


class ShapesSource(VideoSource):
    """Procedural sprites; see the module docstring. ``len`` is the test size (train: 2**31)."""

    name = "shapes"

    def __init__(self, split: str, frames: int, resolution: int, seed: int = 0,
                 config: ShapesConfig | None = None, **options: int) -> None:
        super().__init__(split, frames, resolution)
        if split not in SPLIT_IDS:
            raise ValueError(f"shapes: unknown split {split!r}; choose one of {', '.join(SPLIT_IDS)}")
        self.config = config or ShapesConfig(**options)
        self.seed = int(seed)
        self._size = self.config.train_size if split == "train" else self.config.test_size

    def __len__(self) -> int:
        return self._size

    def clip(self, i: int) -> np.ndarray:
        i = self._check_index(i)
        g = make_generator(self.seed, SPLIT_IDS[self.split], i)
        return render_shapes(g, self.frames, self.resolution, self.config)

    def random_clip(self, generator: torch.Generator) -> np.ndarray:
        return self.clip(randint(generator, self.config.train_size if self.split == "train" else len(self)))
