"""A run's output directory: every path and file name in it, and the lock of its one writer.

Layout (``RunDir`` names each entry; a checkpoint's own files are
:mod:`paddle_gan.training.checkpoint`'s; ``python -m paddle_gan.plots`` reads metrics.jsonl and
config.json without importing Paddle)::

    <run>/config.json          the settings it last trained with
    <run>/metrics.jsonl        logged losses, one row per --log-every steps
    <run>/eval.jsonl           InfoGAN: the evaluation of each checkpoint
    <run>/samples/step_*.png   fixed-noise sample grids
    <run>/checkpoints/         step_*/ and latest (paddle_gan.training.checkpoint)
    <run>/loss_curve.png, li_curve.png
    <run>/restarts/trial_<i>/  each --restarts trial, a run directory of its own
    <run>/restarts/selection.json   every trial's score and the one continued
    <run>/visualdl/, <run>/infer/   train.py --visualdl and infer.py, by default

The lock is an ``fcntl.flock`` on ``<run>/.lock``: the kernel drops it when the process dies
however it dies, so a SIGKILLed run never leaves a stale lock behind.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from paddle_gan.training import checkpoint
from paddle_gan.cli import UserError

RUNS = Path("output")  # where runs go unless --output says otherwise: output/<model>
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class RunDir:
    root: Path

    @classmethod
    def default(cls, model: str) -> "RunDir":
        return cls(RUNS / model)

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def evaluations(self) -> Path:
        return self.root / "eval.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def loss_curve(self) -> Path:
        return self.root / "loss_curve.png"

    @property
    def li_curve(self) -> Path:
        return self.root / "li_curve.png"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    def sample_grid(self, step: int) -> Path:
        return self.samples / f"step_{step:06d}.png"

    @property
    def visualdl(self) -> Path:
        return self.root / "visualdl"

    @property
    def infer(self) -> Path:
        return self.root / "infer"

    @property
    def selection(self) -> Path:
        return self.root / "restarts" / "selection.json"

    def trial(self, index: int) -> "RunDir":
        return RunDir(self.root / "restarts" / f"trial_{index}")

    def trials(self) -> list["RunDir"]:
        """The trial directories there are, by index."""
        found = [p for p in (self.root / "restarts").glob("trial_*") if p.name[6:].isdigit()]
        return [RunDir(p) for p in sorted(found, key=lambda p: int(p.name[6:]))]

    def has_checkpoint(self) -> bool:
        return bool(checkpoint.step_dirs(self.checkpoints))

    def in_trials(self) -> bool:
        """Whether the run is still in its --restarts trials: trial 0 has a checkpoint, the
        run none of its own."""
        return not self.has_checkpoint() and self.trial(0).has_checkpoint()

    def resume_point(self) -> checkpoint.Checkpoint:
        """The newest intact checkpoint holding the run's settings as last trained: the run's
        own, or while it is in its trials, the newest trial's."""
        if self.in_trials():
            newest = [trial for trial in self.trials() if trial.has_checkpoint()][-1]
            return checkpoint.find(newest.checkpoints)
        return checkpoint.find(self.root)

    @contextlib.contextmanager
    def claim(self, resume: bool) -> Iterator["RunDir"]:
        """Create and lock the directory for one training process; refuse to train over a
        run unless resuming it. Half-written checkpoints of a killed earlier writer are
        removed."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = open(self.root / LOCK_FILE, "a+")
        except OSError as err:
            raise UserError(f"output directory {self.root} is not writable ({err.strerror}); "
                            "choose another --output") from None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise UserError(f"{self.root} is in use by another training process (pid "
                                f"{holder}); wait for it or choose another --output") from None
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            run_dirs = [self, *self.trials()]
            held = [d for d in run_dirs
                    if (d.checkpoints / checkpoint.LATEST).exists() or d.has_checkpoint()]
            if held and not resume:
                raise UserError(f"{self.root} already holds a run; pass --resume to continue it "
                                "or choose another --output")
            for run_dir in run_dirs:
                checkpoint.remove_stale_temporaries(run_dir.checkpoints)
            yield self


def newest_run(runs: Path = RUNS) -> RunDir:
    """The run under ``runs`` whose latest checkpoint was written last."""
    pointers = sorted(runs.glob(f"*/checkpoints/{checkpoint.LATEST}"),
                      key=lambda p: p.stat().st_mtime)
    if not pointers:
        raise UserError(f"no checkpoint under {runs}/; train first or pass --checkpoint")
    return RunDir(pointers[-1].parent.parent)
