"""The article's MLP-GAN: startup, D-step, G-step and inference Programs sharing weights by name."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import paddle

from paddle_gan.nn import losses
from paddle_gan.cli import UserError
from paddle_gan.config import (BELOW_ONE, NON_NEGATIVE, OPTIMISER, POSITIVE, STABILISATION,
                               ModelConfig, setting)
from paddle_gan.static.graph import Latent, ModelPrograms, minimize_adam, new_step
from paddle_gan.nn.networks import IMAGE_PIXELS, MLP_Z_DIM, mlp_discriminator, mlp_generator


@dataclass(frozen=True)
class GanConfig(ModelConfig):
    """The article's MLP-GAN: what its Programs are built from; stored in every checkpoint."""
    kind: ClassVar[str] = "gan"
    # RunConfig.epochs when not given: with R1, 30 epochs is where the article's MLP-GAN draws
    # all ten digits (BENCHMARKS.md)
    default_epochs: ClassVar[int] = 30
    lr_d: float = setting(1e-3, "Adam learning rate of D", OPTIMISER, POSITIVE)
    lr_g: float = setting(1e-3, "Adam learning rate of G", OPTIMISER, POSITIVE)
    # 0.5 as in DCGAN and InfoGAN: with Adam's own 0.9, D won the MLP-GAN within a few
    # hundred steps (BENCHMARKS.md).
    beta1: float = setting(0.5, "Adam beta1", OPTIMISER, BELOW_ONE)
    loss: str = setting("bce", "adversarial loss: bce (non-saturating) or hinge", STABILISATION,
                        choices=("bce", "hinge"))
    r1_gamma: float = setting(1.0, "R1 penalty (gamma/2) E||grad_x D(x)||^2 on real images "
                                   "(0: off)", STABILISATION, NON_NEGATIVE)
    spectral_norm: bool = setting(False, "spectral normalisation of D's weights (one power "
                                         "iteration per step)", STABILISATION)
    label_smoothing: float = setting(0.0, "one-sided label smoothing: D's target for real "
                                          "images is 1 minus this (bce only)", STABILISATION,
                                     BELOW_ONE)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.label_smoothing > 0 and self.loss != "bce":
            raise UserError("--label-smoothing applies to --loss bce only")


Config = GanConfig


def sample_latent(rng: np.random.Generator, n: int) -> np.ndarray:
    """z ~ U(-1, 1)^100."""
    return rng.uniform(-1.0, 1.0, (n, MLP_Z_DIM)).astype(np.float32)


LATENT = Latent(dim=MLP_Z_DIM, sample=sample_latent, noise=slice(0, MLP_Z_DIM))


def latent_of(config: GanConfig) -> Latent:
    return LATENT


def build(config: GanConfig) -> ModelPrograms:
    startup = paddle.static.Program()
    sn = ("D_",) if config.spectral_norm else ()

    with new_step(startup, update_stats=("D_",), spectral_norm=sn) as d_step:
        real, z = d_step.data("real", [None, IMAGE_PIXELS]), d_step.data("z", [None, MLP_Z_DIM])
        real.stop_gradient = config.r1_gamma == 0
        fake = mlp_generator(d_step.layers, z).detach()
        real_logits = mlp_discriminator(d_step.layers, real)
        fake_logits = mlp_discriminator(d_step.layers, fake)
        d_terms = losses.d_terms(real, real_logits, fake_logits, config)
        minimize_adam(d_step, sum(d_terms.values()), ("D_",), config.lr_d, config.beta1)
        d_step.fetches.update(d_terms, real_logits=real_logits, fake_logits=fake_logits)

    with new_step(startup, update_stats=("G_",), spectral_norm=sn) as g_step:
        z = g_step.data("z", [None, MLP_Z_DIM])
        fake = mlp_generator(g_step.layers, z)
        g_loss = losses.g_loss(mlp_discriminator(g_step.layers, fake), config.loss)
        minimize_adam(g_step, g_loss, ("G_",), config.lr_g, config.beta1)
        g_step.fetches.update(g_loss=g_loss, fake=fake)

    with new_step(startup, training=False) as infer:
        z = infer.data("z", [None, MLP_Z_DIM])
        infer.fetches.update(images=mlp_generator(infer.layers, z))

    logged = {"d_step": tuple(d_terms), "g_step": ("g_loss",)}
    return ModelPrograms(startup, dict(d_step=d_step, g_step=g_step, infer=infer), config=config,
                         latent=LATENT, generator=mlp_generator, logged=logged)
