"""Checkpoints: every persistable variable once, under its global name, written atomically.

Layout of ``<output>/checkpoints/``::

    step_000500/model.pdparams   parameters and BN statistics   (paddle.save, name -> array)
    step_000500/model.pdopt      optimizer state (moments, beta powers, learning rates)
    step_000500/state.json       model config, step, RNG state, SHA-256 of the two files above
    latest                       the name of the newest complete checkpoint

A checkpoint is written into a temporary directory and renamed into place, and ``latest`` is
replaced only after that, so a crash mid-write leaves the previous checkpoint as ``latest``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import paddle

from paddle_gan.cli import UserError
from paddle_gan.session import Session

FORMAT = 1
PARAMS_FILE, OPT_FILE, STATE_FILE, LATEST = "model.pdparams", "model.pdopt", "state.json", "latest"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    _fsync(tmp)
    os.replace(tmp, path)


def save(session: Session, directory: Path, state: dict, keep: int = 3) -> Path:
    """Write a checkpoint for ``state["step"]`` under ``directory``; keep the newest ``keep``."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"step_{state['step']:06d}"
    final, tmp = directory / name, directory / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        params = session.programs.parameter_names()
        others = [n for n in session.programs.persistable_names() if n not in set(params)]
        paddle.save(session.read(params), str(tmp / PARAMS_FILE))
        paddle.save(session.read(others), str(tmp / OPT_FILE))
        files = {f: _sha256(tmp / f) for f in (PARAMS_FILE, OPT_FILE)}
        full_state = dict(state, format=FORMAT, model=session.programs.config.to_dict(),
                          files=files, paddle_version=paddle.__version__)
        (tmp / STATE_FILE).write_text(json.dumps(full_state, indent=1))
        for f in (PARAMS_FILE, OPT_FILE, STATE_FILE):
            _fsync(tmp / f)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_text_atomic(directory / LATEST, name + "\n")
    for old in sorted(directory.glob("step_*"))[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def resolve(path: str | os.PathLike) -> Path:
    """A checkpoint directory from itself, a checkpoints directory, or a run's output directory."""
    path = Path(path).expanduser()
    for candidate in (path, path / "checkpoints"):
        if (candidate / STATE_FILE).is_file():
            return candidate
        if (candidate / LATEST).is_file():
            return candidate / (candidate / LATEST).read_text().strip()
    raise UserError(f"{path}: no checkpoint there (expected {STATE_FILE}, a '{LATEST}' pointer, "
                    f"or a checkpoints/ directory); pass a run's --output or a step_* directory")


def read_state(checkpoint: Path) -> dict:
    """The checkpoint's state.json, with its files verified against their recorded SHA-256."""
    try:
        state = json.loads((checkpoint / STATE_FILE).read_text())
        files = state["files"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"{checkpoint}: unreadable {STATE_FILE} ({err}); "
                        "the checkpoint is incomplete or corrupted") from None
    for name, digest in files.items():
        path = checkpoint / name
        if not path.is_file() or _sha256(path) != digest:
            raise UserError(f"{path}: missing or checksum mismatch; the checkpoint is corrupted")
    return state


def restore(session: Session, checkpoint: Path, state: dict | None = None) -> dict:
    """Load a checkpoint into the session's Scope; return its state.

    ``state`` is the checkpoint's :func:`read_state` if the caller already verified it.
    """
    state = state or read_state(checkpoint)
    expected = set(session.programs.persistable_names())
    values: dict[str, np.ndarray] = {}
    for name in (PARAMS_FILE, OPT_FILE):
        values.update(paddle.load(str(checkpoint / name), return_numpy=True))
    if set(values) != expected:
        missing, extra = sorted(expected - set(values)), sorted(set(values) - expected)
        raise UserError(f"{checkpoint}: variables do not match this model "
                        f"(missing {missing[:3]}, unexpected {extra[:3]})")
    try:
        session.write(values)
    except ValueError as err:
        raise UserError(f"{checkpoint}: {err}; the checkpoint is from a different architecture") from None
    return state
