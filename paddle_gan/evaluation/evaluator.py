"""The evaluator: a LeNet-style classifier whose outputs the GAN metrics are built on.

Inception-v3 knows nothing about handwritten digits, so the Inception Score and Fréchet
distance here use a classifier trained on the same training set as the generators (MNIST or
Fashion-MNIST, one classifier each). It is trained once (a few minutes on a CPU) and cached
with the checksums of the data it was trained on and its own test accuracy; a cache made
from other data is not reused.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import paddle
import paddle.nn.functional as F
from tqdm import tqdm

from paddle_gan.static import onednn
from paddle_gan.data import CLASSES, DATASETS, IMAGE_PIXELS, IMAGE_SIDE, Batches
from paddle_gan.static.graph import ProgramSet, minimize_adam, new_step
from paddle_gan.static.layers import Layers
from paddle_gan.static.session import Session

CACHE_ENV = "PADDLE_GAN_CACHE"
FEATURES = 128  # the penultimate layer, used for the Fréchet distance
# Of the MNIST training set, for standardised inputs; Fashion-MNIST's (0.286, 0.353) are close
# enough for a classifier trained on it.
PIXEL_MEAN, PIXEL_STD = 0.1307, 0.3081
LEARNING_RATE = 1e-3
FORMAT = 2  # bump when the network or the cache layout changes: another format is retrained


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, "~/.cache/paddle_gan")).expanduser()


def lenet(layers: Layers, x: paddle.pir.Value) -> tuple[paddle.pir.Value, paddle.pir.Value]:
    """Caffe's LeNet: conv 5x5 20 + pool 2 -> conv 5x5 50 + pool 2 -> FC 128 + ReLU -> FC 10.

    Returns (logits, the 128 penultimate features)."""
    init = paddle.nn.initializer.KaimingNormal()
    with layers.prefix("E_"):
        h = (paddle.reshape(x, [-1, 1, IMAGE_SIDE, IMAGE_SIDE]) - PIXEL_MEAN) / PIXEL_STD
        h = F.max_pool2d(F.relu(layers.conv2d("conv1", h, 20, 5, 1, 0, init)), 2)   # 20 x 12 x 12
        h = F.max_pool2d(F.relu(layers.conv2d("conv2", h, 50, 5, 1, 0, init)), 2)   # 50 x 4 x 4
        features = F.relu(layers.linear("fc1", paddle.reshape(h, [-1, 50 * 4 * 4]), FEATURES, init))
        return layers.linear("fc2", features, CLASSES), features


def build() -> ProgramSet:
    """The evaluator's Programs: ``train`` (cross-entropy, Adam) and ``predict``."""
    startup = paddle.static.Program()
    with new_step(startup) as train:
        x, y = train.data("images", [None, IMAGE_PIXELS]), train.data("labels", [None, 1])
        logits, _ = lenet(train.layers, x)
        loss = F.cross_entropy(logits, paddle.cast(y, "int64"))
        minimize_adam(train, loss, ("E_",), LEARNING_RATE, beta1=0.9)
        train.fetches.update(loss=loss)
    with new_step(startup, training=False) as predict:
        logits, features = lenet(predict.layers, predict.data("images", [None, IMAGE_PIXELS]))
        predict.fetches.update(probs=F.softmax(logits, axis=1), features=features)
    return ProgramSet(startup, dict(train=train, predict=predict))


def learning_rate_name(session: Session) -> str:
    """The Adam learning-rate variable. Set directly: Paddle's LR schedulers write to the
    global scope, and the evaluator runs in its own Session scope."""
    (name,) = [n for n in session.programs.persistable_names() if n.startswith("learning_rate")]
    return name


def data_digest(*arrays: np.ndarray) -> str:
    """SHA-256 over the arrays' bytes: identifies the data a cached evaluator was trained on."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@dataclass
class Evaluator:
    """A trained classifier; ``predict`` streams images through it in batches."""
    session: Session
    test_accuracy: float

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities ``[N, 10]`` and features ``[N, 128]`` of uint8 images or floats
        in [0, 1], any shape with 784 pixels per image."""
        out = self.session.run_batches("predict", "images", images, ("probs", "features"))
        return out["probs"], out["features"]


def cache_files(cache_dir: Path, dataset: str) -> tuple[Path, Path]:
    """The weights and metadata files of a dataset's cached evaluator."""
    return cache_dir / f"{dataset}_lenet.pdparams", cache_dir / f"{dataset}_lenet.json"


def load_or_train(train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray,
                  test_labels: np.ndarray, cache_dir: Path, place, retrain: bool = False,
                  epochs: int = 4, seed: int = 0, dataset: str = "mnist") -> Evaluator:
    """The cached evaluator for exactly this data, or a newly trained (and cached) one."""
    programs = build()
    if isinstance(place, paddle.CPUPlace):
        onednn.rewrite(programs)
    session = Session(programs, place, seed)
    digest = data_digest(train_images, train_labels, test_images, test_labels)
    weights_file, meta_file = cache_files(cache_dir, dataset)
    if not retrain:
        accuracy = _load_cached(session, weights_file, meta_file, digest)
        if accuracy is not None:
            return Evaluator(session, accuracy)
    batches = Batches(train_images, 128, seed)
    with tqdm(total=epochs * len(batches), desc=f"training the {dataset} evaluator", unit="it") as bar:
        for epoch in range(epochs):
            for i, idx in enumerate(batches.indices(epoch)):
                feed = {"images": batches.images[idx].astype(np.float32) / 255.0,
                        "labels": train_labels[idx, None].astype(np.float32)}
                fetch = ("loss",) if i % 50 == 0 else ()
                loss = session.run("train", feed, fetch)
                bar.update(1)
                if loss:
                    bar.set_postfix(loss=f"{float(loss['loss']):.4f}", refresh=False)
            if epoch == epochs - 2:  # the last epoch at a tenth of the rate
                session.write({learning_rate_name(session): np.array(LEARNING_RATE / 10, np.float32)})
    evaluator = Evaluator(session, 0.0)
    probs, _ = evaluator.predict(test_images)
    evaluator.test_accuracy = float((probs.argmax(1) == test_labels).mean())
    target = DATASETS[dataset].evaluator_accuracy
    if evaluator.test_accuracy < target:
        print(f"warning: the evaluator reached only {evaluator.test_accuracy:.4f} test accuracy "
              f"(target {target}); its scores are less reliable", file=sys.stderr)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{weights_file.name}.tmp-{os.getpid()}"
    paddle.save(session.read(session.programs.parameter_names()), str(tmp))
    weights_sha256 = hashlib.sha256(tmp.read_bytes()).hexdigest()
    os.replace(tmp, weights_file)
    meta = {"format": FORMAT, "data_sha256": digest, "weights_sha256": weights_sha256,
            "epochs": epochs, "seed": seed, "test_accuracy": evaluator.test_accuracy}
    tmp = cache_dir / f".{meta_file.name}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, meta_file)
    return evaluator


def _load_cached(session: Session, weights: Path, meta_path: Path, digest: str) -> float | None:
    """Load the cached weights into ``session`` if they were trained on data ``digest``;
    return their test accuracy, or None (no cache, other data, or a damaged cache)."""
    if not (weights.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT or meta.get("data_sha256") != digest:
            return None
        if hashlib.sha256(weights.read_bytes()).hexdigest() != meta["weights_sha256"]:
            raise ValueError("weights do not match their recorded SHA-256")
        session.write(paddle.load(str(weights), return_numpy=True))
        return float(meta["test_accuracy"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"warning: ignoring the damaged evaluator cache {weights} ({err}); retraining",
              file=sys.stderr)
        return None
