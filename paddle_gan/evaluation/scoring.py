"""Every evaluation number of a model in a Session (``python evaluate.py`` runs it on a
checkpoint).

Scores come from a classifier trained on the generators' own training set (cached, see
:mod:`paddle_gan.evaluation.evaluator`), never from Inception-v3. Keys are named for that dataset:
``mnist_*`` for MNIST, ``fashion_mnist_*`` for Fashion-MNIST (read from the checkpoint):

- ``mnist_is_log``: mean KL(p(y|x) || p(y)) over all N generated samples at once, in nats
  (the mutual information I(y; x)); ``mnist_is`` is exp of it, at most 10.
- ``mnist_fid``: Fréchet distance between the classifier's 128 penultimate features of the
  generated samples and of the MNIST test set.
- ``class_histogram``: generated samples per predicted digit (mode coverage), and its entropy.
- InfoGAN: ``cat_accuracy``, Q's categorical head as a classifier of the test images with
  codes matched to classes by the Hungarian method (``cat_mapping``); ``cat_confusion``, test
  images per code (rows) and label; ``cat_real_mi``, Q's label-free estimate of I(c1; x) on
  the test images (``metrics.code_information``); ``cat_purity``, for each value of c1, the
  share of its samples the classifier puts in their majority class.
- ``reference``: the same numbers for real data (test-set IS; train-vs-test FID): the ceiling.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Iterator

import numpy as np

from paddle_gan import latent
from paddle_gan.cli import UserError
from paddle_gan.data import DATASETS
from paddle_gan.evaluation.evaluator import FEATURES, Evaluator
from paddle_gan.static.graph import Latent
from paddle_gan.evaluation.metrics import (CLASSES, FeatureStats, categorical_accuracy,
                                           frechet_distance, histogram_entropy,
                                           inception_score_log, purity)
from paddle_gan.static.session import Session

Generator = Callable[[np.ndarray], np.ndarray]  # z -> images


def describe(evaluator: Evaluator, batches: Iterable[np.ndarray]) -> tuple[np.ndarray, FeatureStats]:
    """Class probabilities of every image and running feature statistics, batch by batch."""
    probs, stats = [], FeatureStats(FEATURES)
    for images in batches:
        p, features = evaluator.predict(images)
        probs.append(p)
        stats.add(features)
    return np.concatenate(probs), stats


def scores(probs: np.ndarray, prefix: str) -> dict[str, object]:
    is_log = inception_score_log(probs)
    histogram = np.bincount(probs.argmax(axis=1), minlength=CLASSES)
    return {f"{prefix}_is_log": is_log, f"{prefix}_is": math.exp(is_log),
            "class_histogram": histogram.tolist(), "class_entropy": histogram_entropy(histogram)}


def generated(generator: Generator, model_latent: Latent, n: int, batch_size: int,
              rng: np.random.Generator, truncation: float = 1.0, c1: int | None = None,
              categories: int = latent.CATEGORIES) -> Iterator[np.ndarray]:
    """``n`` samples, with the noise truncated below 1; with ``c1``, every sample's InfoGAN
    c1 (of ``categories`` values) is set to it."""
    for start in range(0, n, batch_size):
        z = model_latent.sample(rng, min(batch_size, n - start))
        if truncation < 1:
            z = latent.truncate(rng, z, model_latent.noise, truncation)
        if c1 is not None:
            z = latent.Codes(categories).with_category(z, c1)
        yield generator(z)


def inference_program(session: Session) -> Generator:
    """The session's inference Program as a generator: z -> images."""
    def generator(z: np.ndarray) -> np.ndarray:
        return session.programs.generate(session, z)
    return generator


def in_batches(images: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    return (images[i:i + batch_size] for i in range(0, len(images), batch_size))


def evaluate(session: Session, evaluator: Evaluator, train: tuple[np.ndarray, np.ndarray],
             test: tuple[np.ndarray, np.ndarray], n: int, seed: int, truncation: float = 1.0,
             batch_size: int = 500, dataset: str = "mnist",
             generator: Generator | None = None) -> dict[str, object]:
    """Every metric for the model in ``session``, plus the real-data reference; generated
    samples have their noise truncated at ``truncation`` when it is below 1. They come from
    ``generator`` (z -> images; e.g. an exported predictor of the same weights), else from the
    session's inference Program."""
    prefix = DATASETS[dataset].metric_prefix
    rng = np.random.default_rng(seed)
    model_latent = session.programs.latent
    if generator is None:
        generator = inference_program(session)
    test_probs, test_stats = describe(evaluator, in_batches(test[0], batch_size))
    _, train_stats = describe(evaluator, in_batches(train[0], batch_size))
    probs, stats = describe(evaluator, generated(generator, model_latent, n, batch_size, rng,
                                                    truncation))
    result = {"dataset": dataset, "samples": n, "seed": seed, "truncation": truncation,
              "evaluator_test_accuracy": evaluator.test_accuracy, **scores(probs, prefix),
              f"{prefix}_fid": frechet_distance(*stats.mean_cov(), *test_stats.mean_cov())}
    codes = session.programs.codes
    if codes is not None:
        test_images, test_labels = test
        result.update(categorical_accuracy(session.programs.code_posterior(session, test_images),
                                           test_labels))
        categories = codes.categories
        if n < categories:
            raise UserError(f"{n} samples cannot cover the {categories} values of c1; "
                            f"score at least {categories}")
        result["categories"] = categories
        per_code = n // categories
        drawn, predicted = [], []
        for c1 in range(categories):
            p, _ = describe(evaluator, generated(generator, model_latent, per_code, batch_size,
                                                   rng, truncation, c1, categories))
            drawn.append(np.full(len(p), c1))
            predicted.append(p.argmax(axis=1))
        result.update(purity(np.concatenate(predicted), np.concatenate(drawn), categories))
    reference = scores(test_probs, prefix)
    del reference["class_histogram"]
    train_vs_test = frechet_distance(*train_stats.mean_cov(), *test_stats.mean_cov())
    result["reference"] = {f"{prefix}_test": reference, f"{prefix}_train_vs_test_fid": train_vs_test}
    return result


def markdown(result: dict) -> str:
    """One table: the model's numbers beside the real-data ceiling."""
    dataset = DATASETS[result["dataset"]]
    p, name, ref = dataset.metric_prefix, dataset.title, result["reference"]
    test = ref[f"{p}_test"]
    rows = [(f"{name}-IS, log (nats; max ln 10 = 2.303)", f"{result[f'{p}_is_log']:.3f}",
             f"{test[f'{p}_is_log']:.3f} (test set)"),
            (f"{name}-IS (max 10)", f"{result[f'{p}_is']:.2f}", f"{test[f'{p}_is']:.2f} (test set)"),
            (f"FID-{name} vs test set (lower is better)", f"{result[f'{p}_fid']:.3f}",
             f"{ref[f'{p}_train_vs_test_fid']:.3f} (train set)"),
            ("class entropy (nats; max 2.303)", f"{result['class_entropy']:.3f}",
             f"{test['class_entropy']:.3f} (test set)")]
    if "cat_accuracy" in result:
        rows.append(("c1 accuracy on the test set (Hungarian)", f"{result['cat_accuracy']:.4f}", "1"))
    if "cat_accuracy_many_to_one" in result:
        rows.append(("c1 accuracy, each code read as its majority digit",
                     f"{result['cat_accuracy_many_to_one']:.4f}", "1"))
    if "cat_accuracy" in result:
        ceiling = f"ln {result['categories']} = {math.log(result['categories']):.3f}"
        rows.append((f"c1 information on the test images, label-free (nats; max {ceiling})",
                     f"{result['cat_real_mi']:.4f}", "-"))
        rows.append(("c1 purity of generated samples", f"{result['cat_purity']:.4f}", "1"))
    head = f"{result['model']} step {result['step']}"
    lines = [f"| metric | {head} | real {name} |", "|---|---|---|"]
    lines += [f"| {label} | {value} | {real} |" for label, value, real in rows]
    truncated = f", noise truncated at {result['truncation']}" if result["truncation"] < 1 else ""
    lines.append(f"\n{result['samples']} generated samples, seed {result['seed']}{truncated}; "
                 f"evaluator test accuracy {result['evaluator_test_accuracy']:.4f}.")
    if "cat_confusion" in result:
        lines += ["", "Test images per c1 code (rows) and label (columns); the code's match in bold:",
                  "", "| code | " + " | ".join(map(str, range(CLASSES))) + " |",
                  "|---" * (CLASSES + 1) + "|"]
        mapping = {int(c): label for c, label in result["cat_mapping"].items()}  # JSON: str keys
        for code, counts in enumerate(result["cat_confusion"]):
            cells = [f"**{n}**" if label == mapping.get(code) else str(n)
                     for label, n in enumerate(counts)]
            lines.append(f"| {code} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
