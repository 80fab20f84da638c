"""Evaluation numbers: InfoGAN's categorical-code accuracy against MNIST labels."""
from __future__ import annotations

import numpy as np

from paddle_gan.session import Session


def hungarian_accuracy(pred: np.ndarray, labels: np.ndarray,
                       k: int = 10) -> tuple[float, dict[int, int]]:
    """Accuracy of cluster ids ``pred`` under the best one-to-one cluster -> label matching.

    The categorical code is unsupervised, so code 3 may well mean digit 7; the Hungarian method
    (scipy's linear_sum_assignment) finds the matching with the most agreements.
    """
    from scipy.optimize import linear_sum_assignment

    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (pred, labels), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(labels)), {int(r): int(c) for r, c in zip(rows, cols)}


def encode(session: Session, images: np.ndarray, batch_size: int = 500) -> dict[str, np.ndarray]:
    """Run the encode Program (Q on real images, BN in inference mode) over ``uint8`` images."""
    flat = images.reshape(len(images), -1)
    parts: dict[str, list[np.ndarray]] = {"cat_probs": [], "cont_mean": []}
    for start in range(0, len(flat), batch_size):
        batch = flat[start:start + batch_size].astype(np.float32) / 255.0
        out = session.run("encode", {"real": batch}, tuple(parts))
        for name in parts:
            parts[name].append(out[name])
    return {name: np.concatenate(values) for name, values in parts.items()}


def categorical_accuracy(session: Session, images: np.ndarray,
                         labels: np.ndarray) -> dict[str, object]:
    """InfoGAN's c1 as a classifier: argmax of Q's categorical head, Hungarian-matched."""
    pred = encode(session, images)["cat_probs"].argmax(axis=1)
    accuracy, mapping = hungarian_accuracy(pred, labels.astype(np.int64))
    return {"cat_accuracy": accuracy, "cat_mapping": mapping}
