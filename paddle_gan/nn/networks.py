"""The article's networks, written against :class:`~paddle_gan.static.layers.Layers`.

Each function reads top to bottom like the architecture table it implements; calling it twice
in one Program reuses the same weights, because :class:`Layers` creates each name once.
A layer feeding batch norm has ``bias=False``: BN's shift takes the bias's place.
"""
from __future__ import annotations

import paddle
import paddle.nn.functional as F

from paddle_gan.data import IMAGE_PIXELS, IMAGE_SIDE
from paddle_gan.static.layers import Layers

MLP_Z_DIM = 100


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


def _normal() -> paddle.nn.initializer.Initializer:
    """N(0, 0.02), the DCGAN/InfoGAN initialisation for conv and FC weights."""
    return paddle.nn.initializer.Normal(0.0, 0.02)


def infogan_generator(layers: Layers, z: paddle.pir.Value) -> paddle.pir.Value:
    """InfoGAN paper, Table 1 (MNIST) G: z (74) -> images [N, 1, 28, 28] in [0, 1]."""
    with layers.prefix("G_"):
        h = layers.linear("fc1", z, 1024, _normal(), bias=False)
        h = F.relu(layers.batch_norm("bn1", h))
        h = layers.linear("fc2", h, 7 * 7 * 128, _normal(), bias=False)
        h = F.relu(layers.batch_norm("bn2", h))
        h = paddle.reshape(h, [-1, 128, 7, 7])
        h = layers.conv2d_transpose("up1", h, 64, 4, 2, 1, _normal(), bias=False)
        h = F.relu(layers.batch_norm("bn3", h))
        return F.sigmoid(layers.conv2d_transpose("up2", h, 1, 4, 2, 1, _normal()))


def infogan_trunk(layers: Layers, x: paddle.pir.Value, slope: float = 0.1) -> paddle.pir.Value:
    """InfoGAN paper, Table 1 (MNIST) D body shared by D and Q: images -> features [N, 1024].
    ``slope``: leaky ReLU's, 0.1 in the paper (the official code's is 0.01)."""
    with layers.prefix("D_"):
        h = paddle.reshape(x, [-1, 1, IMAGE_SIDE, IMAGE_SIDE])
        h = F.leaky_relu(layers.conv2d("conv1", h, 64, 4, 2, 1, _normal()), slope)
        h = layers.conv2d("conv2", h, 128, 4, 2, 1, _normal(), bias=False)
        h = F.leaky_relu(layers.batch_norm("bn2", h), slope)
        h = paddle.reshape(h, [-1, 128 * 7 * 7])
        h = layers.linear("fc3", h, 1024, _normal(), bias=False)
        return F.leaky_relu(layers.batch_norm("bn3", h), slope)


def infogan_d_head(layers: Layers, h: paddle.pir.Value) -> paddle.pir.Value:
    """D output: FC 1, a real/fake logit."""
    with layers.prefix("D_"):
        return layers.linear("out", h, 1, _normal())


def infogan_q_head(layers: Layers, h: paddle.pir.Value, outputs: int,
                   slope: float = 0.1) -> paddle.pir.Value:
    """Q: FC 128 + BN + lReLU -> FC 14 = 10 categorical logits, 2 means, 2 log-stds (a c1 of
    K values: K + 4 outputs)."""
    with layers.prefix("Q_"):
        h = layers.linear("fc1", h, 128, _normal(), bias=False)
        h = F.leaky_relu(layers.batch_norm("bn1", h), slope)
        return layers.linear("out", h, outputs, _normal())
