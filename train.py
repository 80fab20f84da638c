#!/usr/bin/env python3
"""Train a GAN on MNIST (or Fashion-MNIST) with separate static-graph Programs that share
parameters by name."""
from __future__ import annotations

import argparse
from pathlib import Path

from paddle_gan import runtime

runtime.configure()  # first: it sets what Paddle reads when it is imported

from paddle_gan import config  # noqa: E402
from paddle_gan.training.checkpoint import Checkpoint  # noqa: E402
from paddle_gan.cli import HelpFormatter, add_config_argument, parse_with_config, run_cli  # noqa: E402
from paddle_gan.config import ModelConfig, RunConfig  # noqa: E402
from paddle_gan.data import add_data_arguments  # noqa: E402
from paddle_gan.device import add_device_argument, select_place  # noqa: E402
from paddle_gan.training.run import Run  # noqa: E402
from paddle_gan.training.rundir import RunDir  # noqa: E402
import programs  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_config_argument(p)
    p.add_argument("--model", default=None, choices=list(programs.MODELS),
                   help="infogan: the InfoGAN paper's MNIST model; gan: the article's MLP-GAN "
                        f"(default: {programs.DEFAULT_MODEL}; on --resume, the run's)")
    groups = config.argument_groups(p)
    add_data_arguments(groups[config.DATA])
    groups[config.RUN].add_argument("--output", default=None,
                                    help="run directory (default: output/<model>)")
    groups[config.RUN].add_argument(
        "--resume", action="store_true",
        help="continue from the newest intact checkpoint in --output, exactly as if never "
             "stopped, with the run's settings; flags given override them, except the model's "
             f"and {', '.join(config.fixed_on_resume(RunConfig))}, which must match")
    add_device_argument(groups[config.DEVICE], threads=False)
    config.add_settings(p, [RunConfig], groups, on_resume="; on --resume, the run's",
                        shown={"epochs": programs.default_epochs()})
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
        args.output = str(RunDir.default(args.model or programs.DEFAULT_MODEL).root)
    if args.visualdl == "":
        args.visualdl = str(RunDir(Path(args.output)).visualdl)
    return args


def settings(args: argparse.Namespace, start: Checkpoint | None) -> tuple[ModelConfig, RunConfig]:
    """The model's and the run's settings: from the flags for a new run, else the run's own."""
    if start is None:
        model = programs.model_config(args.model or programs.DEFAULT_MODEL, **programs.given(args))
        return model, config.new_run(args, model.default_epochs)
    where = str(start.path)
    return (programs.resumed_config(start.state["model"], args, where),
            config.resumed_run(args, start.state["run"], where))


def main(argv: list[str] | None = None) -> None:
    """Train as the command line (or ``argv``, e.g. from a notebook) asks."""
    args = parse_args(argv)
    with RunDir(Path(args.output)).claim(args.resume) as directory:
        start = directory.resume_point() if args.resume else None
        model_config, run_settings = settings(args, start)
        place = select_place(args.device)
        visualdl = None if args.visualdl is None else Path(args.visualdl)
        run = Run(programs.build_for(model_config, place), run_settings, directory, place,
                  args.data_dir, verify=not args.no_verify, visualdl=visualdl)
        run.train(start)


if __name__ == "__main__":
    run_cli(main)
