"""Label-free restarts (``--restarts N``): train N short trials, continue the most promising.

Whether an InfoGAN's codes become the digits or two codes share two look-alike digits
varies from seed to seed, and Q gives a hint without labels: its mutual information between
c1 and unlabelled real images, H(mean posterior) - mean H(posterior), is lower where codes
share digits. How early that hint ranks runs by their final accuracy is measured, on few
seeds, in BENCHMARKS.md. Each trial is a run directory of its own
(:meth:`paddle_gan.training.rundir.RunDir.trial`); ``selection.json`` records every trial's
score and the one continued. The chosen trial's final checkpoint is where the run's own checkpoints
continue from. Trial 0 uses the run's seed, so with ``--restarts 1`` nothing changes.
"""
from __future__ import annotations

import json
import os

import numpy as np

from paddle_gan.evaluation.metrics import code_information
from paddle_gan.training.rundir import RunDir
from paddle_gan.static.session import Session

SELECTION_IMAGES = 10000  # the first training images, unlabelled, that score each trial


def trial_seed(seed: int, trial: int) -> int:
    """The seed of trial ``trial`` of a run seeded ``seed``: the run's own for trial 0, else
    one derived from both, so that runs with nearby seeds share no trials."""
    if trial == 0:
        return seed
    return int(np.random.SeedSequence([seed, trial]).generate_state(1)[0] % 2**31)


def score(session: Session, images: np.ndarray) -> float:
    """Q's information between c1 and ``images``, in nats (at most ln K), from no labels."""
    return code_information(session.programs.code_posterior(session, images))


def write_selection(directory: RunDir, scores: list[float], steps: int) -> int:
    """Record every trial's score and return the chosen trial (the highest; the first on a tie)."""
    chosen = int(np.argmax(scores))
    record = {"metric": f"cat_real_mi on the first {SELECTION_IMAGES} training images, no labels",
              "steps": steps, "scores": scores, "chosen": chosen}
    path = directory.selection
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path)
    return chosen
