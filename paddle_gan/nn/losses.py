"""Losses: adversarial ones on logits, and InfoGAN's mutual-information term.

The article wrote ``-log(D + 1e-8)`` on sigmoid outputs; the same objective on logits with
Paddle's stable sigmoid cross-entropy does not saturate when D is confident.
"""
from __future__ import annotations

import math

import paddle
import paddle.nn.functional as F

from paddle_gan import latent

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _check(kind: str) -> None:
    if kind not in ("bce", "hinge"):
        raise ValueError(f"unknown adversarial loss {kind!r}")


def _bce(logits: paddle.pir.Value, target: float) -> paddle.pir.Value:
    return F.binary_cross_entropy_with_logits(logits, paddle.full_like(logits, target))


def d_loss(real_logits: paddle.pir.Value, fake_logits: paddle.pir.Value,
           kind: str = "bce", label_smoothing: float = 0.0) -> paddle.pir.Value:
    """bce: -E[log D(x)] - E[log(1 - D(G(z)))]; hinge: E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]
    (D(.) the logit). ``label_smoothing`` (bce): real images' target is 1 minus it, fakes' stays 0
    (one-sided, Salimans et al. 2016), so D is never rewarded for certainty about real data."""
    _check(kind)
    if kind == "hinge":
        return paddle.mean(F.relu(1.0 - real_logits)) + paddle.mean(F.relu(1.0 + fake_logits))
    return _bce(real_logits, 1.0 - label_smoothing) + _bce(fake_logits, 0.0)


def g_loss(fake_logits: paddle.pir.Value, kind: str = "bce") -> paddle.pir.Value:
    """bce: the non-saturating -E[log D(G(z))]; hinge: -E[D(G(z))] (the logit)."""
    _check(kind)
    if kind == "hinge":
        return -paddle.mean(fake_logits)
    return _bce(fake_logits, 1.0)


def d_terms(real: paddle.pir.Value, real_logits: paddle.pir.Value,
            fake_logits: paddle.pir.Value, config) -> dict[str, paddle.pir.Value]:
    """The D step's adversarial terms for a model config, by name: ``d_loss`` (of
    ``config.loss``) and, when ``config.r1_gamma`` is set, ``r1``. Their sum is what D minimises
    besides any model-specific term; the names double as the logged fetches."""
    terms = {"d_loss": d_loss(real_logits, fake_logits, config.loss, config.label_smoothing)}
    if config.r1_gamma:
        terms["r1"] = r1_penalty(real, real_logits, config.r1_gamma)
    return terms


def r1_penalty(real: paddle.pir.Value, real_logits: paddle.pir.Value,
               gamma: float) -> paddle.pir.Value:
    """(gamma / 2) E||grad_x D(x)||^2 on real samples (Mescheder et al. 2018): pushes D's
    surface flat where the data is. ``real`` must have been created with stop_gradient False;
    the gradient is built into the Program, so minimising the penalty differentiates twice.
    With batch norm in D (InfoGAN's trunk) the gradient of the summed logits includes the
    batch statistics' cross-sample terms, so it is R1 of the batch, not of each sample alone."""
    (grad,) = paddle.static.gradients([paddle.sum(real_logits)], [real])
    return 0.5 * gamma * paddle.mean(paddle.sum(paddle.square(grad), axis=1))


def info_nll(q_out: paddle.pir.Value, z: paddle.pir.Value, codes: latent.Codes,
             cont_std: float = 0.0) -> tuple[paddle.pir.Value, paddle.pir.Value]:
    """The two halves of -L_I for InfoGAN's codes, as batch means (nats).

    ``q_out`` is Q's outputs, laid out as ``codes`` says: c1's logits (10 in the paper), the
    means and the log-stds of c2, c3.
    ``cont_std`` 0 uses Q's log-stds (the article); a positive value fixes the Gaussian's std
    instead, as the official InfoGAN code does for MNIST (``fix_std``), and Q's log-std
    outputs go unused. Returns (cross-entropy of c1, Gaussian NLL of c2 and c3).
    """
    onehot, cont = z[:, codes.cat], z[:, codes.cont]
    cat_logits = q_out[:, codes.cat_logits]
    mean, log_std = q_out[:, codes.cont_means], q_out[:, codes.cont_log_stds]
    if cont_std > 0:
        log_std = paddle.full_like(mean, math.log(cont_std))
    cat_nll = paddle.mean(-paddle.sum(onehot * F.log_softmax(cat_logits, axis=1), axis=1))
    std_err = (cont - mean) * paddle.exp(-log_std)
    cont_nll = paddle.mean(paddle.sum(0.5 * std_err * std_err + log_std + HALF_LOG_2PI, axis=1))
    return cat_nll, cont_nll


def real_information(cat_log_probs: paddle.pir.Value) -> tuple[paddle.pir.Value, paddle.pir.Value]:
    """Q's mutual information between c1 and a batch of real images, H(mean p) - mean H(p),
    with p = Q(c1 | x) (IMSAT, Hu et al. 2017): high when Q is confident on each image and
    uses every code equally often. Returns (mean H(p), H(mean p)), both in nats."""
    p = paddle.exp(cat_log_probs)
    mean_p = paddle.mean(p, axis=0)
    conditional = paddle.mean(-paddle.sum(p * cat_log_probs, axis=1))
    marginal = -paddle.sum(mean_p * paddle.log(mean_p + 1e-12))
    return conditional, marginal


def consistency(cat_log_probs: paddle.pir.Value,
                warped_log_probs: paddle.pir.Value) -> paddle.pir.Value:
    """KL(p(x) || p(warp x)), batch mean: Q's c1 posterior should not change under a small
    warp. p(x) is the target, a constant: only the warped image's posterior is pulled."""
    target, log_target = paddle.exp(cat_log_probs).detach(), cat_log_probs.detach()
    return paddle.mean(paddle.sum(target * (log_target - warped_log_probs), axis=1))
