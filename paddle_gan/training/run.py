"""One training run's life: new or resumed, its --restarts trials, and the chosen trial's
continuation as the run's own checkpoints.

``train.py`` parses the command line, resolves the settings (:mod:`paddle_gan.config`) and
hands over to :class:`Run`; everything after that happens here or in the
:class:`~paddle_gan.training.trainer.Trainer` it makes for the run and for each trial.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import sys
from pathlib import Path

import paddle

from paddle_gan.training import checkpoint, restarts
from paddle_gan.training.checkpoint import Checkpoint
from paddle_gan.cli import UserError
from paddle_gan.config import RunConfig
from paddle_gan.training.dashboard import VisualDL
from paddle_gan.data import Batches, load_dataset
from paddle_gan.device import set_cpu_threads
from paddle_gan.static.graph import ModelPrograms
from paddle_gan.evaluation.metrics import categorical_accuracy
from paddle_gan.training.rundir import RunDir
from paddle_gan.static.session import Session
from paddle_gan.training.trainer import Trainer, total_steps


class Run:
    """A model's training in a run directory the caller has claimed (:meth:`RunDir.claim`).

    On the CPU it sets the process's math-library threads to ``settings.threads`` and records
    the count. It loads the training set (and, for a model with codes, the labelled test set
    its checkpoints are evaluated on) from ``data_dir``; ``visualdl``, if given, is where the
    dashboard log of the run itself goes."""

    def __init__(self, model: ModelPrograms, settings: RunConfig, directory: RunDir,
                 place: paddle.CPUPlace | paddle.CUDAPlace, data_dir: str | None,
                 verify: bool = True, visualdl: Path | None = None):
        if isinstance(place, paddle.CPUPlace):
            settings = dataclasses.replace(settings, threads=set_cpu_threads(settings.threads))
        self.model = model
        self.settings = settings
        self.directory = directory
        self.place = place
        self.visualdl = visualdl
        self.images, _ = load_dataset(data_dir, "train", verify, settings.dataset)
        steps_per_epoch = len(Batches(self.images, settings.batch_size, settings.seed))
        self.total_steps = total_steps(settings, steps_per_epoch)
        self._check_restarts()
        print("config:", json.dumps({"model": model.config.to_dict(), "device": str(place),
                                     **dataclasses.asdict(settings)}))
        self.test_images, self.test_labels = None, None
        if model.codes is not None:
            self.test_images, self.test_labels = load_dataset(data_dir, "test", verify,
                                                              settings.dataset)

    def _check_restarts(self) -> None:
        if self.settings.restarts == 1:
            return
        if self.model.codes is None:
            raise UserError(f"--restarts chooses a trial by Q's categorical code, which --model "
                            f"{self.model.config.kind} does not have: use a model with codes")
        if self.settings.restart_steps >= self.total_steps:
            raise UserError(f"--restart-steps {self.settings.restart_steps} leaves nothing to "
                            f"continue in a run of {self.total_steps} iterations; use fewer")

    def evaluate(self, session: Session) -> dict[str, object]:
        """How well Q's categorical code classifies the labelled test images."""
        probs = self.model.code_posterior(session, self.test_images)
        return categorical_accuracy(probs, self.test_labels)

    def trainer(self, trial: int, directory: RunDir, steps: int, label: str,
                dashboard: VisualDL | None = None) -> Trainer:
        """A Trainer of trial ``trial`` (the run itself trains as trial 0, or after --restarts
        as the chosen trial, whose seed it continues), in a Session of its own seeded
        from the trial's seed (:func:`restarts.trial_seed`), as are its data order and noise."""
        seed = restarts.trial_seed(self.settings.seed, trial)
        session = Session(self.model, self.place, seed)
        batches = Batches(self.images, self.settings.batch_size, seed)
        evaluate = self.evaluate if self.model.codes is not None else None
        return Trainer(session, batches, self.settings, directory, seed, steps, label, trial,
                       evaluate, dashboard)

    def train(self, start: Checkpoint | None = None) -> None:
        """Train to the end, from ``start`` (the newest checkpoint of a resumed run) or anew.

        A run with --restarts and no checkpoint of its own first trains (or finishes) every
        trial, each resuming from its own directory, and continues the chosen one; a signal
        stops it after saving, with a line that says how to resume."""
        if self.settings.restarts > 1 and not self.directory.has_checkpoint():
            start = self._trials()
            if start is None:
                return
        trial = 0 if start is None else start.trial
        with contextlib.ExitStack() as stack:
            dashboard = None
            if self.visualdl is not None:
                dashboard = stack.enter_context(VisualDL(self.visualdl))
            trainer = self.trainer(trial, self.directory, self.total_steps,
                                   self.model.config.kind, dashboard)
            if start is not None:
                trainer.resume(start)
            last = trainer.train()
        if trainer.stopped and trainer.step < trainer.total_steps:
            self._stopped(trainer.step, last)
            return
        print(f"done: step {trainer.step}, checkpoint {last}, samples in {self.directory.samples}")

    def _trials(self) -> Checkpoint | None:
        """Train (or finish) every trial and score it. Returns the chosen trial's final
        checkpoint, or None if a signal stopped a trial."""
        scores = []
        for trial in range(self.settings.restarts):
            directory = self.directory.trial(trial)
            label = f"{self.model.config.kind} restarts/{directory.root.name}"
            trainer = self.trainer(trial, directory, self.settings.restart_steps, label)
            if directory.has_checkpoint():
                trainer.resume(checkpoint.find(directory.checkpoints))
            if trainer.step < trainer.total_steps:
                last = trainer.train()
                if trainer.stopped:  # even at the trial's last step: the run was asked to stop
                    self._stopped(trainer.step, last)
                    return None
            unlabelled = self.images[:restarts.SELECTION_IMAGES]
            scores.append(restarts.score(trainer.session, unlabelled))
        chosen = restarts.write_selection(self.directory, scores, self.settings.restart_steps)
        chosen_dir = self.directory.trial(chosen)
        listed = ", ".join(f"trial_{trial} {score:.4f}" for trial, score in enumerate(scores))
        print(f"restarts: I(c1; x) {listed}; continuing {chosen_dir.root}")
        # the run's logs begin with its trial's
        for trial_log, run_log in ((chosen_dir.metrics, self.directory.metrics),
                                   (chosen_dir.evaluations, self.directory.evaluations)):
            if trial_log.exists():
                shutil.copyfile(trial_log, run_log)
        return checkpoint.find(chosen_dir.checkpoints)

    def _stopped(self, step: int, last: Path) -> None:
        print(f"stopped at step {step}; checkpoint {last}\n"
              f"resume with: python train.py --output {self.settings.output} --resume",
              file=sys.stderr)
