"""Which device to run on, and how many CPU threads: the ``--device``/``--threads`` flags."""
from __future__ import annotations

import argparse
import os

import paddle

from paddle_gan.cli import UserError
from paddle_gan.config import RunConfig

DEVICES = ("auto", "gpu", "cpu")


def add_device_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                        threads: bool = True) -> None:
    """The ``--device`` flag every entry point shares, and ``--threads`` unless the caller
    defines it (train.py records it as a run setting)."""
    parser.add_argument("--device", default="auto", choices=DEVICES,
                        help="auto: GPU when Paddle has CUDA and one is visible, else CPU")
    if threads:
        add_threads_argument(parser)


def add_threads_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--threads`` as :class:`RunConfig` defines it (train.py records it with the run)."""
    setting = RunConfig.__dataclass_fields__["threads"]
    parser.add_argument("--threads", type=int, default=setting.default,
                        help=setting.metadata["help"])


def place_from_args(args: argparse.Namespace) -> paddle.CPUPlace | paddle.CUDAPlace:
    """The place ``--device`` asks for; on the CPU, also applies ``--threads``."""
    place = select_place(args.device)
    if isinstance(place, paddle.CPUPlace):
        set_cpu_threads(args.threads or 0)
    return place


def cpu_threads(threads: int) -> int:
    """A --threads value as a count: 0 means the cores available to this process."""
    if threads < 0:
        raise UserError(f"--threads must be 0 (all cores) or positive, got {threads}")
    if threads == 0:
        return (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                else os.cpu_count() or 1)
    return threads


_process_threads = 1  # what set_cpu_threads last set: Paddle's own default until then


def set_cpu_threads(threads: int) -> int:
    """Set the math-library thread count (0: the cores available to this process); returns it.
    Process-wide, like the libraries it configures."""
    global _process_threads
    _process_threads = cpu_threads(threads)
    paddle.base.core.set_num_threads(_process_threads)
    return _process_threads


def current_cpu_threads() -> int:
    """The math-library thread count this process runs with."""
    return _process_threads


def reapply_cpu_threads() -> None:
    """Set the thread count again: a Paddle Inference predictor's run leaves the math
    libraries in another state, in which Programs run afterwards differ in the last bits."""
    paddle.base.core.set_num_threads(_process_threads)


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
