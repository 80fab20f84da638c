"""Shared fixtures: synthetic MNIST-format IDX files, so the suite needs no download."""
from __future__ import annotations

import contextlib
import gzip
import importlib
import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path


def _one_share_of_the_cores_per_worker() -> None:
    """Under pytest-xdist, pin each worker (and the processes it starts) to its own share of
    the cores, before any math library starts its threads: otherwise every worker runs as many
    threads as there are cores, and they spin waiting for each other. Measured to pay off:
    BENCHMARKS.md, "Test workers pinned to a core each"."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "").removeprefix("gw")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.isdigit() or workers < 2 or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    index = int(worker) % workers
    share = cores[index::workers]
    if not share:  # more workers than cores: share one
        share = [cores[index % len(cores)]]
    os.sched_setaffinity(0, share)


_one_share_of_the_cores_per_worker()

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

from paddle_gan import runtime

runtime.configure()  # as every entry point does, before anything imports Paddle

from paddle_gan.data import IMAGE_MAGIC, LABEL_MAGIC

SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
_ENTRY_POINTS: dict[str, object] = {}


def entry_point(script: str):
    """The module of an entry point script (``train.py``, ``benchmarks/bench.py``), loaded once."""
    if "/" not in script:  # train.py, infer.py, evaluate.py: installed modules
        return importlib.import_module(Path(script).stem)
    if script not in _ENTRY_POINTS:
        spec = importlib.util.spec_from_file_location(Path(script).stem, ROOT / script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _ENTRY_POINTS[script] = module
    return _ENTRY_POINTS[script]


def cli(script: str, *args: str, fresh_process: bool = False) -> subprocess.CompletedProcess:
    """Run an entry point script (or, after ``-m``, a module) with ``args`` as its command line; its exit code, stdout and
    stderr come back as a CompletedProcess. In this process (sharing the Paddle import) unless
    ``fresh_process``, which the tests of signals and of a second process need."""
    if fresh_process:
        command = [script, *args] if script == "-m" else [str(ROOT / script), *args]
        return subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
    from paddle_gan.cli import run_cli

    if script == "-m":
        module, args = importlib.import_module(args[0]), args[1:]
    else:
        module = entry_point(script)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run_cli(lambda: module.main(list(args)))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return subprocess.CompletedProcess([script, *args], code, out.getvalue(), err.getvalue())


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def one_line_error(result: subprocess.CompletedProcess, code: int, pattern: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and pattern in lines[0], result.stderr


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """Encode a uint8 array as an IDX file: magic, big-endian dims, raw bytes."""
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_mnist(directory: Path, n_train: int = 256, n_test: int = 64, gz: bool = False,
                seed: int = 0) -> Path:
    """Four IDX files of blob-like 28x28 'digits' with labels, named as MNIST's."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:28, :28]
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        cy, cx = 8 + 12 * rng.random(n), 8 + 12 * rng.random(n)
        blobs = np.exp(-((yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2) / 18.0)
        images = (255 * blobs).astype(np.uint8)
        for kind, array, magic in (("images-idx3", images, IMAGE_MAGIC),
                                   ("labels-idx1", labels, LABEL_MAGIC)):
            data = idx_bytes(array, magic)
            name = f"{prefix}-{kind}-ubyte"
            if gz:
                (directory / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (directory / name).write_bytes(data)
    return directory


@pytest.fixture
def mnist_dir(tmp_path: Path) -> Path:
    return write_mnist(tmp_path / "mnist")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the user's data dir by accident."""
    for name in ("PADDLE_GAN_DATA", "PADDLE_GAN_FASHION_DATA"):
        monkeypatch.delenv(name, raising=False)
