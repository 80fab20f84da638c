"""The pieces a model's Program set is made of: config, steps, and the set itself.

A model is a handful of separate Programs (D step, G step, inference, ...) built against one
startup Program. They never pass tensors to each other: they share parameters only by global
name, through the Scope the Executor runs them in (see :mod:`paddle_gan.static.session`).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np
import paddle
from paddle.base.data_feeder import convert_dtype

from paddle_gan.config import ModelConfig
from paddle_gan.latent import Codes
from paddle_gan.static.layers import Layers

if TYPE_CHECKING:  # the Session runs ProgramSets: a type only, no import cycle
    from paddle_gan.static.session import Session

LatentSampler = Callable[[np.random.Generator, int], np.ndarray]
Network = Callable[[Layers, paddle.pir.Value], paddle.pir.Value]
GridLatents = Callable[[np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Latent:
    """A model's latent input: its size, how to draw a batch, where its U(-1, 1) noise sits
    (what the truncation trick redraws), and the extra grids ``infer.py`` draws, by name:
    (rng -> z, rows, cols)."""
    dim: int
    sample: LatentSampler
    noise: slice
    grids: dict[str, tuple[GridLatents, int, int]] = field(default_factory=dict)


@dataclass
class Step:
    """One Program, its parameter store, and the values it is fetched by, by name."""
    program: paddle.static.Program
    layers: Layers = field(default_factory=Layers)
    fetches: dict[str, paddle.pir.Value] = field(default_factory=dict)
    feeds: dict[str, paddle.pir.Value] = field(default_factory=dict)

    def data(self, name: str, shape: list[int | None]) -> paddle.pir.Value:
        """A float32 feed of this Program."""
        self.feeds[name] = paddle.static.data(name, shape, "float32")
        return self.feeds[name]


@dataclass
class ProgramSet:
    """Programs built against one startup Program; ``steps`` maps a role to its Step."""
    startup: paddle.static.Program
    steps: dict[str, Step]

    def parameter_names(self) -> list[str]:
        """Every parameter and BN statistic, once, whichever Programs use it."""
        return sorted({n for s in self.steps.values() for n in s.layers.names})

    def persistable_names(self) -> list[str]:
        """Every persistable variable of every Program: parameters plus optimizer state."""
        return sorted(self.persistable_shapes())

    def persistable_shapes(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Each persistable variable's declared shape and dtype, by name."""
        return {v.name: (tuple(v.shape), np.dtype(convert_dtype(v.dtype)))
                for s in self.steps.values() for v in s.program.list_vars() if v.persistable}


@dataclass(kw_only=True)
class ModelPrograms(ProgramSet):
    """A GAN's Programs and what the library may ask of them.

    The roles are d_step, g_step, infer and, for a model with codes, encode. The library runs
    the two training roles in the trainer's iteration and the other two only through
    :meth:`generate` and :meth:`code_posterior`; it never asks a role's name what a model is.
    Besides the config they were built from: the model's latent input, its ``generator``
    network (z -> images, which the export builds again for deployment), ``logged``: per
    training role, the fetches the trainer logs, ``drawn_feeds``: per training role, feeds
    besides the data and z that the trainer draws from the run's noise generator each step
    (name -> (rng, n) -> array), and ``codes``: InfoGAN's latent codes, which Q infers back
    from images, or None for a model without."""
    config: ModelConfig
    latent: Latent
    generator: Network
    logged: dict[str, tuple[str, ...]] = field(default_factory=dict)
    drawn_feeds: dict[str, dict[str, LatentSampler]] = field(default_factory=dict)
    codes: Codes | None = None

    def generate(self, session: "Session", z: np.ndarray) -> np.ndarray:
        """Images ``[n, 1, 28, 28]`` or ``[n, 784]`` in [0, 1] for a latent batch, by the
        inference Program (batch norm with its running statistics)."""
        return session.run("infer", {"z": z}, ("images",))["images"]

    def code_posterior(self, session: "Session", images: np.ndarray) -> np.ndarray:
        """Q(c1 | x) of each image (uint8 or floats in [0, 1]), ``[N, categories]``."""
        if self.codes is None:
            raise TypeError(f"model {self.config.kind!r} has no codes to infer")
        return session.run_batches("encode", "real", images, ("cat_probs",))["cat_probs"]


@contextlib.contextmanager
def new_step(startup: paddle.static.Program, training: bool = True,
             update_stats: tuple[str, ...] = (), spectral_norm: tuple[str, ...] = (),
             second_order: bool = False) -> Iterator[Step]:
    """Build a Step's Program inside the block; initializers go to the shared startup.

    ``training``, ``update_stats``, ``spectral_norm`` and ``second_order`` set how batch norm
    and spectral norm behave in it (see :class:`Layers`). Paddle must be in static-graph mode
    (:func:`paddle_gan.runtime.configure` switches it).
    """
    if paddle.in_dynamic_mode():
        raise RuntimeError("Programs are built in static-graph mode: call "
                           "paddle_gan.runtime.configure() first, before importing Paddle")
    step = Step(paddle.static.Program(), Layers(training, update_stats, spectral_norm, second_order))
    with paddle.static.program_guard(step.program, startup):
        yield step


def minimize_adam(step: Step, loss: paddle.pir.Value, prefixes: tuple[str, ...], lr: float,
                  beta1: float) -> None:
    """Adam on the step's parameters under ``prefixes``; every other parameter of the
    Program is frozen (stop_gradient), so backward skips their weight gradients instead of
    computing and discarding them (e.g. D's in the G step)."""
    trainable = step.layers.trainable(*prefixes)
    step.layers.freeze_all_but(trainable)
    optimizer = paddle.optimizer.Adam(learning_rate=lr, beta1=beta1, beta2=0.999, epsilon=1e-8)
    optimizer.minimize(loss, parameters=trainable)
