"""Evaluation numbers: InfoGAN's categorical accuracy and purity, the Inception Score in its
log form, the Fréchet distance, and class-histogram entropy. Plain numpy/scipy on arrays, so
each is tested against hand-made cases and closed forms."""
from __future__ import annotations

import numpy as np

from paddle_gan.data import CLASSES


def code_label_counts(pred: np.ndarray, labels: np.ndarray, codes: int = CLASSES,
                      classes: int = CLASSES) -> np.ndarray:
    """counts[code, label]: where the codes put each class. Shows what accuracy alone hides,
    e.g. two codes that share two digits half and half."""
    for name, ids, k in (("code", pred, codes), ("label", labels, classes)):
        if len(ids) and (ids.min() < 0 or ids.max() >= k):
            raise ValueError(f"{name}s must be in 0..{k - 1}, got {ids.min()}..{ids.max()}")
    counts = np.zeros((codes, classes), dtype=np.int64)
    np.add.at(counts, (pred, labels), 1)
    return counts


def hungarian_accuracy(pred: np.ndarray, labels: np.ndarray, codes: int = CLASSES,
                       classes: int = CLASSES) -> tuple[float, dict[int, int]]:
    """Accuracy of cluster ids ``pred`` under the best one-to-one cluster -> label matching.

    The categorical code is unsupervised, so code 3 may well mean digit 7; the Hungarian method
    (scipy's linear_sum_assignment) finds the matching with the most agreements. With more
    codes than classes, the unmatched codes' images count as errors.
    """
    from scipy.optimize import linear_sum_assignment

    counts = code_label_counts(pred, labels, codes, classes)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(labels)), {int(r): int(c) for r, c in zip(rows, cols)}


def many_to_one_accuracy(pred: np.ndarray, labels: np.ndarray, codes: int,
                         classes: int = CLASSES) -> float:
    """Accuracy when each code is read as its most common label (several codes may share a
    digit, e.g. two styles of 7): the measure for more codes than classes."""
    counts = code_label_counts(pred, labels, codes, classes)
    return float(counts.max(axis=1).sum() / len(labels))


def code_information(probs: np.ndarray) -> float:
    """Q's estimate of the mutual information between c1 and real images, H(mean p) - mean H(p)
    over the rows p = Q(c1 | x), in nats (at most ln K for K codes). It needs no labels: two codes that
    share a digit leave Q unsure about that digit's real images, so it can hint at c1's quality
    where accuracy cannot be measured (how well it did so is in BENCHMARKS.md). The same
    formula as the log Inception Score, with Q in the classifier's place."""
    return inception_score_log(probs)


def categorical_accuracy(probs: np.ndarray, labels: np.ndarray) -> dict[str, object]:
    """InfoGAN's c1 as a classifier, from Q(c1 | x) of labelled images (``probs``): argmax
    of Q's categorical head, Hungarian-matched, the code x label counts (``cat_confusion``,
    rows = codes), and the label-free ``cat_real_mi`` (``code_information``) of the same
    images."""
    codes = probs.shape[1]
    pred, labels = probs.argmax(axis=1), labels.astype(np.int64)
    accuracy, mapping = hungarian_accuracy(pred, labels, codes)
    result = {"cat_accuracy": accuracy, "cat_real_mi": code_information(probs),
              "cat_mapping": mapping, "cat_confusion": code_label_counts(pred, labels, codes).tolist()}
    if codes > CLASSES:
        result["cat_accuracy_many_to_one"] = many_to_one_accuracy(pred, labels, codes)
    return result


def inception_score_log(probs: np.ndarray) -> float:
    """log IS = mean over x of KL(p(y|x) || p(y)), p(y) the mean of p(y|x), in nats.

    This is the mutual information I(y; x) under the classifier, computed over all samples
    at once (no 10-way split); exp of it is the usual Inception Score, at most the number of
    classes. In float64: summed in float32 the rows lose digits the score needs."""
    from scipy.special import xlogy

    probs = np.asarray(probs, dtype=np.float64)
    p_y = probs.mean(axis=0)
    return float(xlogy(probs, probs).sum(axis=1).mean() - xlogy(p_y, p_y).sum())


class FeatureStats:
    """Mean and covariance of feature vectors, accumulated batch by batch in float64."""

    def __init__(self, dim: int):
        self.n = 0
        self.total = np.zeros(dim)
        self.outer = np.zeros((dim, dim))

    def add(self, features: np.ndarray) -> None:
        f = features.astype(np.float64)
        self.n += len(f)
        self.total += f.sum(axis=0)
        self.outer += f.T @ f

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.total / self.n
        return mean, (self.outer - self.n * np.outer(mean, mean)) / (self.n - 1)


def frechet_distance(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray,
                     cov2: np.ndarray) -> float:
    """||m1 - m2||^2 + Tr(C1) + Tr(C2) - 2 Tr((C1 C2)^(1/2)).

    Tr((C1 C2)^(1/2)) = Tr((S C2 S)^(1/2)) with S = C1^(1/2): both square roots are of
    symmetric positive semi-definite matrices, so they come from ``eigh``; eigenvalues below 0
    by rounding (the singular covariances that dead ReLU features give) are set to 0, and a
    clearly negative one, which no covariance has, is an error. This stays real and stable
    where a general ``sqrtm(C1 @ C2)`` warns."""
    from scipy import linalg

    values, vectors = linalg.eigh(cov1)
    root1 = (vectors * np.sqrt(_rounding_clipped(values))) @ vectors.T
    inner = linalg.eigvalsh(root1 @ cov2 @ root1)
    diff = mean1 - mean2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2)
                 - 2 * np.sqrt(_rounding_clipped(inner)).sum())


def _rounding_clipped(eigenvalues: np.ndarray) -> np.ndarray:
    """Eigenvalues of a positive semi-definite matrix with rounding's negatives set to 0."""
    tolerance = 1e-8 * max(float(np.abs(eigenvalues).max(initial=0.0)), 1e-300)
    if eigenvalues.min(initial=0.0) < -tolerance:
        raise ValueError(f"not a covariance: eigenvalue {eigenvalues.min():.3g}")
    return np.clip(eigenvalues, 0, None)


def histogram_entropy(counts: np.ndarray) -> float:
    """Entropy (nats) of the class distribution ``counts``; ln 10 when all digits are equal."""
    from scipy.special import xlogy

    p = counts / counts.sum()
    return abs(float(xlogy(p, p).sum()))  # every term is <= 0; abs also turns -0.0 into 0


def purity(predicted: np.ndarray, codes: np.ndarray, k: int = CLASSES,
           classes: int = CLASSES) -> dict[str, object]:
    """Purity of the samples drawn per code value (``k`` of them): the share of all samples
    that fall in their code's most common predicted class (each code weighted by its number
    of samples), the same share per code, and the code -> majority-class mapping."""
    shares, mapping, in_majority = [], {}, 0
    for code in range(k):
        counts = np.bincount(predicted[codes == code], minlength=classes)
        mapping[code] = int(counts.argmax())
        in_majority += int(counts.max())
        shares.append(float(counts.max() / max(counts.sum(), 1)))
    return {"cat_purity": in_majority / len(codes), "cat_purity_per_code": shares,
            "cat_purity_mapping": mapping}
