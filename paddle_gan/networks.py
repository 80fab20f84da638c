"""The article's networks, written against :class:`~paddle_gan.layers.Layers`.

Each function reads top to bottom like the architecture table it implements; calling it twice
in one Program reuses the same weights, because :class:`Layers` creates each name once.
"""
from __future__ import annotations

import paddle
import paddle.nn.functional as F

from paddle_gan.layers import Layers

MLP_Z_DIM = 100
IMAGE_PIXELS = 28 * 28


def mlp_generator(layers: Layers, z: paddle.pir.Value) -> paddle.pir.Value:
    """Article MLP G: z (100) -> FC 256 + ReLU -> FC 784 + sigmoid."""
    with layers.prefix("G_"):
        h = F.relu(layers.linear("fc1", z, 256))
        return F.sigmoid(layers.linear("fc2", h, IMAGE_PIXELS))


def mlp_discriminator(layers: Layers, x: paddle.pir.Value) -> paddle.pir.Value:
    """Article MLP D: x (784) -> FC 256 + ReLU -> FC 1, a logit (the sigmoid lives in the loss)."""
    with layers.prefix("D_"):
        h = F.relu(layers.linear("fc1", x, 256))
        return layers.linear("fc2", h, 1)
