"""The training loop shared by every model: alternate the D-step and G-step Programs.

Programs built and a Session to run them (by the caller) in, results out to a run directory
(:class:`paddle_gan.training.rundir.RunDir`): its config, logs, sample grids, checkpoints and
curves.
"""
from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterator, TextIO

import numpy as np
from tqdm import tqdm

from paddle_gan import plots
from paddle_gan.training import checkpoint
from paddle_gan.cli import UserError
from paddle_gan.config import RunConfig
from paddle_gan.training.dashboard import VisualDL
from paddle_gan.data import Batches
from paddle_gan.grids import save_grid
from paddle_gan.training.rundir import RunDir
from paddle_gan.static.session import Session

SAMPLE_GRID = 8  # fixed-noise grids are SAMPLE_GRID x SAMPLE_GRID


def iteration(session: Session, real: np.ndarray, rng: np.random.Generator,
              fetch: bool, fresh_g_noise: bool = False) -> dict[str, float]:
    """One training iteration: one D step and one G step on one noise batch drawn from
    ``rng`` (or, with ``fresh_g_noise``, a second batch for the G step, as the official InfoGAN
    code draws). Returns the model's logged values if ``fetch``, else nothing (no device sync)."""
    model = session.programs
    z = model.latent.sample(rng, len(real))
    d_feed = {"real": real, "z": z}
    for name, draw in model.drawn_feeds.get("d_step", {}).items():
        d_feed[name] = draw(rng, len(real))
    d = session.run("d_step", d_feed, model.logged["d_step"] if fetch else ())
    if fresh_g_noise:
        z = model.latent.sample(rng, len(real))
    g_feed = {"z": z}
    for name, draw in model.drawn_feeds.get("g_step", {}).items():
        g_feed[name] = draw(rng, len(real))
    g = session.run("g_step", g_feed, model.logged["g_step"] if fetch else ())
    values = {name: float(value) for name, value in d.items()}
    values.update((name, float(value)) for name, value in g.items())
    return values


def total_steps(run: RunConfig, steps_per_epoch: int) -> int:
    """A run's length in iterations: its epochs, or --max-steps if that comes first."""
    limit = run.epochs * steps_per_epoch
    if run.max_steps is not None:
        return min(limit, run.max_steps)
    return limit


class _StopRequest:
    """SIGINT/SIGTERM ask the loop to stop after the current step; a second SIGINT aborts."""

    def __init__(self) -> None:
        self.requested = False

    def __enter__(self) -> "_StopRequest":
        self._old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True


class Trainer:
    """Trains one model in one run directory: alternates D and G steps, logs the model's
    ``logged`` fetches every ``log_every`` steps, saves checkpoints and sample grids.

    ``seed`` seeds the noise (and, through the caller, the Session and the data order);
    ``trial`` is recorded in each checkpoint: the --restarts trial whose seed it trains with.
    ``evaluate``, if given, runs at every checkpoint and its numbers go to ``eval.jsonl``;
    ``dashboard``, if given, gets the logged values, evaluations and sample grids too.
    """

    def __init__(self, session: Session, batches: Batches, settings: RunConfig,
                 directory: RunDir, seed: int, total_steps: int, label: str, trial: int = 0,
                 evaluate: Callable[[Session], dict] | None = None,
                 dashboard: VisualDL | None = None):
        self.session = session
        self.model = session.programs
        self.batches = batches
        self.settings = settings
        self.directory = directory
        self.total_steps = total_steps
        self.label = label
        self.trial = trial
        self.evaluate = evaluate
        self.dashboard = dashboard
        self.rng = np.random.default_rng(seed)
        self.fixed_z = self.model.latent.sample(np.random.default_rng([seed, 1]),
                                                SAMPLE_GRID * SAMPLE_GRID)
        self.step = 0
        self._saved_step: int | None = None
        self._last_checkpoint: Path | None = None
        self.stopped = False  # whether SIGINT/SIGTERM ended the last train()

    def resume(self, ckpt: checkpoint.Checkpoint) -> None:
        """Continue from a checkpoint :func:`checkpoint.find` verified.

        Checkpoints newer than it were skipped as corrupted: they are deleted, and the steps
        after it will be trained (and saved) again."""
        if ckpt.trial != self.trial:
            raise ValueError(f"{ckpt.path} is trial {ckpt.trial}'s, not trial {self.trial}'s")
        checkpoint.restore(self.session, ckpt)
        self.step = self._saved_step = ckpt.step
        self._last_checkpoint = ckpt.path
        self.rng.bit_generator.state = ckpt.state["rng"]
        checkpoint.discard_after(self.directory.checkpoints, self.step)
        print(f"resumed from {ckpt.path} at step {self.step}")

    def _truncate_logs(self) -> None:
        """Keep log lines up to the current step only: a resumed run then logs each step once,
        and a fresh run does not append to the logs of a run that died before its first
        checkpoint. A line cut short by a crash is dropped too."""
        for path in (self.directory.metrics, self.directory.evaluations):
            if path.exists():
                kept = [r for r in plots.read_metrics(path) if r["step"] <= self.step]
                tmp = path.with_name(f"{path.name}.tmp")
                tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
                os.replace(tmp, path)

    def train(self) -> Path:
        """Run to ``total_steps``, or until SIGINT/SIGTERM; returns the last checkpoint."""
        settings = self.settings
        self.directory.root.mkdir(parents=True, exist_ok=True)
        self._truncate_logs()
        self.directory.config.write_text(json.dumps(
            {"run": asdict(settings), "model": self.model.config.to_dict()}, indent=1))
        self._window = (time.perf_counter(), self.step)
        with _StopRequest() as stop:  # held through the final save: a late signal waits for it
            with open(self.directory.metrics, "a") as log, \
                    tqdm(total=self.total_steps, initial=self.step, unit="it", dynamic_ncols=True,
                         desc=self.label, mininterval=0.5) as bar:
                for epoch, real in self._remaining_batches():
                    self.step += 1
                    logging = self.step % settings.log_every == 0 or self.step == self.total_steps
                    fetched = iteration(self.session, real, self.rng, logging,
                                        fresh_g_noise=settings.g_noise == "fresh")
                    bar.update(1)
                    if logging:
                        self._log(log, bar, epoch, fetched)
                    if self.step % settings.sample_every == 0:
                        self.save_samples()
                    if self.step % settings.save_every == 0:
                        self.save()
                    if stop.requested:
                        break
            last = self.save()
            if self.step % settings.sample_every:  # else the loop has just drawn this step's grid
                self.save_samples()
            metrics = self.directory.metrics
            if metrics.stat().st_size:
                plots.loss_curve(metrics, self.directory.loss_curve)
                if self.model.codes is not None:
                    plots.li_curves({self.directory.root.name: metrics}, self.directory.li_curve,
                                    self.model.codes.categories)
        self.stopped = stop.requested
        return last

    def _remaining_batches(self) -> Iterator[tuple[int, np.ndarray]]:
        """(epoch, batch) from the current step on, until ``total_steps``."""
        while self.step < self.total_steps:
            epoch, start = divmod(self.step, len(self.batches))
            for real in self.batches.epoch(epoch, start):
                yield epoch, real
                if self.step >= self.total_steps:
                    return

    def _log(self, log: TextIO, bar: tqdm, epoch: int, values: dict[str, float]) -> None:
        """Check, record and display one log step; samples/s covers the steps since the last."""
        self._check_finite(values)
        start_time, start_step = self._window
        now = time.perf_counter()
        row = {"step": self.step, "epoch": epoch, **values,
               "samples_per_s": ((self.step - start_step) * self.settings.batch_size
                                 / (now - start_time))}
        log.write(json.dumps(row) + "\n")
        log.flush()
        if self.dashboard is not None:
            self.dashboard.scalars("train", self.step, {k: v for k, v in row.items()
                                                        if k not in ("step", "epoch")})
        bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()}, refresh=False)
        self._window = (now, self.step)

    def _check_finite(self, values: dict[str, float]) -> None:
        """Stop on a NaN/Inf loss; the last checkpoint, saved while finite, stays the latest."""
        bad = {k: v for k, v in values.items() if not np.isfinite(v)}
        if bad:
            name, value = next(iter(bad.items()))
            last = self._last_checkpoint.name if self._last_checkpoint else "none yet"
            raise UserError(f"non-finite {name} ({value}) at step {self.step}; training stopped, "
                            f"last good checkpoint: {last} (try a lower learning rate)")

    def save(self) -> Path:
        """Checkpoint the current step, unless this process already saved (or resumed from) it."""
        if self._saved_step == self.step:
            return self._last_checkpoint
        state = {"step": self.step, "rng": self.rng.bit_generator.state,
                 "run": asdict(self.settings), "trial": self.trial}
        saved = checkpoint.save(self.session, self.directory.checkpoints, state,
                                keep=self.settings.keep)
        self._saved_step, self._last_checkpoint = self.step, saved
        if self.evaluate is not None:
            result = {"step": self.step, **self.evaluate(self.session)}
            with open(self.directory.evaluations, "a") as f:
                f.write(json.dumps(result) + "\n")
            if self.dashboard is not None:
                self.dashboard.scalars("eval", self.step, {k: v for k, v in result.items()
                                                           if k != "step"})
            tqdm.write(f"step {self.step}: " + ", ".join(
                f"{k} {v:.4f}" for k, v in result.items() if isinstance(v, float)))
        return saved

    def save_samples(self) -> Path:
        images = self.model.generate(self.session, self.fixed_z)
        if self.dashboard is not None:
            self.dashboard.grid("samples", self.step, images, SAMPLE_GRID, SAMPLE_GRID)
        return save_grid(images, self.directory.sample_grid(self.step), SAMPLE_GRID, SAMPLE_GRID)
