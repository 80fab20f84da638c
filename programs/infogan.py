"""InfoGAN on MNIST (paper, Table 1): startup, D-step, G-step, inference and encode Programs.

Who trains what: the D step minimises the adversarial loss plus lambda * (-L_I) on its fake
batch over ``D_`` (so the shared trunk learns the codes, as in the official code); the G step
minimises the non-saturating loss plus lambda * (-L_I) over ``G_``. Q's head ``Q_`` is trained
by the D step (``q_step`` "d", the default: D's optimiser and learning rate, as the official
code does) or by the G step ("g": G's). A code whose lambda is 0 is
still observed: Q learns it from detached trunk features, and none of its gradient reaches G
or the trunk (the paper's baseline). Each step moves only the batch-norm statistics of the
networks it trains; inference and encode use the running statistics.
"""
from __future__ import annotations

import functools
import math

import paddle
import paddle.nn.functional as F

from paddle_gan import latent, losses
from paddle_gan.config import InfoGanConfig
from paddle_gan.warp import random_affine, warp
from paddle_gan.graph import Latent, ModelPrograms, minimize_adam, new_step
from paddle_gan.networks import (IMAGE_PIXELS, infogan_d_head, infogan_generator,
                                 infogan_q_head, infogan_trunk)

Config = InfoGanConfig


def latent_of(config: InfoGanConfig) -> Latent:
    """z for a c1 of ``config.categories`` values, and the grids infer.py draws: one row per
    value of c1."""
    codes = latent.Codes(config.categories)
    rows = codes.categories
    return Latent(dim=codes.dim, sample=codes.sample, noise=latent.NOISE, grids={
        "categorical": (codes.categorical_grid, rows, 10),
        "traverse_c2": (functools.partial(codes.traversal_grid, code=0), rows, 10),
        "traverse_c3": (functools.partial(codes.traversal_grid, code=1), rows, 10)})


def info_loss(layers, features, z, config: InfoGanConfig, observe: bool):
    """lambda-weighted -L_I on ``features``; with ``observe``, a code whose lambda is 0 is
    added at weight 1 through detached features. Returns (loss, cat_nll, cont_nll); the two
    NLLs are None when no term was built.

    When exactly one lambda is 0, Q runs twice in the step that trains it (on the features and
    on their detached copy), so its BN running statistics move twice per step."""
    codes = latent.Codes(config.categories)

    def q_nll(h):
        q_out = infogan_q_head(layers, h, codes.q_outputs, config.leaky_slope)
        return losses.info_nll(q_out, z, codes, config.cont_std)

    loss, cat_nll, cont_nll = 0.0, None, None
    if config.lambda_cat > 0 or config.lambda_cont > 0:
        cat_nll, cont_nll = q_nll(features)
        if config.lambda_cat > 0:
            loss = loss + config.lambda_cat * cat_nll
        if config.lambda_cont > 0:
            loss = loss + config.lambda_cont * cont_nll
    if observe and (config.lambda_cat == 0 or config.lambda_cont == 0):
        observed_cat, observed_cont = q_nll(features.detach())
        if config.lambda_cat == 0:
            loss = loss + observed_cat
        if config.lambda_cont == 0:
            loss = loss + observed_cont
        if cat_nll is None:  # both lambdas 0: the observer's terms are the ones to log
            cat_nll, cont_nll = observed_cat, observed_cont
    return loss, cat_nll, cont_nll


def cat_log_probs(layers, features, config: InfoGanConfig) -> paddle.pir.Value:
    """log Q(c1 | x) from trunk features."""
    codes = latent.Codes(config.categories)
    q_out = infogan_q_head(layers, features, codes.q_outputs, config.leaky_slope)
    return F.log_softmax(q_out[:, codes.cat_logits], axis=1)


def build(config: InfoGanConfig) -> ModelPrograms:
    startup = paddle.static.Program()
    sn = ("D_",) if config.spectral_norm else ()
    q_in_d = config.q_step == "d"
    trunk = functools.partial(infogan_trunk, slope=config.leaky_slope)
    d_nets, g_nets = (("D_", "Q_"), ("G_",)) if q_in_d else (("D_",), ("G_", "Q_"))
    real_terms = config.lambda_real_mi > 0 or config.lambda_consistency > 0
    warped_fakes = config.lambda_warped_fakes > 0
    codes = latent.Codes(config.categories)
    log_categories = math.log(config.categories)  # H(c1), the ceiling of the categorical L_I

    with new_step(startup, update_stats=d_nets, spectral_norm=sn,
                  second_order=config.r1_gamma > 0) as d_step:
        real, z = d_step.data("real", [None, IMAGE_PIXELS]), d_step.data("z", [None, codes.dim])
        real.stop_gradient = config.r1_gamma == 0
        fake = infogan_generator(d_step.layers, z).detach()
        real_features = trunk(d_step.layers, real)
        real_logits = infogan_d_head(d_step.layers, real_features)
        fake_features = trunk(d_step.layers, fake)
        fake_logits = infogan_d_head(d_step.layers, fake_features)
        info, cat_nll, cont_nll = info_loss(d_step.layers, fake_features, z, config, observe=q_in_d)
        d_terms = losses.d_terms(real, real_logits, fake_logits, config)
        code_terms, code_logged = {}, {}  # the terms that tie c1 to the digits, and their logs
        if config.lambda_consistency > 0 or warped_fakes:  # the warps, drawn for each batch
            theta = d_step.data("theta", [None, 2, 3])
        if real_terms:
            warped_features = None
            if config.lambda_consistency > 0:
                warped_features = trunk(d_step.layers, warp(real, theta))
            real_log_p = cat_log_probs(d_step.layers, real_features, config)
            if config.lambda_real_mi > 0:
                conditional, marginal = losses.real_information(real_log_p)
                code_terms["real_mi"] = config.lambda_real_mi * (conditional - marginal)
                code_logged["real_mi"] = marginal - conditional
            if config.lambda_consistency > 0:
                kl = losses.consistency(real_log_p, cat_log_probs(d_step.layers, warped_features,
                                                                  config))
                code_terms["consistency"] = config.lambda_consistency * kl
                code_logged["consistency"] = kl
        if warped_fakes:
            warped_info, warped_cat_nll, _ = info_loss(
                d_step.layers, trunk(d_step.layers, warp(fake, theta)), z, config, observe=False)
            code_terms["warped_fakes"] = config.lambda_warped_fakes * warped_info
            code_logged["warped_li_cat"] = log_categories - warped_cat_nll
        d_loss = sum(d_terms.values()) + info + sum(code_terms.values())
        minimize_adam(d_step, d_loss, d_nets, config.lr_d, config.beta1)
        d_step.fetches.update(d_terms, real_logits=real_logits, fake_logits=fake_logits, fake=fake)
        d_step.fetches.update(code_logged)
        d_logged = list(d_terms) + list(code_logged)
        if q_in_d:  # L_I is logged from the step that trains Q
            d_step.fetches.update(li_cat=log_categories - cat_nll, cont_nll=cont_nll)
            d_logged += ["li_cat", "cont_nll"]

    with new_step(startup, update_stats=g_nets, spectral_norm=sn) as g_step:
        z = g_step.data("z", [None, codes.dim])
        fake = infogan_generator(g_step.layers, z)
        features = trunk(g_step.layers, fake)
        g_loss = losses.g_loss(infogan_d_head(g_step.layers, features), config.loss)
        info, cat_nll, cont_nll = info_loss(g_step.layers, features, z, config, observe=not q_in_d)
        if warped_fakes:
            theta = g_step.data("theta", [None, 2, 3])
            warped_info, _, _ = info_loss(g_step.layers, trunk(g_step.layers, warp(fake, theta)),
                                          z, config, observe=False)
            info = info + config.lambda_warped_fakes * warped_info
        minimize_adam(g_step, g_loss + info, g_nets, config.lr_g, config.beta1)
        g_step.fetches.update(g_loss=g_loss, fake=fake)
        g_logged = ["g_loss"]
        if not q_in_d:
            g_step.fetches.update(li_cat=log_categories - cat_nll, cont_nll=cont_nll)
            g_logged += ["li_cat", "cont_nll"]

    with new_step(startup, training=False) as infer:
        z = infer.data("z", [None, codes.dim])
        infer.fetches.update(images=infogan_generator(infer.layers, z))

    with new_step(startup, training=False, spectral_norm=sn) as encode:
        real = encode.data("real", [None, IMAGE_PIXELS])
        q_out = infogan_q_head(encode.layers, trunk(encode.layers, real), codes.q_outputs,
                               config.leaky_slope)
        encode.fetches.update(cat_probs=F.softmax(q_out[:, codes.cat_logits], axis=1),
                              cont_mean=q_out[:, codes.cont_means])

    logged = {"d_step": tuple(d_logged), "g_step": tuple(g_logged)}
    drawn = {role: {"theta": random_affine} for role, step in (("d_step", d_step), ("g_step", g_step))
             if "theta" in step.feeds}
    return ModelPrograms(startup, dict(d_step=d_step, g_step=g_step, infer=infer, encode=encode),
                         config=config, latent=latent_of(config), generator=infogan_generator,
                         logged=logged, drawn_feeds=drawn, codes=codes)
