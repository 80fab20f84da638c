#!/usr/bin/env python3
"""Train a GAN on MNIST (or Fashion-MNIST) with separate static-graph Programs that share
parameters by name."""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
from pathlib import Path

from paddle_gan import checkpoint, rundir
from paddle_gan.cli import HelpFormatter, UserError, add_config_argument, parse_with_config, run_cli
from paddle_gan.dashboard import VisualDL
from paddle_gan.data import DATASETS, Batches, load_dataset
from paddle_gan.graph import ModelConfig
from paddle_gan.metrics import categorical_accuracy
from paddle_gan.session import Session, add_device_argument, place_from_args
from paddle_gan.trainer import RunConfig, Trainer
import programs

DEFAULT_MODEL = "infogan"


RUN_DEFAULTS = dict(dataset="mnist", epochs=10, max_steps=None, batch_size=128, seed=0,
                    g_noise="same", log_every=50, sample_every=500, save_every=1000, keep=3)
# Exact resume needs the same data, data order, batches and noise draws.
FIXED_ON_RESUME = ("dataset", "batch_size", "seed", "g_noise")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def default(name: str) -> str:
        return f"(default: {RUN_DEFAULTS[name]}; on --resume, the run's)"

    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_config_argument(p)
    p.add_argument("--model", default=None, choices=list(programs.MODELS),
                   help=f"infogan: the InfoGAN paper's MNIST model; gan: the article's MLP-GAN "
                        f"(default: {DEFAULT_MODEL}; on --resume, the run's)")
    data = p.add_argument_group("data")
    data.add_argument("--dataset", choices=list(DATASETS),
                      help=f"what to train on, in MNIST's IDX format {default('dataset')}")
    data.add_argument("--data-dir", default=None,
                      help="directory with the dataset's four IDX files (raw or .gz); default: "
                           "$PADDLE_GAN_DATA (mnist) or $PADDLE_GAN_FASHION_DATA, else "
                           "/usr/share/datasets/fashion-mnist (fashion-mnist, Debian's "
                           "dataset-fashion-mnist), else ~/.cache/paddle/dataset/<dataset>, "
                           "fetched on first use")
    data.add_argument("--no-verify", action="store_true",
                      help="skip the SHA-256 and size check (for custom IDX files); "
                           "magic numbers and lengths are still checked")
    run = p.add_argument_group("run")
    run.add_argument("--output", default=None, help="run directory (default: output/<model>)")
    run.add_argument("--epochs", type=int, help=f"passes over the training set {default('epochs')}")
    run.add_argument("--max-steps", type=int,
                     help="stop after this many total iterations (one D + one G step each); "
                          "no limit by default; on --resume, the run's (pass a larger one to extend)")
    run.add_argument("--batch-size", type=int,
                     help=f"images per D step and per G step {default('batch_size')}")
    run.add_argument("--seed", type=int, help="seeds initialisation, data order and noise; "
                                              f"CPU runs are reproducible {default('seed')}")
    run.add_argument("--g-noise", choices=["same", "fresh"], default=None,
                     help="the G step's noise batch: the D step's (same) or a new one (fresh, "
                          f"as the official InfoGAN code draws) {default('g_noise')}")
    add_device_argument(p.add_argument_group("device"))
    run.add_argument("--resume", action="store_true",
                     help="continue from the newest intact checkpoint in --output, exactly as if "
                          "never stopped, with the run's settings; flags given override them, "
                          "except model, dataset, batch size, seed and G noise, which must match")
    opt = p.add_argument_group("model and optimiser (default: the model's own, listed)")
    opt.add_argument("--lr-d", type=float, default=None,
                     help="Adam learning rate of D (infogan 2e-4, gan 1e-3)")
    opt.add_argument("--lr-g", type=float, default=None,
                     help="Adam learning rate of G (infogan 1e-3, gan 1e-3)")
    opt.add_argument("--beta1", type=float, default=None, help="Adam beta1 (0.5 for both)")
    opt.add_argument("--lambda-cat", type=float, default=None,
                     help="infogan: weight of the categorical code's L_I (1.0); 0 with "
                          "--lambda-cont 0 gives the paper's plain-GAN baseline with an observer Q")
    opt.add_argument("--lambda-cont", type=float, default=None,
                     help="infogan: weight of the continuous codes' L_I (0.1)")
    opt.add_argument("--cont-std", type=float, default=None,
                     help="infogan: std of Q's Gaussian for c2, c3; 0 (default): Q predicts it, "
                          "as in the article; e.g. 1: fixed, as in the official InfoGAN code")
    opt.add_argument("--q-step", choices=["g", "d"], default=None,
                     help="infogan: which step trains Q's head: d (default), with D's optimiser "
                          "and learning rate, as the official InfoGAN code does; g, with G's")
    opt.add_argument("--leaky-slope", type=float, default=None,
                     help="infogan: leaky ReLU slope in D's trunk and Q's head (0.1, the "
                          "paper's; the official InfoGAN code uses 0.01)")
    stab = p.add_argument_group("stabilisation (all off by default: the article's setup; "
                                "TTUR is --lr-d/--lr-g, momentum is --beta1)")
    stab.add_argument("--loss", choices=["bce", "hinge"], default=None,
                      help="adversarial loss: bce (non-saturating, default) or hinge")
    stab.add_argument("--r1-gamma", type=float, default=None,
                      help="R1 penalty (gamma/2) E||grad_x D(x)||^2 on real images (0: off)")
    stab.add_argument("--spectral-norm", action="store_true", default=None,
                      help="spectral normalisation of D's weights (one power iteration per step)")
    out = p.add_argument_group("logging and checkpoints")
    out.add_argument("--log-every", type=int,
                     help=f"steps between metrics lines and NaN checks {default('log_every')}")
    out.add_argument("--sample-every", type=int,
                     help=f"steps between fixed-noise sample grids {default('sample_every')}")
    out.add_argument("--save-every", type=int, help=f"steps between checkpoints {default('save_every')}")
    out.add_argument("--keep", type=int, help=f"how many checkpoints to keep {default('keep')}")
    out.add_argument("--visualdl", nargs="?", const="", default=None, metavar="DIR",
                     help="also log losses, L_I, samples/s, evaluations and the sample grid "
                          "for VisualDL (`pip install visualdl`; view with `visualdl --logdir "
                          "DIR`); DIR defaults to <output>/visualdl; off without the flag")
    args = parse_with_config(p, argv)
    for name in RUN_DEFAULTS:
        value = getattr(args, name)
        if isinstance(value, int) and value <= 0 and name != "seed":
            raise UserError(f"--{name.replace('_', '-')} must be positive, got {value}")
    if args.output is None:
        args.output = os.path.join("output", args.model or DEFAULT_MODEL)
    if args.visualdl == "":
        args.visualdl = os.path.join(args.output, "visualdl")
    return args


def refuse_change(flag: str, value: object, run_value: object) -> None:
    """On resume, a flag given with a value other than the run's is an error, not an override."""
    if value is not None and value != run_value:
        raise UserError(f"--{flag} {value} differs from the run's {run_value}; "
                        f"drop --{flag} to resume (or start a new run in another --output)")


def run_settings(args: argparse.Namespace, saved: dict | None) -> dict:
    """Run settings: the flags given, else the run's own (on resume), else the defaults.

    Resuming is only exact with the data, data order, batches and noise draws the run started
    with, so a FIXED_ON_RESUME setting that contradicts the run's is an error, not an override."""
    # A run saved before a setting existed ran at its default (MNIST, for the dataset).
    settings = dict(RUN_DEFAULTS if saved is None else
                    {k: saved.get(k, default) for k, default in RUN_DEFAULTS.items()})
    for name in RUN_DEFAULTS:
        value, run_value = getattr(args, name), settings[name]
        if value is None:
            continue
        if saved is not None and name in FIXED_ON_RESUME:
            refuse_change(name.replace("_", "-"), value, run_value)
        settings[name] = value
    return settings


def resumed_model(args: argparse.Namespace, saved: dict,
                  overrides: dict[str, float | str | bool | None]) -> ModelConfig:
    """The run's model config (a setting it predates at the value it was trained with, see
    ``programs.model_config_from``); a model flag that contradicts it is an error."""
    config = programs.model_config_from(saved)
    run = config.to_dict()
    refuse_change("model", args.model, run["kind"])
    programs.model_config(config.kind, **overrides)  # the checks a new run's flags get
    for key, value in overrides.items():
        refuse_change(key.replace("_", "-"), value, run[key])
    return config


def main(argv: list[str] | None = None) -> None:
    """Train as the command line (or ``argv``, e.g. from a notebook) asks."""
    args = parse_args(argv)
    overrides = dict(lr_d=args.lr_d, lr_g=args.lr_g, beta1=args.beta1,
                     lambda_cat=args.lambda_cat, lambda_cont=args.lambda_cont, cont_std=args.cont_std,
                     q_step=args.q_step, leaky_slope=args.leaky_slope,
                     loss=args.loss, r1_gamma=args.r1_gamma, spectral_norm=args.spectral_norm)
    with rundir.claim(Path(args.output), args.resume) as output:
        if args.resume:
            ckpt, state = checkpoint.find(output)
            if "run" not in state:
                raise UserError(f"{ckpt} predates saved run settings (batch size, seed); "
                                "it can be used by infer.py but not resumed exactly")
            model_config = resumed_model(args, state["model"], overrides)
            settings = run_settings(args, state["run"])
        else:
            model_config = programs.model_config(args.model or DEFAULT_MODEL, **overrides)
            settings = run_settings(args, None)
        place = place_from_args(args)
        run = RunConfig(output=str(output), **settings)
        load = functools.partial(load_dataset, args.data_dir, verify=not args.no_verify,
                                 name=run.dataset)
        images, _ = load(split="train")
        batches = Batches(images, run.batch_size, run.seed)
        print("config:", json.dumps({"model": model_config.to_dict(), "device": str(place),
                                     **vars(run)}))
        session = Session(programs.build(model_config), place, run.seed)
        evaluate = None
        if "encode" in session.programs.steps:
            test_images, test_labels = load(split="test")
            evaluate = functools.partial(categorical_accuracy, images=test_images, labels=test_labels)
        with contextlib.ExitStack() as stack:
            dashboard = None if args.visualdl is None else stack.enter_context(VisualDL(args.visualdl))
            trainer = Trainer(session, batches, run, evaluate, dashboard)
            if args.resume:
                trainer.resume(ckpt, state)
            last = trainer.train()
        print(f"done: step {trainer.step}, checkpoint {last}, samples in {output / 'samples'}")


if __name__ == "__main__":
    run_cli(main)
