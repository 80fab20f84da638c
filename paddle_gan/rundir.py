"""A run's output directory: created writable, locked against a second writer, tidied.

The lock is an ``fcntl.flock`` on ``<output>/.lock``: the kernel drops it when the process
dies however it dies, so a SIGKILLed run never leaves a stale lock behind.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from paddle_gan import checkpoint
from paddle_gan.cli import UserError

LOCK_FILE = ".lock"


@contextlib.contextmanager
def claim(output: Path, resume: bool) -> Iterator[Path]:
    """Create and lock ``output`` for one training process; refuse to train over a run
    unless resuming it. Half-written checkpoints of a killed earlier writer are removed."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        handle = open(output / LOCK_FILE, "a+")
    except OSError as err:
        raise UserError(f"output directory {output} is not writable ({err.strerror}); "
                        "choose another --output") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise UserError(f"{output} is in use by another training process (pid {holder}); "
                            "wait for it or choose another --output") from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        # the run's own checkpoints and those of its --restarts trials
        ckpt_dirs = [output / "checkpoints", *sorted(output.glob("restarts/trial_*/checkpoints"))]
        held = [d for d in ckpt_dirs if (d / checkpoint.LATEST).exists() or any(d.glob("step_*"))]
        if held and not resume:
            raise UserError(f"{output} already holds a run; pass --resume to continue it "
                            "or choose another --output")
        for ckpt_dir in ckpt_dirs:
            checkpoint.remove_stale_temporaries(ckpt_dir)
        yield output
