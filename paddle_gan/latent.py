"""InfoGAN's latent input on MNIST: 62 noise + a categorical code c1 (10-way in the paper's
Appendix C; ``--categories``) + two continuous codes c2, c3, the latent batches behind the
traversal grids, and the truncation trick for any model's U(-1, 1) noise."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from paddle_gan.cli import UserError

NOISE_DIM, CATEGORIES, CONTINUOUS = 62, 10, 2  # CATEGORIES: the paper's c1
NOISE = slice(0, NOISE_DIM)  # where the noise sits in z, whatever c1's size


@dataclass(frozen=True)
class Codes:
    """Where c1 and c2, c3 sit in z (``[noise | one_hot(c1) | c2 c3]``) and in Q's outputs
    (c1's logits, then the means and the log-stds of c2, c3), for a c1 of ``categories``
    values; the paper's 10 give a z of 74 and 14 Q outputs."""
    categories: int = CATEGORIES

    @property
    def dim(self) -> int:
        return NOISE_DIM + self.categories + CONTINUOUS

    @property
    def cat(self) -> slice:
        return slice(NOISE_DIM, NOISE_DIM + self.categories)

    @property
    def cont(self) -> slice:
        return slice(NOISE_DIM + self.categories, self.dim)

    @property
    def cat_logits(self) -> slice:
        return slice(0, self.categories)

    @property
    def cont_means(self) -> slice:
        return slice(self.categories, self.categories + CONTINUOUS)

    @property
    def cont_log_stds(self) -> slice:
        return slice(self.categories + CONTINUOUS, self.categories + 2 * CONTINUOUS)

    @property
    def q_outputs(self) -> int:
        return self.categories + 2 * CONTINUOUS

    def compose(self, noise: np.ndarray, c1: np.ndarray, cont: np.ndarray) -> np.ndarray:
        """``[noise | one_hot(c1) | c2 c3]`` as float32 ``[n, dim]``."""
        one_hot = np.eye(self.categories)[c1]
        return np.concatenate([noise, one_hot, cont], axis=1).astype(np.float32)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """noise ~ U(-1, 1)^62, c1 uniform over its values, c2, c3 ~ U(-1, 1)."""
        noise = rng.uniform(-1.0, 1.0, (n, NOISE_DIM))
        c1 = rng.integers(0, self.categories, n)
        return self.compose(noise, c1, rng.uniform(-1.0, 1.0, (n, CONTINUOUS)))

    def categorical_grid(self, rng: np.random.Generator, cols: int = 10) -> np.ndarray:
        """Row i has c1 = i; column j has its own noise and continuous codes, shared by all
        rows."""
        noise = rng.uniform(-1.0, 1.0, (cols, NOISE_DIM))
        cont = rng.uniform(-1.0, 1.0, (cols, CONTINUOUS))
        rows = np.repeat(np.arange(self.categories), cols)
        return self.compose(np.tile(noise, (self.categories, 1)), rows,
                            np.tile(cont, (self.categories, 1)))

    def traversal_grid(self, rng: np.random.Generator, code: int, cols: int = 10,
                       span: float = 2.0) -> np.ndarray:
        """Row i has c1 = i; columns sweep continuous code ``code`` (0: c2, 1: c3) from -span
        to span, as in the paper's Figure 2; the noise is one draw for the whole grid and the
        other continuous codes stay at 0, their mean."""
        n = self.categories * cols
        noise = np.tile(rng.uniform(-1.0, 1.0, (1, NOISE_DIM)), (n, 1))
        cont = np.zeros((n, CONTINUOUS))
        cont[:, code] = np.tile(np.linspace(-span, span, cols), self.categories)
        return self.compose(noise, np.repeat(np.arange(self.categories), cols), cont)

    def with_category(self, z: np.ndarray, c1: int) -> np.ndarray:
        """A copy of the latent batch ``z`` with every c1 set to ``c1``."""
        z = z.copy()
        z[:, self.cat] = np.eye(self.categories)[c1]
        return z


def add_truncation_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--truncation``, as infer.py and evaluate.py take it (see :func:`check_truncation`)."""
    parser.add_argument("--truncation", type=float, default=1.0,
                        help="redraw noise components with |z| above this (the truncation "
                             "trick: more typical, less varied samples; noise is U(-1, 1), so "
                             "only values below 1 act)")


def check_truncation(threshold: float) -> None:
    """A truncation threshold must be a positive number (1 or more changes nothing)."""
    if not 0 < threshold < np.inf:
        raise UserError(f"--truncation must be a positive number, got {threshold}")


def truncate(rng: np.random.Generator, z: np.ndarray, noise: slice,
             threshold: float) -> np.ndarray:
    """The truncation trick (BigGAN) for U(-1, 1) noise: a copy of ``z`` in which every noise
    component with |value| > ``threshold`` is redrawn, from U(-threshold, threshold): what
    redrawing from U(-1, 1) until it fits gives, in one draw. Trades diversity for fidelity;
    a threshold of 1 or more changes nothing. Codes are kept, and rows that share their noise
    (the grids' columns or rows) still share it afterwards."""
    check_truncation(threshold)
    unique, rows = np.unique(z[:, noise], axis=0, return_inverse=True)
    outside = np.abs(unique) > threshold
    unique[outside] = rng.uniform(-threshold, threshold, int(outside.sum()))
    z = z.copy()
    z[:, noise] = unique[rows.reshape(-1)]
    return z
