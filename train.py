#!/usr/bin/env python3
"""Train a GAN on MNIST (or Fashion-MNIST) with separate static-graph Programs that share
parameters by name."""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import os
from pathlib import Path

import paddle_gan  # noqa: F401  (sets up the process before Paddle is imported)
import paddle

from paddle_gan import checkpoint, config, rundir
from paddle_gan.cli import HelpFormatter, UserError, add_config_argument, parse_with_config, run_cli
from paddle_gan.config import GanConfig, RunConfig
from paddle_gan.dashboard import VisualDL
from paddle_gan.data import Batches, load_dataset
from paddle_gan.device import add_device_argument, select_place, set_cpu_threads
from paddle_gan.metrics import categorical_accuracy
from paddle_gan.trainer import Trainer
import programs


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_config_argument(p)
    p.add_argument("--model", default=None, choices=list(programs.MODELS),
                   help="infogan: the InfoGAN paper's MNIST model; gan: the article's MLP-GAN "
                        f"(default: {programs.DEFAULT_MODEL}; on --resume, the run's)")
    groups = {name: p.add_argument_group(name) for name in
              (config.DATA, config.RUN, config.DEVICE, config.OPTIMISER, config.STABILISATION,
               config.CODES, config.LOGGING)}
    groups[config.DATA].add_argument(
        "--data-dir", default=None,
        help="directory with the dataset's four IDX files (raw or .gz); default: "
             "$PADDLE_GAN_DATA (mnist) or $PADDLE_GAN_FASHION_DATA, else "
             "/usr/share/datasets/fashion-mnist (fashion-mnist, Debian's dataset-fashion-mnist), "
             "else ~/.cache/paddle/dataset/<dataset>, fetched on first use")
    groups[config.DATA].add_argument(
        "--no-verify", action="store_true",
        help="skip the SHA-256 and size check (for custom IDX files); magic numbers and "
             "lengths are still checked")
    groups[config.RUN].add_argument("--output", default=None,
                                    help="run directory (default: output/<model>)")
    groups[config.RUN].add_argument(
        "--resume", action="store_true",
        help="continue from the newest intact checkpoint in --output, exactly as if never "
             "stopped, with the run's settings; flags given override them, except the model's "
             f"and {', '.join(fixed_on_resume())}, which must match")
    add_device_argument(groups[config.DEVICE], threads=False)
    config.add_settings(p, [RunConfig], groups, on_resume="; on --resume, the run's")
    config.add_settings(p, programs.CONFIGS, groups)
    groups[config.LOGGING].add_argument(
        "--visualdl", nargs="?", const="", default=None, metavar="DIR",
        help="also log losses, L_I, samples/s, evaluations and the sample grid for VisualDL "
             "(`pip install visualdl`; view with `visualdl --logdir DIR`); DIR defaults to "
             "<output>/visualdl; off without the flag")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = parse_with_config(build_parser(), argv)
    if args.output is None:
        args.output = os.path.join("output", args.model or programs.DEFAULT_MODEL)
    if args.visualdl == "":
        args.visualdl = os.path.join(args.output, "visualdl")
    return args


def fixed_on_resume() -> list[str]:
    return [config.flag(f.name) for f in config.settings(RunConfig)
            if f.metadata["fixed_on_resume"]]


def refuse_change(flag: str, value: object, run_value: object) -> None:
    """On resume, a flag given with a value other than the run's is an error, not an override."""
    if value != run_value:
        raise UserError(f"{flag} {value} differs from the run's {run_value}; "
                        f"drop {flag} to resume (or start a new run in another --output)")


def model_flags(args: argparse.Namespace) -> dict[str, float | str | bool]:
    """The model settings given, of whichever model (a foreign one is refused later)."""
    given = {}
    for model_config in programs.CONFIGS:
        given.update(config.given(args, model_config))
    return given


def new_run(args: argparse.Namespace) -> tuple[GanConfig, RunConfig]:
    model = programs.model_config(args.model or programs.DEFAULT_MODEL, **model_flags(args))
    return model, RunConfig(output=args.output, **config.given(args, RunConfig))


def resumed_run(args: argparse.Namespace, state: dict, where: str) -> tuple[GanConfig, RunConfig]:
    """The run's model and run settings; a flag that contradicts a setting the run must keep
    is an error. Other run settings given (length, logging, threads) override the run's."""
    model = programs.saved_config(state["model"], where)
    if args.model is not None:
        refuse_change("--model", args.model, model.kind)
    given = model_flags(args)
    programs.model_config(model.kind, **given)  # the checks a new run's flags get
    for key, value in given.items():
        refuse_change(config.flag(key), value, getattr(model, key))
    run = config.strict(RunConfig, state["run"], where)
    changes = {"output": args.output}
    for f in config.settings(RunConfig):
        value = getattr(args, f.name)
        if value is None:
            continue
        if f.metadata["fixed_on_resume"]:
            refuse_change(config.flag(f.name), value, getattr(run, f.name))
        changes[f.name] = value
    return model, dataclasses.replace(run, **changes)


def main(argv: list[str] | None = None) -> None:
    """Train as the command line (or ``argv``, e.g. from a notebook) asks."""
    args = parse_args(argv)
    with rundir.claim(Path(args.output), args.resume) as output:
        place = select_place(args.device)
        if args.resume:
            ckpt, state = checkpoint.find(output)
            model_config, run = resumed_run(args, state, str(ckpt))
        else:
            model_config, run = new_run(args)
        if isinstance(place, paddle.CPUPlace):
            run = dataclasses.replace(run, threads=set_cpu_threads(run.threads))
        load = functools.partial(load_dataset, args.data_dir, verify=not args.no_verify,
                                 name=run.dataset)
        images, _ = load(split="train")
        batches = Batches(images, run.batch_size, run.seed)
        print("config:", json.dumps({"model": model_config.to_dict(), "device": str(place),
                                     **dataclasses.asdict(run)}))
        session = programs.new_session(model_config, place, run.seed)
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
