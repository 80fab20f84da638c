#!/usr/bin/env python3
"""Generate sample grids from a checkpoint with the model's inference Program."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from paddle_gan import checkpoint
from paddle_gan.cli import HelpFormatter, UserError, run_cli
from paddle_gan.grids import save_grid
from paddle_gan.session import Session, select_place
import programs

RUNS_DIR = Path("output")


def newest_run() -> Path:
    """The run under output/ whose latest checkpoint was written last."""
    pointers = sorted(RUNS_DIR.glob(f"*/checkpoints/{checkpoint.LATEST}"),
                      key=lambda p: p.stat().st_mtime)
    if not pointers:
        raise UserError(f"no checkpoint under {RUNS_DIR}/; train first or pass --checkpoint")
    return pointers[-1].parent.parent


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--checkpoint", default=None,
                   help="a run's output directory, its checkpoints/ directory or one step_* "
                        "checkpoint (default: the most recent run under output/)")
    p.add_argument("--output", default=None,
                   help="where to write the grids (default: <run>/infer)")
    p.add_argument("--rows", type=int, default=8, help="grid rows")
    p.add_argument("--cols", type=int, default=8, help="grid columns")
    p.add_argument("--seed", type=int, default=0, help="seeds the latent noise")
    p.add_argument("--device", default="auto", choices=["auto", "gpu", "cpu"],
                   help="auto: GPU when Paddle has CUDA and one is visible, else CPU")
    args = p.parse_args()
    if args.rows <= 0 or args.cols <= 0:
        raise UserError(f"--rows and --cols must be positive, got {args.rows} x {args.cols}")
    return args


def main() -> None:
    args = parse_args()
    run_dir = Path(args.checkpoint) if args.checkpoint else newest_run()
    ckpt = checkpoint.resolve(run_dir)
    saved = checkpoint.read_state(ckpt)["model"]
    model = programs.build(programs.model_config_from(saved))
    session = Session(model, select_place(args.device), args.seed)
    state = checkpoint.restore(session, ckpt)
    output = Path(args.output) if args.output else ckpt.parent.parent / "infer"
    z = model.sample_latent(np.random.default_rng(args.seed), args.rows * args.cols)
    images = session.run("infer", {"z": z}, ("images",))["images"]
    path = save_grid(images, output / "samples.png", args.rows, args.cols)
    print(f"{model.config.kind} at step {state['step']} ({ckpt}): wrote {path}")


if __name__ == "__main__":
    run_cli(main)
