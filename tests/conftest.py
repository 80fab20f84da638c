"""Shared fixtures: synthetic MNIST-format IDX files, so the suite needs no download."""
from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paddle_gan  # noqa: E402,F401  (quiets Paddle before anything imports it)
from paddle_gan.data import IMAGE_MAGIC, LABEL_MAGIC  # noqa: E402

SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


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
