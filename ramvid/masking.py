"""RaMViD's random masks (the paper's contribution): pure, vectorised, seeded functions.

A mask is ``bool [B, T]``: True marks a conditioning (known, clean) frame, False a frame that is
noised during training and generated during sampling.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch


def draw_train_masks(batch: int, frames: int, p_uncond: float, max_cond: int,
                     generator: torch.Generator) -> torch.Tensor:
    """Training masks bool [batch, frames] on the generator's device.

    Per row: with probability ``p_uncond`` no known frame; else k ~ U{1..max_cond} and k distinct
    frame indices uniform over the whole clip. Always consumes the same amount of randomness, so a
    row's mask depends only on the generator state.
    """
    if batch < 1 or frames < 1:
        raise ValueError(f"batch and frames must be >= 1, got batch={batch} frames={frames}")
    if not 0.0 <= p_uncond <= 1.0:
        raise ValueError(f"p_uncond must be in [0, 1], got {p_uncond}")
    if not 1 <= max_cond <= frames:
        raise ValueError(f"max_cond must be in 1..{frames} (the clip length), got {max_cond}")
    dev = generator.device
    uncond = torch.rand(batch, generator=generator, device=dev) < p_uncond
    k = torch.randint(1, max_cond + 1, (batch,), generator=generator, device=dev)
    # Rank of each frame in a uniformly random permutation: the k lowest ranks are k distinct,
    # uniformly chosen indices.
    ranks = torch.rand(batch, frames, generator=generator, device=dev).argsort(1).argsort(1)
    return (ranks < k[:, None]) & ~uncond[:, None]


def parse_cond_indices(text: str) -> tuple[int, ...]:
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


def validate_cond_indices(indices: Sequence[int], frames: int) -> tuple[int, ...]:
    """Check conditioning frame indices against a clip of ``frames``; return them as a sorted tuple.

    Raises one-line ValueErrors for: too many known frames (at least one frame must be generated),
    an index outside 0..frames-1, a repeated index.
    """
    idx = [int(i) for i in indices]
    if len(idx) >= frames:
        raise ValueError(f"{len(idx)} conditioning frames for a {frames}-frame clip: leave at least one"
                         " frame to generate (use fewer indices or more --frames)")
    bad = [i for i in idx if not 0 <= i < frames]
    if bad:
        raise ValueError(f"conditioning frame {bad[0]} is outside 0..{frames - 1} for a {frames}-frame clip")
    seen: set[int] = set()
    for i in idx:
        if i in seen:
            raise ValueError(f"conditioning frame {i} is repeated; list each index once")
        seen.add(i)
    return tuple(sorted(idx))


def mask_from_indices(indices: Sequence[int], frames: int, batch: int = 1,
                      device: torch.device | str = "cpu") -> torch.Tensor:
    """bool [batch, frames], True at the (validated) conditioning ``indices`` in every row."""
    idx = validate_cond_indices(indices, frames)
    mask = torch.zeros(batch, frames, dtype=torch.bool, device=device)
    mask[:, list(idx)] = True
    return mask


def _frame_mask(cond_mask: torch.Tensor) -> torch.Tensor:
    """bool [B, T] -> [B, 1, T, 1, 1], broadcastable over [B, C, T, H, W]."""
    if cond_mask.dtype != torch.bool or cond_mask.ndim != 2:
        raise ValueError(f"cond_mask must be bool [B, T], got {cond_mask.dtype} {list(cond_mask.shape)}")
    return cond_mask[:, None, :, None, None]


def impose(x: torch.Tensor, x_known: torch.Tensor, cond_mask: torch.Tensor) -> torch.Tensor:
    """Replace the known frames of ``x`` by ``x_known`` (both [B, C, T, H, W]); mask bool [B, T]."""
    return torch.where(_frame_mask(cond_mask).to(x.device), x_known, x)


def masked_mse_per_item(pred: torch.Tensor, target: torch.Tensor,
                        cond_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row MSE over unknown elements only -> (loss [B], valid bool [B]).

    A row whose frames are all known has nothing to learn: its loss is 0 and ``valid`` False.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {list(pred.shape)} and target {list(target.shape)} differ in shape")
    unknown = (~_frame_mask(cond_mask)).to(pred.device)
    sq = (pred - target).square() * unknown
    per_frame = pred[0, :, 0].numel()  # C * H * W elements in one frame
    count = unknown.flatten(1).sum(1) * per_frame
    loss = sq.flatten(1).sum(1) / count.clamp(min=1).to(pred.dtype)
    return loss, count > 0


def masked_mse(pred: torch.Tensor, target: torch.Tensor, cond_mask: torch.Tensor) -> torch.Tensor:
    """Scalar loss: mean over rows of each row's MSE on its noised (unknown) elements.

    pred/target [B, C, T, H, W], cond_mask bool [B, T]. Known frames get exactly zero gradient; rows
    with every frame known are left out of the mean (0 if no row has an unknown frame, never NaN).
    This is the official per-row sum / count, averaged over the batch.
    """
    loss, valid = masked_mse_per_item(pred, target, cond_mask)
    return loss.sum() / valid.sum().clamp(min=1).to(loss.dtype)
