#!/usr/bin/env python3
"""Training and inference throughput: ``python benchmarks/bench.py --model infogan``.

Times full training iterations exactly as train.py runs them (one D step and one G step,
data fed from an in-memory MNIST-shaped array, noise drawn on the host) after a warm-up, or
with ``--infer`` the inference Program alone (``--predictor``: the exported generator served by
Paddle Inference). Prints one JSON line. Building the Programs,
running the startup Program and making the data are timed separately (``build_s``).
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from paddle_gan import runtime

runtime.configure()  # first: it sets what Paddle reads when it is imported

import paddle  # noqa: E402

from paddle_gan import config  # noqa: E402
from paddle_gan.cli import HelpFormatter, UserError, run_cli  # noqa: E402
from paddle_gan.data import IMAGE_SIDE, Batches  # noqa: E402
from paddle_gan.device import add_device_argument, select_place, set_cpu_threads  # noqa: E402
from paddle_gan.static.export import ExportedGenerator, export  # noqa: E402
from paddle_gan.static.session import Session  # noqa: E402
from paddle_gan.training.trainer import iteration  # noqa: E402
import programs  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--model", default=programs.DEFAULT_MODEL, choices=list(programs.MODELS))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=30, help="timed iterations")
    p.add_argument("--warmup", type=int, default=5, help="untimed iterations first")
    add_device_argument(p)
    p.add_argument("--infer", action="store_true", help="time the inference Program alone")
    p.add_argument("--predictor", action="store_true",
                   help="with --infer: time the exported generator served by Paddle Inference "
                        "(infer.py --model-dir, evaluate.py) instead of the inference Program")
    p.add_argument("--native-conv", action="store_true",
                   help="keep Paddle's native CPU convolutions instead of oneDNN's (to compare)")
    model_settings = p.add_argument_group("model settings (as for train.py; default: the model's)")
    config.add_settings(p, programs.CONFIGS, {config.OPTIMISER: model_settings,
                                              config.STABILISATION: model_settings,
                                              config.CODES: model_settings})
    args = p.parse_args(argv)
    if min(args.batch_size, args.steps) <= 0 or args.warmup < 0:
        raise UserError("--batch-size and --steps must be positive, --warmup not negative")
    if args.predictor and not args.infer:
        raise UserError("--predictor serves the generator: use it with --infer")

    started = time.perf_counter()
    place = select_place(args.device)
    threads = set_cpu_threads(args.threads) if isinstance(place, paddle.CPUPlace) else 0
    on_cpu = isinstance(place, paddle.CPUPlace)
    given = programs.given(args)
    model = programs.build(programs.model_config(args.model, **given),
                           onednn_convolutions=on_cpu and not args.native_conv)
    session = Session(model, place, seed=0)
    rng = np.random.default_rng(0)

    if args.infer and args.predictor:
        z = session.programs.latent.sample(rng, args.batch_size)
        exported = Path(tempfile.mkdtemp(prefix="bench-export-"))
        generator = ExportedGenerator(export(session, exported, step=0), place)
        shutil.rmtree(exported)  # the predictor holds the model in memory

        def one(fetch: bool) -> None:
            generator(z)  # copies the images out: always synchronous
    elif args.infer:
        z = session.programs.latent.sample(rng, args.batch_size)

        def one(fetch: bool) -> None:
            session.run("infer", {"z": z}, ("images",) if fetch else ())
    else:
        images = rng.integers(0, 256, (60000, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
        data = stream(Batches(images, args.batch_size, seed=0))

        def one(fetch: bool) -> None:
            iteration(session, next(data), rng, fetch)
    build_s = time.perf_counter() - started

    for _ in range(args.warmup):
        one(fetch=False)
    start = time.perf_counter()
    for i in range(args.steps):
        one(fetch=i == args.steps - 1)  # the last fetch waits for queued work
    elapsed = time.perf_counter() - start
    print(json.dumps({
        "model": args.model, "mode": "infer" if args.infer else "train", "batch": args.batch_size,
        "threads": threads, "device": str(place), "native_conv": args.native_conv,
        "predictor": args.predictor, "settings": given,
        "paddle": paddle.__version__,
        "it_per_s": round(args.steps / elapsed, 3),
        "samples_per_s": round(args.steps * args.batch_size / elapsed, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "build_s": round(build_s, 2)}))


def stream(batches: Batches) -> Iterator[np.ndarray]:
    """The training batches of epoch 0, 1, 2, ... as train.py draws them."""
    epoch = 0
    while True:
        yield from batches.epoch(epoch)
        epoch += 1


if __name__ == "__main__":
    run_cli(main)
