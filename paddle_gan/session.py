"""Device choice, and the Executor + Scope that run a model's Programs.

The Scope is where "sharing by global name" happens: every Program that names ``D_fc1.w``
reads and writes the one variable the Scope holds under that name. Each Session owns a fresh
Scope instead of Paddle's process-wide global one, so two models (or two tests) in one process
cannot see each other's weights; within a Session it plays exactly the global scope's role.
"""
from __future__ import annotations

import os

import numpy as np
import paddle

from paddle_gan import onednn
from paddle_gan.cli import UserError
from paddle_gan.graph import ProgramSet, Step

DEVICES = ("auto", "gpu", "cpu")


def add_device_argument(parser) -> None:
    """The ``--device`` and ``--threads`` flags every entry point shares."""
    parser.add_argument("--device", default="auto", choices=DEVICES,
                        help="auto: GPU when Paddle has CUDA and one is visible, else CPU")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads of Paddle's math libraries (MKL, oneDNN); 0: one per "
                             "core this process may use (Paddle's own default is 1)")


def place_from_args(args) -> paddle.CPUPlace | paddle.CUDAPlace:
    """The place ``--device`` asks for; on the CPU, also applies ``--threads``."""
    place = select_place(args.device)
    if isinstance(place, paddle.CPUPlace):
        set_cpu_threads(args.threads)
    return place


def set_cpu_threads(threads: int) -> int:
    """Set the math-library thread count (0: the cores available to this process); returns it.
    Process-wide, like the libraries it configures."""
    if threads < 0:
        raise UserError(f"--threads must be 0 (all cores) or positive, got {threads}")
    if threads == 0:
        threads = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else os.cpu_count() or 1)
    paddle.base.core.set_num_threads(threads)
    return threads


def cuda_available() -> bool:
    return paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


def select_place(device: str) -> paddle.CPUPlace | paddle.CUDAPlace:
    """``auto``: the first GPU when Paddle is built with CUDA and one is visible, else the CPU."""
    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}; choose one of: {', '.join(DEVICES)}")
    if device == "gpu" and not cuda_available():
        why = ("this Paddle build has no CUDA support (install paddlepaddle-gpu)"
               if not paddle.is_compiled_with_cuda() else "no GPU is visible")
        raise UserError(f"--device gpu: {why}; use --device cpu or auto")
    if device != "cpu" and cuda_available():
        return paddle.CUDAPlace(0)
    return paddle.CPUPlace()


class Session:
    """Runs a set of Programs (a GAN's, or the evaluator's) on one device against one Scope."""

    def __init__(self, programs: ProgramSet, place: paddle.CPUPlace | paddle.CUDAPlace,
                 seed: int, onednn_conv: bool = True):
        """``onednn_conv``: on the CPU, run convolutions with oneDNN (:mod:`paddle_gan.onednn`);
        the same numbers as Paddle's native kernels to float rounding, about 3x faster."""
        self.programs = programs
        self.place = place
        if onednn_conv and isinstance(place, paddle.CPUPlace):
            for step in programs.steps.values():
                if onednn.applies_to(step.program):
                    onednn.use_onednn_convolutions(step.program, list(step.fetches.values()))
        self.scope = paddle.static.Scope()
        self.executor = paddle.static.Executor(place)
        paddle.seed(seed)  # the startup Program's initializers draw from Paddle's generator
        self.executor.run(programs.startup, scope=self.scope)

    def run(self, role: str, feed: dict[str, np.ndarray],
            fetch: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
        """Run one Program; ``fetch`` names entries of its Step's fetches (none: no sync)."""
        step: Step = self.programs.steps[role]
        values = self.executor.run(step.program, feed=feed, scope=self.scope,
                                   fetch_list=[step.fetches[name] for name in fetch])
        return dict(zip(fetch, values))

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
        return {n: np.array(self._tensor(n), copy=True) for n in names}

    def write(self, values: dict[str, np.ndarray]) -> None:
        """Overwrite Scope variables in place; shapes and dtypes must match."""
        for name, value in values.items():
            tensor = self._tensor(name)
            current = np.array(tensor)
            if current.shape != value.shape or current.dtype != value.dtype:
                raise ValueError(f"{name}: have {current.dtype}{list(current.shape)}, "
                                 f"got {value.dtype}{list(value.shape)}")
            tensor.set(value, self.place)

    def _tensor(self, name: str):
        var = self.scope.find_var(name)
        if var is None:
            raise KeyError(f"no variable {name!r} in this session's scope")
        return var.get_tensor()
