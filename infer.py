#!/usr/bin/env python3
"""Generate sample grids from a checkpoint with the model's inference Program, or from an
exported inference model (``--model-dir``); ``--export DIR`` writes that export.

Writes samples.png for every model; for InfoGAN also categorical.png (rows: c1 = 0..9,
columns: different noise) and traverse_c2.png / traverse_c3.png (rows: c1, columns: the code
swept from -2 to 2, everything else fixed).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from paddle_gan import runtime

runtime.configure()  # first: it sets what Paddle reads when it is imported

from paddle_gan import latent  # noqa: E402
from paddle_gan.static.export import ExportedGenerator, export  # noqa: E402
from paddle_gan.cli import (HelpFormatter, UserError, add_config_argument,  # noqa: E402
                            parse_with_config, run_cli)
from paddle_gan.device import add_device_argument, place_from_args  # noqa: E402
from paddle_gan.grids import save_grid  # noqa: E402
from paddle_gan.training.rundir import RunDir, newest_run  # noqa: E402
import programs  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_config_argument(p)
    source = p.add_argument_group("what to draw from (one of)")
    source.add_argument("--checkpoint", default=None,
                        help="a run's output directory, its checkpoints/ directory or one step_* "
                             "checkpoint (default: the most recent run under output/)")
    source.add_argument("--model-dir", default=None,
                        help="an exported inference model (see --export) instead of a checkpoint")
    out = p.add_argument_group("output")
    out.add_argument("--output", default=None,
                     help="where to write the grids (default: <run>/infer, <checkpoint>/infer "
                          "for a checkpoint outside a run directory, <model-dir>/infer)")
    out.add_argument("--export", default=None, metavar="DIR",
                     help="also save the checkpoint's generator as a Paddle inference model "
                          "(z in, images out) to DIR, for --model-dir or Paddle Inference")
    grid = p.add_argument_group("grids")
    grid.add_argument("--rows", type=int, default=8, help="rows of samples.png")
    grid.add_argument("--cols", type=int, default=8, help="columns of samples.png")
    grid.add_argument("--seed", type=int, default=0, help="seeds the latent noise")
    latent.add_truncation_argument(grid)
    add_device_argument(p.add_argument_group("device"))
    args = parse_with_config(p, argv)
    if args.rows <= 0 or args.cols <= 0:
        raise UserError(f"--rows and --cols must be positive, got {args.rows} x {args.cols}")
    latent.check_truncation(args.truncation)
    if args.model_dir and (args.checkpoint or args.export):
        raise UserError("--model-dir draws from an export: drop --checkpoint and --export")
    return args


def main(argv: list[str] | None = None) -> None:
    """Draw the grids the command line (or ``argv``, e.g. from a notebook) asks for."""
    args = parse_args(argv)
    place = place_from_args(args)
    if args.model_dir:
        generator = ExportedGenerator(Path(args.model_dir), place)
        kind, step = generator.kind, generator.meta["step"]
        model_config = programs.saved_config(generator.meta["model"], args.model_dir)
        output = Path(args.output) if args.output else Path(args.model_dir) / "infer"
        print(f"{kind} at step {step} (exported, {args.model_dir}):")
    else:
        run_dir = Path(args.checkpoint) if args.checkpoint else newest_run().root
        session, ckpt = programs.restore_session(run_dir, place, args.seed)
        model_config, step = session.programs.config, ckpt.step
        kind = model_config.kind
        in_run = ckpt.path.parent.name == "checkpoints"
        run = RunDir(ckpt.path.parent.parent if in_run else ckpt.path)
        output = Path(args.output) if args.output else run.infer
        print(f"{kind} at step {step} ({ckpt.path}):")
        if args.export:
            print(f"  exported the generator to {export(session, Path(args.export), step)}")

        def generator(z: np.ndarray) -> np.ndarray:
            return session.programs.generate(session, z)

    model_latent = programs.MODELS[kind].latent_of(model_config)
    rng = np.random.default_rng(args.seed)

    def samples(r: np.random.Generator) -> np.ndarray:
        return model_latent.sample(r, args.rows * args.cols)

    grids = {"samples": (samples, args.rows, args.cols)}
    grids.update(model_latent.grids)
    for name, (latents, rows, cols) in grids.items():
        z = latents(rng)
        if args.truncation < 1:
            z = latent.truncate(rng, z, model_latent.noise, args.truncation)
        print(f"  wrote {save_grid(generator(z), output / f'{name}.png', rows, cols)}")


if __name__ == "__main__":
    run_cli(main)
