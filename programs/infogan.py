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
from dataclasses import dataclass
from typing import ClassVar

import paddle
import paddle.nn.functional as F

from paddle_gan import latent
from paddle_gan.nn import losses
from paddle_gan.cli import UserError
from paddle_gan.config import (AT_LEAST_TWO, CODES, NON_NEGATIVE, OPTIMISER, UNIT_INTERVAL,
                               redefault, setting)
from paddle_gan.nn.warp import random_affine, warp
from paddle_gan.static.graph import Latent, ModelPrograms, Step, minimize_adam, new_step
from paddle_gan.static.layers import Layers
from paddle_gan.nn.networks import (IMAGE_PIXELS, infogan_d_head, infogan_generator,
                                 infogan_q_head, infogan_trunk)
from programs.gan import GanConfig


@dataclass(frozen=True)
class InfoGanConfig(GanConfig):
    """The InfoGAN paper's MNIST model (Table 1) and the article's losses."""
    kind: ClassVar[str] = "infogan"
    default_epochs: ClassVar[int] = 10
    lr_d: float = redefault(GanConfig, "lr_d", 2e-4)
    r1_gamma: float = redefault(GanConfig, "r1_gamma", 0.0)
    lambda_cat: float = setting(1.0, "weight of the categorical code's L_I; 0 with "
                                     "--lambda-cont 0 gives the paper's plain-GAN baseline with "
                                     "an observer Q", OPTIMISER, NON_NEGATIVE)
    lambda_cont: float = setting(0.1, "weight of the continuous codes' L_I", OPTIMISER,
                                 NON_NEGATIVE)
    cont_std: float = setting(0.0, "std of Q's Gaussian for c2, c3; 0: Q predicts it, as in the "
                                   "article; e.g. 1: fixed, as in the official InfoGAN code",
                              OPTIMISER, NON_NEGATIVE)
    q_step: str = setting("d", "which step trains Q's head: d, with D's optimiser and learning "
                               "rate, as the official InfoGAN code does; g, with G's", OPTIMISER,
                          choices=("d", "g"))
    categories: int = setting(latent.CATEGORIES, "values of the categorical code c1 (the "
                                                 "paper's 10); above 10, evaluation also maps "
                                                 "each code to its majority digit (many-to-one "
                                                 "accuracy)", OPTIMISER, AT_LEAST_TWO)
    leaky_slope: float = setting(0.1, "leaky ReLU slope in D's trunk and Q's head (0.1 is the "
                                      "paper's; the official InfoGAN code uses 0.01)", OPTIMISER,
                                 UNIT_INTERVAL)
    lambda_real_mi: float = setting(0.0, "weight of Q's mutual information between c1 and real "
                                         "images, maximised by the D step (IMSAT): Q sorts real "
                                         "digits confidently and evenly into c1's codes; "
                                         "needs --q-step d", CODES, NON_NEGATIVE)
    lambda_consistency: float = setting(0.0, "weight of KL(Q(c1|x) || Q(c1|warped x)) on real "
                                             "images in the D step, for warps of up to 15 degrees, "
                                             "0.9-1.1 scale and 2 pixels; needs --q-step d", CODES,
                                        NON_NEGATIVE)
    lambda_warped_fakes: float = setting(0.0, "weight of L_I on warped generated images, in both "
                                              "steps: c1 must survive the same warps", CODES,
                                         NON_NEGATIVE)

    def __post_init__(self) -> None:
        super().__post_init__()
        real_image_terms = self.lambda_real_mi > 0 or self.lambda_consistency > 0
        if real_image_terms and self.q_step != "d":
            raise UserError("--lambda-real-mi and --lambda-consistency train Q on real images "
                            "in the D step: use them with --q-step d")
        if self.lambda_warped_fakes > 0 and self.lambda_cat == 0 and self.lambda_cont == 0:
            raise UserError("--lambda-warped-fakes weights L_I on warped fakes, and with "
                            "--lambda-cat 0 --lambda-cont 0 there is none: give one of them")


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


Value = paddle.pir.Value
Terms = dict[str, Value]  # a step's weighted loss terms, or its logged values, by name


def total(*groups: Terms) -> Value:
    """The sum of weighted loss terms, given in groups: each group summed in order, then the
    groups' sums. The grouping fixes the order of floating-point sums in the gradients."""
    sums = []
    for group in groups:
        values = list(group.values())
        if not values:
            continue
        group_sum = values[0]
        for value in values[1:]:
            group_sum = group_sum + value
        sums.append(group_sum)
    loss = sums[0]
    for group_sum in sums[1:]:
        loss = loss + group_sum
    return loss


def trunk(layers: Layers, images: Value, config: InfoGanConfig) -> Value:
    return infogan_trunk(layers, images, config.leaky_slope)


def code_nlls(layers: Layers, features: Value, z: Value,
              config: InfoGanConfig) -> tuple[Value, Value]:
    """Q's negative log-likelihoods of c1 and of c2, c3 (-L_I's two halves) from trunk features."""
    codes = latent.Codes(config.categories)
    q_out = infogan_q_head(layers, features, codes.q_outputs, config.leaky_slope)
    return losses.info_nll(q_out, z, codes, config.cont_std)


def information(layers: Layers, features: Value, z: Value, config: InfoGanConfig,
                observe: bool) -> tuple[Terms, Terms]:
    """-L_I of the codes on ``features`` (a generated batch's), each half weighted by its
    lambda, and L_I to log: ``li_cat`` (H(c1) - the cross-entropy; at most ln K) and
    ``cont_nll``. With ``observe``, a code whose lambda is 0 is learnt at weight 1 from
    detached features, so Q observes it while no gradient of it reaches G or the trunk.

    When exactly one lambda is 0, Q runs twice in the step that observes (on the features and
    on their detached copy), so its BN running statistics move twice per step."""
    terms, logged = {}, {}
    log_categories = math.log(config.categories)  # H(c1)
    if config.lambda_cat > 0 or config.lambda_cont > 0:
        cat_nll, cont_nll = code_nlls(layers, features, z, config)
        if config.lambda_cat > 0:
            terms["info_cat"] = config.lambda_cat * cat_nll
        if config.lambda_cont > 0:
            terms["info_cont"] = config.lambda_cont * cont_nll
        logged = {"li_cat": log_categories - cat_nll, "cont_nll": cont_nll}
    if observe and (config.lambda_cat == 0 or config.lambda_cont == 0):
        observed_cat, observed_cont = code_nlls(layers, features.detach(), z, config)
        if config.lambda_cat == 0:
            terms["observed_cat"] = observed_cat
        if config.lambda_cont == 0:
            terms["observed_cont"] = observed_cont
        if not logged:  # both lambdas 0: the observer's L_I is the one to log
            logged = {"li_cat": log_categories - observed_cat, "cont_nll": observed_cont}
    return terms, logged


def cat_log_probs(layers: Layers, features: Value, config: InfoGanConfig) -> Value:
    """log Q(c1 | x) from trunk features."""
    codes = latent.Codes(config.categories)
    q_out = infogan_q_head(layers, features, codes.q_outputs, config.leaky_slope)
    return F.log_softmax(q_out[:, codes.cat_logits], axis=1)


def real_image_terms(layers: Layers, real: Value, real_features: Value, theta: Value | None,
                     config: InfoGanConfig) -> tuple[Terms, Terms]:
    """The D step's code terms on real images: Q's mutual information between c1 and them
    (IMSAT), and the consistency of Q(c1 | x) under the warps ``theta``."""
    terms, logged = {}, {}
    warped_features = None
    if config.lambda_consistency > 0:
        warped_features = trunk(layers, warp(real, theta), config)
    real_log_p = cat_log_probs(layers, real_features, config)
    if config.lambda_real_mi > 0:
        conditional, marginal = losses.real_information(real_log_p)
        terms["real_mi"] = config.lambda_real_mi * (conditional - marginal)
        logged["real_mi"] = marginal - conditional
    if config.lambda_consistency > 0:
        kl = losses.consistency(real_log_p, cat_log_probs(layers, warped_features, config))
        terms["consistency"] = config.lambda_consistency * kl
        logged["consistency"] = kl
    return terms, logged


def warped_fake_terms(layers: Layers, fake: Value, z: Value, theta: Value,
                      config: InfoGanConfig) -> tuple[Terms, Terms]:
    """-L_I on the generated batch warped by ``theta``: c1 must survive the warps. (A config
    with this term has a code lambda above 0, so there is an L_I to warp.)"""
    info, info_logged = information(layers, trunk(layers, warp(fake, theta), config), z, config,
                                    observe=False)
    terms = {"warped_fakes": config.lambda_warped_fakes * total(info)}
    logged = {"warped_li_cat": info_logged["li_cat"]}
    return terms, logged


def d_step_warps(config: InfoGanConfig) -> bool:
    """Whether the D step takes warps: for the consistency term or the warped fakes."""
    return config.lambda_consistency > 0 or config.lambda_warped_fakes > 0


def d_step_loss(step: Step, config: InfoGanConfig) -> tuple[Value, Terms]:
    """The D step: feeds, networks and its loss (adversarial + information + code terms), with
    the values to log. The logits and the generated batch are fetches of the step too."""
    codes = latent.Codes(config.categories)
    real = step.data("real", [None, IMAGE_PIXELS])
    z = step.data("z", [None, codes.dim])
    real.stop_gradient = config.r1_gamma == 0
    fake = infogan_generator(step.layers, z).detach()
    real_features = trunk(step.layers, real, config)
    real_logits = infogan_d_head(step.layers, real_features)
    fake_features = trunk(step.layers, fake, config)
    fake_logits = infogan_d_head(step.layers, fake_features)
    trains_q = config.q_step == "d"
    info, info_logged = information(step.layers, fake_features, z, config, observe=trains_q)
    adversarial = losses.d_terms(real, real_logits, fake_logits, config)
    code_terms = {}
    logged = dict(adversarial)
    theta = None
    if d_step_warps(config):  # the warps, drawn for each batch
        theta = step.data("theta", [None, 2, 3])
    if config.lambda_real_mi > 0 or config.lambda_consistency > 0:
        real_terms, real_logged = real_image_terms(step.layers, real, real_features, theta, config)
        code_terms.update(real_terms)
        logged.update(real_logged)
    if config.lambda_warped_fakes > 0:
        warped_terms, warped_logged = warped_fake_terms(step.layers, fake, z, theta, config)
        code_terms.update(warped_terms)
        logged.update(warped_logged)
    if trains_q:  # L_I is logged from the step that trains Q
        logged.update(info_logged)
    step.fetches.update(real_logits=real_logits, fake_logits=fake_logits, fake=fake)
    return total(adversarial, info, code_terms), logged


def g_step_loss(step: Step, config: InfoGanConfig) -> tuple[Value, Terms]:
    """The G step: feeds, networks and its loss (adversarial + information, on the generated
    batch and, with --lambda-warped-fakes, on its warped copy), with the values to log. The
    generated batch is a fetch of the step too."""
    z = step.data("z", [None, latent.Codes(config.categories).dim])
    fake = infogan_generator(step.layers, z)
    features = trunk(step.layers, fake, config)
    g_loss = losses.g_loss(infogan_d_head(step.layers, features), config.loss)
    trains_q = config.q_step == "g"
    info, info_logged = information(step.layers, features, z, config, observe=trains_q)
    logged = {"g_loss": g_loss}
    if config.lambda_warped_fakes > 0:
        theta = step.data("theta", [None, 2, 3])
        warped_terms, _ = warped_fake_terms(step.layers, fake, z, theta, config)
        info.update(warped_terms)
    if trains_q:
        logged.update(info_logged)
    step.fetches.update(fake=fake)
    return total({"g_loss": g_loss}, info), logged


def build(config: InfoGanConfig) -> ModelPrograms:
    startup = paddle.static.Program()
    sn = ("D_",) if config.spectral_norm else ()
    if config.q_step == "d":
        d_nets, g_nets = ("D_", "Q_"), ("G_",)
    else:
        d_nets, g_nets = ("D_",), ("G_", "Q_")
    codes = latent.Codes(config.categories)

    with new_step(startup, update_stats=d_nets, spectral_norm=sn,
                  second_order=config.r1_gamma > 0) as d_step:
        d_total, d_logged = d_step_loss(d_step, config)
        minimize_adam(d_step, d_total, d_nets, config.lr_d, config.beta1)
        d_step.fetches.update(d_logged)

    with new_step(startup, update_stats=g_nets, spectral_norm=sn) as g_step:
        g_total, g_logged = g_step_loss(g_step, config)
        minimize_adam(g_step, g_total, g_nets, config.lr_g, config.beta1)
        g_step.fetches.update(g_logged)

    with new_step(startup, training=False) as infer:
        z = infer.data("z", [None, codes.dim])
        infer.fetches.update(images=infogan_generator(infer.layers, z))

    with new_step(startup, training=False, spectral_norm=sn) as encode:
        real = encode.data("real", [None, IMAGE_PIXELS])
        q_out = infogan_q_head(encode.layers, trunk(encode.layers, real, config),
                               codes.q_outputs, config.leaky_slope)
        encode.fetches.update(cat_probs=F.softmax(q_out[:, codes.cat_logits], axis=1),
                              cont_mean=q_out[:, codes.cont_means])

    drawn = {}
    if d_step_warps(config):
        drawn["d_step"] = {"theta": random_affine}
    if config.lambda_warped_fakes > 0:
        drawn["g_step"] = {"theta": random_affine}
    return ModelPrograms(startup, dict(d_step=d_step, g_step=g_step, infer=infer, encode=encode),
                         config=config, latent=latent_of(config), generator=infogan_generator,
                         logged={"d_step": tuple(d_logged), "g_step": tuple(g_logged)},
                         drawn_feeds=drawn, codes=codes)
