"""The Executor + Scope that run a model's Programs.

The Scope is where "sharing by global name" happens: every Program that names ``D_fc1.w``
reads and writes the one variable the Scope holds under that name. Each Session owns a fresh
Scope instead of Paddle's process-wide global one, so two models (or two tests) in one process
cannot see each other's weights; within a Session it plays exactly the global scope's role.
"""
from __future__ import annotations

import numpy as np
import paddle

from paddle_gan.static import paddle_api
from paddle_gan.static.graph import ProgramSet, Step

class Session:
    """Runs a set of Programs (a GAN's, or the evaluator's) on one device against one Scope.

    The startup Program (random initial weights, seeded by ``seed``) runs on first use, unless
    :meth:`write` gives every persistable variable first, as restoring a checkpoint does: then
    it never runs (InfoGAN's Gaussian initializers are slow on the CPU)."""

    def __init__(self, programs: ProgramSet, place: paddle.CPUPlace | paddle.CUDAPlace,
                 seed: int):
        self.programs = programs
        self.place = place
        self.seed = seed
        self._scope = paddle.static.Scope()
        self.executor = paddle.static.Executor(place)
        self._initialised = False
        self._keeps_executors = paddle_api.can_prepare(self.executor, programs.startup)
        self._prepared: dict[tuple, tuple] = {}

    @property
    def scope(self) -> paddle.static.Scope:
        """The Scope, initialised."""
        self._initialise()
        return self._scope

    def _initialise(self) -> None:
        if not self._initialised:
            paddle.seed(self.seed)  # the startup Program's initializers draw from Paddle's generator
            self.executor.run(self.programs.startup, scope=self._scope)
            self._initialised = True

    def run(self, role: str, feed: dict[str, np.ndarray],
            fetch: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
        """Run one Program; ``fetch`` names entries of its Step's fetches (none: no sync)."""
        step: Step = self.programs.steps[role]
        self._initialise()
        fetch_list = [step.fetches[name] for name in fetch]
        if self._keeps_executors:
            values = self._run_prepared(role, step.program, feed, fetch, fetch_list)
        else:
            values = self.executor.run(step.program, feed=feed, scope=self._scope,
                                       fetch_list=fetch_list)
        return dict(zip(fetch, values))

    def _run_prepared(self, role: str, program: paddle.static.Program,
                      feed: dict[str, np.ndarray], fetch: tuple[str, ...],
                      fetch_list: list) -> list[np.ndarray]:
        """``Executor.run``'s feed-and-run for a PIR Program, with the prepared executor kept
        here instead of found again: Paddle 3.x keys its cache on ``str(program)``, printing
        the whole Program on every run, a large share of a small model's step (BENCHMARKS.md)."""
        key = (role, tuple(feed), fetch)
        if key not in self._prepared:
            self._prepared[key] = paddle_api.prepare(self.executor, program, feed, fetch_list,
                                                     self.place, self._scope)
        fed = paddle_api.feed(self.executor, self._prepared[key], feed, self._scope)
        _, executor, _ = self._prepared[key]
        return executor.run(fed, return_numpy=True)

    def run_batches(self, role: str, feed: str, images: np.ndarray, fetch: tuple[str, ...],
                    batch_size: int = 500) -> dict[str, np.ndarray]:
        """Run a one-input Program over ``images`` (uint8 in [0, 255] or floats in [0, 1], 784
        pixels each) in batches; each fetch comes back concatenated."""
        flat = images.reshape(len(images), -1)
        scale = 1 / 255.0 if flat.dtype == np.uint8 else 1.0
        parts: dict[str, list[np.ndarray]] = {name: [] for name in fetch}
        for start in range(0, len(flat), batch_size):
            batch = flat[start:start + batch_size].astype(np.float32) * scale
            for name, value in self.run(role, {feed: batch}, fetch).items():
                parts[name].append(value)
        return {name: np.concatenate(values) for name, values in parts.items()}

    def read(self, names: list[str]) -> dict[str, np.ndarray]:
        """Copies of Scope variables, by global name."""
        self._initialise()
        return {n: np.array(self._tensor(n), copy=True) for n in names}

    def write(self, values: dict[str, np.ndarray]) -> None:
        """Overwrite Scope variables in place; shapes and dtypes must match. Given every
        persistable variable before first use, create them instead of running the startup."""
        if not self._initialised and set(values) == set(self.programs.persistable_names()):
            self._create(values)
            return
        self._initialise()
        for name, value in values.items():
            tensor = self._tensor(name)
            current = np.array(tensor)
            _check_shape(name, current.shape, current.dtype, value)
            tensor.set(value, self.place)

    def _create(self, values: dict[str, np.ndarray]) -> None:
        """Create every persistable variable from ``values`` (all checked first) in place of
        the startup Program."""
        declared = self.programs.persistable_shapes()
        for name, value in values.items():
            _check_shape(name, *declared[name], value)
        for name, value in values.items():
            self._scope.var(name).get_tensor().set(value, self.place)
        self._initialised = True

    def _tensor(self, name: str):
        var = self._scope.find_var(name)
        if var is None:
            raise KeyError(f"no variable {name!r} in this session's scope")
        return var.get_tensor()


def _check_shape(name: str, shape: tuple[int, ...], dtype: np.dtype, value: np.ndarray) -> None:
    if value.shape != shape or value.dtype != dtype:
        raise ValueError(f"{name}: have {dtype}{list(shape)}, got {value.dtype}{list(value.shape)}")
