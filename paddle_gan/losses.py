"""Adversarial losses on logits.

The article wrote ``-log(D + 1e-8)`` on sigmoid outputs; the same objective on logits with
Paddle's stable sigmoid cross-entropy does not saturate when D is confident.
"""
from __future__ import annotations

import paddle
import paddle.nn.functional as F


def _bce(logits: paddle.pir.Value, target: float) -> paddle.pir.Value:
    return F.binary_cross_entropy_with_logits(logits, paddle.full_like(logits, target))


def d_loss(real_logits: paddle.pir.Value, fake_logits: paddle.pir.Value) -> paddle.pir.Value:
    """-E[log D(x)] - E[log(1 - D(G(z)))]."""
    return _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)


def g_loss(fake_logits: paddle.pir.Value) -> paddle.pir.Value:
    """Non-saturating generator loss -E[log D(G(z))]."""
    return _bce(fake_logits, 1.0)
