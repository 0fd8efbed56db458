"""TF1 legacy resize_bilinear (align_corners=False, half_pixel_centers=False): closed forms and an
independent transcription of TensorFlow's kernel (TF itself is compared in tests/reference)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from metrics.resize import interp_matrix, resize_bilinear_tf1


def tf1_legacy_loop(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TensorFlow's resize_bilinear_op.cc (legacy scaler) row by row, float32 like TF."""
    h, w, _ = img.shape
    sy, sx = np.float32(h) / np.float32(out_h), np.float32(w) / np.float32(out_w)
    fx = np.arange(out_w, dtype=np.float32) * sx
    x0 = np.floor(fx).astype(int)
    x1 = np.minimum(np.ceil(fx).astype(int), w - 1)
    lx = (fx - np.floor(fx)).astype(np.float32)[:, None]
    out = np.zeros((out_h, out_w, img.shape[2]), np.float32)
    for i in range(out_h):
        fy = np.float32(i) * sy
        y0, y1 = int(math.floor(fy)), min(int(math.ceil(fy)), h - 1)
        ly = np.float32(fy - np.float32(math.floor(fy)))
        top = img[y0, x0] + (img[y0, x1] - img[y0, x0]) * lx
        bottom = img[y1, x0] + (img[y1, x1] - img[y1, x0]) * lx
        out[i] = top + (bottom - top) * ly
    return out


def test_closed_form_2_to_4() -> None:
    # src = d * 2/4 = 0, .5, 1, 1.5 -> the last column clamps to the last source pixel
    x = torch.tensor([[0.0, 8.0], [16.0, 24.0]]).reshape(1, 2, 2, 1)
    y = resize_bilinear_tf1(x, (4, 4))[0, :, :, 0]
    expected = torch.tensor([[0, 4, 8, 8], [8, 12, 16, 16], [16, 20, 24, 24], [16, 20, 24, 24]])
    assert torch.equal(y, expected.float())


def test_interp_matrix_rows_sum_to_one() -> None:
    for n_in, n_out in [(64, 224), (13, 224), (300, 224), (224, 224)]:
        m = interp_matrix(n_in, n_out)
        assert torch.allclose(m.sum(1), torch.ones(n_out))
    assert torch.equal(interp_matrix(224, 224), torch.eye(224))


@pytest.mark.parametrize("h,w,out", [(64, 64, (224, 224)), (13, 29, (37, 41)), (50, 35, (23, 17))])
def test_matches_tf_kernel_transcription(h: int, w: int, out: tuple[int, int]) -> None:
    g = torch.Generator().manual_seed(h * 1000 + w)
    img = torch.randint(0, 256, (1, h, w, 3), generator=g).float()
    ours = resize_bilinear_tf1(img, out)[0].numpy()
    ref = tf1_legacy_loop(img[0].numpy(), *out)
    assert np.abs(ours - ref).max() <= 1e-3


def test_differs_from_half_pixel_interpolate() -> None:
    # The pitfall: torch's bilinear (half-pixel centres) is a different resize.
    g = torch.Generator().manual_seed(0)
    img = torch.randint(0, 256, (1, 64, 64, 3), generator=g).float()
    ours = resize_bilinear_tf1(img)
    torch_hp = F.interpolate(img.permute(0, 3, 1, 2), size=(224, 224), mode="bilinear",
                             align_corners=False).permute(0, 2, 3, 1)
    assert (ours - torch_hp).abs().max() > 10


def test_rejects_wrong_rank() -> None:
    with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
        resize_bilinear_tf1(torch.zeros(2, 3, 4))
