#!/usr/bin/env python3
"""Train a GAN on MNIST with separate static-graph Programs that share parameters by name."""
from __future__ import annotations

import argparse
import functools
import json
import os
from pathlib import Path

from paddle_gan import checkpoint, rundir
from paddle_gan.cli import HelpFormatter, UserError, run_cli
from paddle_gan.data import Batches, load_mnist
from paddle_gan.graph import ModelConfig
from paddle_gan.metrics import categorical_accuracy
from paddle_gan.session import Session, select_place
from paddle_gan.trainer import RunConfig, Trainer
import programs

DEFAULT_MODEL, DEFAULT_BATCH = "infogan", 128


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--model", default=None, choices=list(programs.MODELS),
                   help=f"infogan: the InfoGAN paper's MNIST model; gan: the article's MLP-GAN "
                        f"(default: {DEFAULT_MODEL}; on --resume, the run's)")
    data = p.add_argument_group("data")
    data.add_argument("--data-dir", default=None,
                      help="directory with the MNIST IDX files (raw or .gz); default: "
                           "$PADDLE_GAN_DATA, else ~/.cache/paddle/dataset/mnist (fetched on first use)")
    data.add_argument("--no-verify", action="store_true",
                      help="skip the SHA-256 and size check (for custom IDX files); "
                           "magic numbers and lengths are still checked")
    run = p.add_argument_group("run")
    run.add_argument("--output", default=None, help="run directory (default: output/<model>)")
    run.add_argument("--epochs", type=int, default=10, help="passes over the training set")
    run.add_argument("--max-steps", type=int, default=None,
                     help="stop after this many total iterations (one D + one G step each)")
    run.add_argument("--batch-size", type=int, default=None,
                     help=f"images per D step and per G step (default: {DEFAULT_BATCH}; "
                          "on --resume, the run's)")
    run.add_argument("--seed", type=int, default=None,
                     help="seeds initialisation, data order and noise; CPU runs are reproducible "
                          "(default: 0; on --resume, the run's)")
    run.add_argument("--device", default="auto", choices=["auto", "gpu", "cpu"],
                     help="auto: GPU when Paddle has CUDA and one is visible, else CPU")
    run.add_argument("--resume", action="store_true",
                     help="continue from the newest intact checkpoint in --output, exactly as if "
                          "never stopped; model, batch size and seed are the run's")
    opt = p.add_argument_group("model and optimiser (default: the model's own, listed)")
    opt.add_argument("--lr-d", type=float, default=None,
                     help="Adam learning rate of D (infogan 2e-4, gan 1e-3)")
    opt.add_argument("--lr-g", type=float, default=None,
                     help="Adam learning rate of G, and of Q for infogan (infogan 1e-3, gan 1e-3)")
    opt.add_argument("--beta1", type=float, default=None, help="Adam beta1 (0.5 for both)")
    opt.add_argument("--lambda-cat", type=float, default=None,
                     help="infogan: weight of the categorical code's L_I (1.0); 0 with "
                          "--lambda-cont 0 gives the paper's plain-GAN baseline with an observer Q")
    opt.add_argument("--lambda-cont", type=float, default=None,
                     help="infogan: weight of the continuous codes' L_I (0.1)")
    out = p.add_argument_group("logging and checkpoints")
    out.add_argument("--log-every", type=int, default=50, help="steps between metrics lines")
    out.add_argument("--sample-every", type=int, default=500,
                     help="steps between fixed-noise sample grids")
    out.add_argument("--save-every", type=int, default=1000, help="steps between checkpoints")
    out.add_argument("--keep", type=int, default=3, help="how many checkpoints to keep")
    args = p.parse_args(argv)
    for name in ("epochs", "log_every", "sample_every", "save_every", "keep"):
        if getattr(args, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.max_steps is not None and args.max_steps <= 0:
        raise UserError(f"--max-steps must be positive, got {args.max_steps}")
    if args.output is None:
        args.output = os.path.join("output", args.model or DEFAULT_MODEL)
    return args


def resumed_settings(args: argparse.Namespace, state: dict,
                     overrides: dict[str, float | None]) -> tuple[ModelConfig, int, int]:
    """The run's model config, batch size and seed; a flag that contradicts them is an error,
    since resuming is only exact with the settings the run was started with."""
    if "run" not in state:
        raise UserError("the checkpoint predates saved run settings (batch size, seed); "
                        "it can be used by infer.py but not resumed exactly")
    saved_model, saved_run = state["model"], state["run"]
    given = {"model": (args.model, saved_model["kind"]),
             "batch-size": (args.batch_size, saved_run["batch_size"]),
             "seed": (args.seed, saved_run["seed"]),
             **{k.replace("_", "-"): (v, saved_model[k]) for k, v in overrides.items()}}
    for flag, (value, saved) in given.items():
        if value is not None and value != saved:
            raise UserError(f"--{flag} {value} differs from the run's {saved}; "
                            f"drop --{flag} to resume (or start a new run in another --output)")
    return programs.model_config_from(saved_model), saved_run["batch_size"], saved_run["seed"]


def main() -> None:
    args = parse_args()
    overrides = dict(lr_d=args.lr_d, lr_g=args.lr_g, beta1=args.beta1,
                     lambda_cat=args.lambda_cat, lambda_cont=args.lambda_cont)
    with rundir.claim(Path(args.output), args.resume) as output:
        if args.resume:
            ckpt, state = checkpoint.find(output)
            model_config, batch_size, seed = resumed_settings(args, state, overrides)
        else:
            model_config = programs.model_config(args.model or DEFAULT_MODEL, **overrides)
            batch_size = DEFAULT_BATCH if args.batch_size is None else args.batch_size
            seed = 0 if args.seed is None else args.seed
        place = select_place(args.device)
        images, _ = load_mnist(args.data_dir, "train", verify=not args.no_verify)
        batches = Batches(images, batch_size, seed)
        run = RunConfig(output=str(output), epochs=args.epochs, max_steps=args.max_steps,
                        batch_size=batch_size, seed=seed, log_every=args.log_every,
                        sample_every=args.sample_every, save_every=args.save_every, keep=args.keep)
        print("config:", json.dumps({"model": model_config.to_dict(), "device": str(place),
                                     **vars(run)}))
        session = Session(programs.build(model_config), place, seed)
        evaluate = None
        if "encode" in session.programs.steps:
            test_images, test_labels = load_mnist(args.data_dir, "test", verify=not args.no_verify)
            evaluate = functools.partial(categorical_accuracy, images=test_images, labels=test_labels)
        trainer = Trainer(session, batches, run, evaluate)
        if args.resume:
            trainer.resume(ckpt, state)
        last = trainer.train()
        print(f"done: step {trainer.step}, checkpoint {last}, samples in {output / 'samples'}")


if __name__ == "__main__":
    run_cli(main)
