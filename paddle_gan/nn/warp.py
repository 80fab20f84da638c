"""Small random affine warps of digit images (rotation, scale, shift), for InfoGAN's
invariance terms: a code that survives them tracks what a digit is, not where it sits or how
it leans. The maps are drawn on the host from the run's noise generator (so a resumed run
draws the same ones) and applied in the Program."""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F

from paddle_gan.data import IMAGE_SIDE

DEGREES, SCALE, SHIFT = 15.0, 0.1, 2.0  # rotation in +-15 degrees, scale 1 +- 0.1, +-2 pixels


def random_affine(rng: np.random.Generator, n: int) -> np.ndarray:
    """n maps ``theta`` [n, 2, 3] from output to input coordinates (normalised to [-1, 1]), as
    ``F.affine_grid`` takes them."""
    angle = np.deg2rad(rng.uniform(-DEGREES, DEGREES, n))
    scale = rng.uniform(1 - SCALE, 1 + SCALE, n)
    shift = rng.uniform(-SHIFT, SHIFT, (n, 2)) * (2 / IMAGE_SIDE)
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    rows = [np.stack([cos, -sin, shift[:, 0]], 1), np.stack([sin, cos, shift[:, 1]], 1)]
    return np.stack(rows, 1).astype(np.float32)


def warp(images: paddle.pir.Value, theta: paddle.pir.Value) -> paddle.pir.Value:
    """Images [N, 784] or [N, 1, 28, 28] warped by their maps ``theta`` [N, 2, 3]: bilinear,
    black outside the image; [N, 1, 28, 28]."""
    x = paddle.reshape(images, [-1, 1, IMAGE_SIDE, IMAGE_SIDE])
    batch = paddle.cast(paddle.shape(theta)[:1], "int32")
    out_shape = paddle.concat([batch, paddle.to_tensor([1, IMAGE_SIDE, IMAGE_SIDE], "int32")])
    grid = F.affine_grid(theta, out_shape, align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
