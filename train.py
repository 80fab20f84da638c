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
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

import paddle_gan  # noqa: F401  (sets up the process before Paddle is imported)
import paddle

from paddle_gan import checkpoint, config, restarts, rundir
from paddle_gan.cli import HelpFormatter, UserError, add_config_argument, parse_with_config, run_cli
from paddle_gan.config import GanConfig, InfoGanConfig, RunConfig
from paddle_gan.dashboard import VisualDL
from paddle_gan.data import Batches, load_dataset
from paddle_gan.device import add_device_argument, select_place, set_cpu_threads
from paddle_gan.metrics import categorical_accuracy
from paddle_gan.session import Session
from paddle_gan.trainer import Trainer, total_steps
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


def new_run(args: argparse.Namespace) -> tuple[GanConfig, RunConfig]:
    if args.restart_steps is not None and (args.restarts or 1) == 1:
        raise UserError("--restart-steps is the length of each --restarts trial: "
                        "give --restarts N (N > 1) too")
    model = programs.model_config(args.model or programs.DEFAULT_MODEL, **programs.given(args))
    run_settings = config.given(args, RunConfig)
    if "epochs" not in run_settings:
        run_settings["epochs"] = model.default_epochs
    return model, RunConfig(output=args.output, **run_settings)


def resumed_run(args: argparse.Namespace, state: dict, where: str) -> tuple[GanConfig, RunConfig]:
    """The run's model and run settings; a flag that contradicts a setting the run must keep
    is an error. Other run settings given (length, logging, threads) override the run's."""
    model = programs.saved_config(state["model"], where)
    if args.model is not None:
        refuse_change("--model", args.model, model.kind)
    given = programs.given(args)
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


class Runner:
    """Builds the Trainer of the run itself or of one of its --restarts trials: the Programs
    once, then for each a session of its own, initialised from its seed
    (:func:`restarts.trial_seed`)."""

    def __init__(self, model_config: GanConfig, run: RunConfig,
                 place: paddle.CPUPlace | paddle.CUDAPlace, images: np.ndarray,
                 evaluate: Callable[[Session], dict] | None):
        self.model = programs.build_for(model_config, place)
        self.run = run
        self.place = place
        self.images = images
        self.evaluate = evaluate

    def trainer(self, trial: int, trial_steps: int | None = None,
                dashboard: VisualDL | None = None) -> Trainer:
        seed = restarts.trial_seed(self.run.seed, trial)
        session = Session(self.model, self.place, seed)
        batches = Batches(self.images, self.run.batch_size, seed)
        return Trainer(session, batches, self.run, self.evaluate, dashboard, trial, trial_steps)

    def trials(self, output: Path) -> tuple[Path, dict] | None:
        """Train (or finish) every trial and score it. Returns the chosen trial's final
        checkpoint and state, or None if a signal stopped a trial."""
        scores = []
        for trial in range(self.run.restarts):
            trainer = self.trainer(trial, self.run.restart_steps)
            if any(trainer.ckpt_dir.glob("step_*")):
                trainer.resume(*checkpoint.find(trainer.ckpt_dir))
            if trainer.step < trainer.total_steps:
                trainer.train()
                if trainer.stopped:  # even at the trial's last step: the run was asked to stop
                    return None
            unlabelled = self.images[:restarts.SELECTION_IMAGES]
            scores.append(restarts.score(trainer.session, unlabelled))
        chosen = restarts.write_selection(output, scores, self.run.restart_steps)
        chosen_dir = restarts.trial_dir(output, chosen)
        listed = ", ".join(f"trial_{trial} {score:.4f}" for trial, score in enumerate(scores))
        print(f"restarts: I(c1; x) {listed}; continuing {chosen_dir}")
        for log in ("metrics.jsonl", "eval.jsonl"):  # the run's logs begin with its trial's
            if (chosen_dir / log).exists():
                shutil.copyfile(chosen_dir / log, output / log)
        return checkpoint.find(chosen_dir / "checkpoints")


def check_restarts(model_config: GanConfig, run: RunConfig, steps_per_epoch: int) -> None:
    if run.restarts == 1:
        return
    if not isinstance(model_config, InfoGanConfig):
        raise UserError("--restarts chooses a trial by Q's categorical code: "
                        "use it with --model infogan")
    length = total_steps(run, steps_per_epoch)
    if run.restart_steps >= length:
        raise UserError(f"--restart-steps {run.restart_steps} leaves nothing to continue in a "
                        f"run of {length} iterations; use fewer")


def main(argv: list[str] | None = None) -> None:
    """Train as the command line (or ``argv``, e.g. from a notebook) asks."""
    args = parse_args(argv)
    with rundir.claim(Path(args.output), args.resume) as output:
        place = select_place(args.device)
        start = None  # the checkpoint the run itself continues from
        if args.resume:
            if restarts.in_trials(output):
                # the newest trial's checkpoints hold the run's settings, as last resumed
                ckpt, state = checkpoint.find(restarts.newest_trial(output))
            else:
                ckpt, state = checkpoint.find(output)
                start = (ckpt, state)
            model_config, run = resumed_run(args, state, str(ckpt))
        else:
            model_config, run = new_run(args)
        if isinstance(place, paddle.CPUPlace):
            run = dataclasses.replace(run, threads=set_cpu_threads(run.threads))
        load = functools.partial(load_dataset, args.data_dir, verify=not args.no_verify,
                                 name=run.dataset)
        images, _ = load(split="train")
        check_restarts(model_config, run, len(Batches(images, run.batch_size, run.seed)))
        print("config:", json.dumps({"model": model_config.to_dict(), "device": str(place),
                                     **dataclasses.asdict(run)}))
        evaluate = None
        if isinstance(model_config, InfoGanConfig):
            test_images, test_labels = load(split="test")
            evaluate = functools.partial(categorical_accuracy, images=test_images, labels=test_labels)
        runner = Runner(model_config, run, place, images, evaluate)
        if start is None and run.restarts > 1:
            start = runner.trials(output)
            if start is None:
                return  # a signal stopped a trial; it printed how to resume
        trial = 0 if start is None else start[1]["trial"]
        with contextlib.ExitStack() as stack:
            dashboard = None if args.visualdl is None else stack.enter_context(VisualDL(args.visualdl))
            trainer = runner.trainer(trial, dashboard=dashboard)
            if start is not None:
                trainer.resume(*start)
            last = trainer.train()
        print(f"done: step {trainer.step}, checkpoint {last}, samples in {output / 'samples'}")


if __name__ == "__main__":
    run_cli(main)
