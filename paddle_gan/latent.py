"""InfoGAN's latent input on MNIST: 62 noise + a 10-way categorical code c1 + two continuous
codes c2, c3 (the paper's Appendix C), the latent batches behind the traversal grids, and the
truncation trick for any model's U(-1, 1) noise."""
from __future__ import annotations

import numpy as np

NOISE_DIM, CATEGORIES, CONTINUOUS = 62, 10, 2
DIM = NOISE_DIM + CATEGORIES + CONTINUOUS   # 74
NOISE = slice(0, NOISE_DIM)                 # where the noise sits in z
CAT = slice(NOISE_DIM, NOISE_DIM + CATEGORIES)  # where c1's one-hot sits in z
CONT = slice(NOISE_DIM + CATEGORIES, DIM)   # where c2, c3 sit in z
# Q's 14 outputs: c1's logits, then the means and the log-stds of c2, c3
CAT_LOGITS = slice(0, CATEGORIES)
CONT_MEANS = slice(CATEGORIES, CATEGORIES + CONTINUOUS)
CONT_LOG_STDS = slice(CATEGORIES + CONTINUOUS, CATEGORIES + 2 * CONTINUOUS)
Q_OUTPUTS = CATEGORIES + 2 * CONTINUOUS  # 14


def compose(noise: np.ndarray, c1: np.ndarray, cont: np.ndarray) -> np.ndarray:
    """``[noise | one_hot(c1) | c2 c3]`` as float32 ``[n, 74]``."""
    return np.concatenate([noise, np.eye(CATEGORIES)[c1], cont], axis=1).astype(np.float32)


def sample(rng: np.random.Generator, n: int) -> np.ndarray:
    """noise ~ U(-1, 1)^62, c1 ~ Cat(10) uniform, c2, c3 ~ U(-1, 1)."""
    noise = rng.uniform(-1.0, 1.0, (n, NOISE_DIM))
    c1 = rng.integers(0, CATEGORIES, n)
    return compose(noise, c1, rng.uniform(-1.0, 1.0, (n, CONTINUOUS)))


def categorical_grid(rng: np.random.Generator, cols: int = 10) -> np.ndarray:
    """Row i has c1 = i; column j has its own noise and continuous codes, shared by all rows."""
    noise = rng.uniform(-1.0, 1.0, (cols, NOISE_DIM))
    cont = rng.uniform(-1.0, 1.0, (cols, CONTINUOUS))
    rows = np.repeat(np.arange(CATEGORIES), cols)
    return compose(np.tile(noise, (CATEGORIES, 1)), rows, np.tile(cont, (CATEGORIES, 1)))


def traversal_grid(rng: np.random.Generator, code: int, cols: int = 10,
                   span: float = 2.0) -> np.ndarray:
    """Row i has c1 = i; columns sweep continuous code ``code`` (0: c2, 1: c3) from -span to
    span, as in the paper's Figure 2; the noise is one draw for the whole grid and the other
    continuous codes stay at 0, their mean."""
    noise = np.tile(rng.uniform(-1.0, 1.0, (1, NOISE_DIM)), (CATEGORIES * cols, 1))
    cont = np.zeros((CATEGORIES * cols, CONTINUOUS))
    cont[:, code] = np.tile(np.linspace(-span, span, cols), CATEGORIES)
    return compose(noise, np.repeat(np.arange(CATEGORIES), cols), cont)


def with_category(z: np.ndarray, c1: int) -> np.ndarray:
    """A copy of the latent batch ``z`` with every c1 set to ``c1``."""
    z = z.copy()
    z[:, CAT] = np.eye(CATEGORIES)[c1]
    return z


def truncate(rng: np.random.Generator, z: np.ndarray, noise: slice,
             threshold: float) -> np.ndarray:
    """The truncation trick (BigGAN) for U(-1, 1) noise: a copy of ``z`` in which every noise
    component with |value| > ``threshold`` is redrawn, from U(-threshold, threshold): what
    redrawing from U(-1, 1) until it fits gives, in one draw. Trades diversity for fidelity;
    a threshold of 1 or more changes nothing. Codes are kept, and rows that share their noise
    (the grids' columns or rows) still share it afterwards."""
    if not 0 < threshold < np.inf:
        raise ValueError(f"truncation threshold must be positive, got {threshold}")
    unique, rows = np.unique(z[:, noise], axis=0, return_inverse=True)
    outside = np.abs(unique) > threshold
    unique[outside] = rng.uniform(-threshold, threshold, int(outside.sum()))
    z = z.copy()
    z[:, noise] = unique[rows.reshape(-1)]
    return z
