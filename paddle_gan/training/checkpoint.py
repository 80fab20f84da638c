"""Checkpoints: every persistable variable once, under its global name, written atomically.

Layout of ``<output>/checkpoints/``::

    step_000500/model.pdparams   parameters and BN statistics   (paddle.save, name -> array)
    step_000500/model.pdopt      optimizer state (moments, beta powers, learning rates)
    step_000500/state.json       model config, step, RNG state, SHA-256 of the two files above
    latest                       the name of the newest complete checkpoint, for people

A checkpoint is written into a temporary directory, fsynced and renamed into place; only
then is ``latest`` replaced. Loading does not trust ``latest``: it takes the newest
``step_*`` directory whose files match their SHA-256, so neither a crash between rename and
pointer update nor a corrupted checkpoint loses anything but the broken one.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import paddle

from paddle_gan.cli import UserError
from paddle_gan.static.session import Session

FORMAT = 1
PARAMS_FILE, OPT_FILE, STATE_FILE, LATEST = "model.pdparams", "model.pdopt", "state.json", "latest"
TMP_PREFIX = ".tmp-"


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
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}-{os.getpid()}")
    tmp.write_text(text)
    _fsync(tmp)
    os.replace(tmp, path)
    _fsync(path.parent)


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint directory and the state its ``state.json`` recorded: ``step``,
    ``rng`` (the noise generator's state), ``run`` and ``model`` (the settings) and ``trial``."""
    path: Path
    state: dict

    @property
    def step(self) -> int:
        return self.state["step"]

    @property
    def trial(self) -> int:
        return self.state["trial"]


class NonFiniteState(UserError):
    """Parameters or optimizer state hold NaN or Inf: never saved over a good checkpoint."""


def save(session: Session, directory: Path, state: dict, keep: int = 3) -> Path:
    """Write a checkpoint for ``state["step"]`` under ``directory``; keep the newest ``keep``.

    Raises NonFiniteState, writing nothing, if any variable holds NaN or Inf.
    """
    param_names = session.programs.parameter_names()
    params = session.read(param_names)
    optimizer_state = session.read(sorted(set(session.programs.persistable_names()) - set(param_names)))
    bad = [n for group in (params, optimizer_state) for n, v in group.items()
           if not np.isfinite(v).all()]
    if bad:
        raise NonFiniteState(f"non-finite values in {', '.join(bad[:3])} at step {state['step']}; "
                             "not saved, the previous checkpoint stays the latest")
    directory.mkdir(parents=True, exist_ok=True)
    name = f"step_{state['step']:06d}"
    final, tmp = directory / name, directory / f"{TMP_PREFIX}{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        paddle.save(params, str(tmp / PARAMS_FILE))
        paddle.save(optimizer_state, str(tmp / OPT_FILE))
        files = {f: _sha256(tmp / f) for f in (PARAMS_FILE, OPT_FILE)}
        full_state = dict(state, format=FORMAT, model=session.programs.config.to_dict(),
                          files=files, paddle_version=paddle.__version__)
        (tmp / STATE_FILE).write_text(json.dumps(full_state, indent=1))
        for f in (PARAMS_FILE, OPT_FILE, STATE_FILE):
            _fsync(tmp / f)
        _fsync(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_text_atomic(directory / LATEST, name + "\n")
    for old in step_dirs(directory)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def step_dirs(directory: Path) -> list[Path]:
    """``step_*`` directories, oldest first (by number: step_1000000 sorts after step_999999)."""
    steps = [p for p in directory.glob("step_*") if p.name[5:].isdigit()]
    return sorted(steps, key=lambda p: int(p.name[5:]))


def discard_after(directory: Path, step: int) -> None:
    """Delete checkpoints newer than ``step`` (after resuming past corrupted ones)."""
    for path in step_dirs(directory):
        if int(path.name[5:]) > step:
            shutil.rmtree(path)


def remove_stale_temporaries(directory: Path) -> None:
    """Delete half-written checkpoints and ``latest`` pointers left by a killed writer (call
    while holding the run lock)."""
    for tmp in directory.glob(f"{TMP_PREFIX}*"):
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def _candidates(path: Path) -> list[Path]:
    """Checkpoint directories ``path`` may mean, newest first."""
    if (path / STATE_FILE).is_file() or path.name.startswith("step_"):
        return [path]
    for directory in (path, path / "checkpoints"):
        steps = step_dirs(directory)[::-1]
        if steps or (directory / LATEST).is_file():
            return steps
    return []


def find(path: str | os.PathLike) -> Checkpoint:
    """The newest intact checkpoint at ``path``, with its verified state.

    ``path`` is one ``step_*`` directory, a checkpoints directory or a run's output directory.
    In a directory, a corrupted or incomplete checkpoint is reported on stderr and skipped in
    favour of the previous one; a UserError says so if none is intact.
    """
    path = Path(path).expanduser()
    candidates = _candidates(path)
    if not candidates:
        raise UserError(f"{path}: no checkpoint there (expected {STATE_FILE} or a checkpoints/ "
                        "directory); pass a run's --output or a step_* directory")
    problems = []
    for candidate in candidates:
        try:
            return Checkpoint(candidate, read_state(candidate))
        except UserError as err:
            problems.append(str(err))
            if len(candidates) > 1:
                print(f"warning: skipping checkpoint: {err}", file=sys.stderr)
    raise UserError(f"{path}: no intact checkpoint ({problems[0]})" if len(problems) > 1
                    else problems[0])


def read_state(checkpoint: Path) -> dict:
    """The checkpoint's state.json, with its files verified against their recorded SHA-256."""
    try:
        state = json.loads((checkpoint / STATE_FILE).read_text())
        files = state["files"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"{checkpoint}: unreadable {STATE_FILE} ({err}); "
                        "the checkpoint is incomplete or corrupted") from None
    if state.get("format") != FORMAT:
        raise UserError(f"{checkpoint}: checkpoint format {state.get('format')}, written by "
                        f"another version of paddle-gan (this one reads format {FORMAT}); "
                        "train anew with this version")
    for name, digest in files.items():
        path = checkpoint / name
        if not path.is_file() or _sha256(path) != digest:
            raise UserError(f"{path}: missing or checksum mismatch; the checkpoint is corrupted")
    return state


def restore(session: Session, ckpt: Checkpoint) -> None:
    """Load a checkpoint that :func:`find` verified into the session's Scope."""
    state = ckpt.state
    if state["model"]["kind"] != session.programs.config.kind:
        raise UserError(f"{ckpt.path}: checkpoint of model {state['model']['kind']!r}, "
                        f"not {session.programs.config.kind!r}")
    expected = set(session.programs.persistable_names())
    values: dict[str, np.ndarray] = {}
    for name in (PARAMS_FILE, OPT_FILE):
        values.update(paddle.load(str(ckpt.path / name), return_numpy=True))
    if set(values) != expected:
        missing, extra = sorted(expected - set(values)), sorted(set(values) - expected)
        raise UserError(f"{ckpt.path}: variables do not match this model "
                        f"(missing {missing[:3]}, unexpected {extra[:3]})")
    try:
        session.write(values)
    except ValueError as err:
        raise UserError(f"{ckpt.path}: {err}; the checkpoint is from a different "
                        "architecture") from None
