"""Evaluation metrics against hand-made cases and analytic values; the evaluator's cache."""
from __future__ import annotations

import math

import numpy as np
import paddle
import pytest

from conftest import write_mnist
from paddle_gan.evaluation import evaluator as evaluator_module
from paddle_gan.data import load_dataset
from paddle_gan.evaluation.evaluator import load_or_train
from paddle_gan.evaluation.metrics import (FeatureStats, categorical_accuracy,
                                           code_information, frechet_distance,
                                           histogram_entropy, inception_score_log, purity)


def test_inception_score_of_hand_made_tables():
    assert inception_score_log(np.full((50, 10), 0.1)) == pytest.approx(0.0, abs=1e-12)
    one_hot = np.eye(10)[np.arange(100) % 10]  # confident and evenly spread
    assert inception_score_log(one_hot) == pytest.approx(math.log(10))
    assert inception_score_log(np.eye(10)[np.zeros(30, int)]) == pytest.approx(0.0, abs=1e-12)


def test_inception_score_equals_mean_kl_computed_directly():
    probs = np.random.default_rng(0).dirichlet(np.full(10, 0.3), size=200)
    p_y = probs.mean(0)
    kl = [sum(p[i] * math.log(p[i] / p_y[i]) for i in range(10) if p[i] > 0) for p in probs]
    assert inception_score_log(probs) == pytest.approx(np.mean(kl), rel=1e-10)


def test_feature_stats_match_numpy_when_fed_in_chunks():
    x = np.random.default_rng(1).normal(size=(301, 6)) @ np.diag([1, 2, 3, 4, 5, 6])
    stats = FeatureStats(6)
    for chunk in np.array_split(x, 7):
        stats.add(chunk.astype(np.float32))
    mean, cov = stats.mean_cov()
    np.testing.assert_allclose(mean, x.mean(0), atol=1e-5)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False), rtol=1e-5, atol=1e-5)


def test_frechet_distance_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(2).normal(size=(500, 8))
    x[:, 3] = 0  # a dead feature: singular covariance, as ReLU features give
    stats = FeatureStats(8)
    stats.add(x)
    assert frechet_distance(*stats.mean_cov(), *stats.mean_cov()) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(3)
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    # diagonal covariances: ||m1 - m2||^2 + sum (s1 - s2)^2, s the standard deviations
    expected = np.sum((m1 - m2) ** 2) + np.sum((s1 - s2) ** 2)
    assert frechet_distance(m1, np.diag(s1 ** 2), m2, np.diag(s2 ** 2)) == pytest.approx(expected)
    # equal full covariances: only the means count
    a = rng.normal(size=(5, 5))
    cov = a @ a.T + np.eye(5)
    assert frechet_distance(m1, cov, m2, cov) == pytest.approx(np.sum((m1 - m2) ** 2), abs=1e-8)
    # a rotated pair: C2 = R C1 R^T has the same spectrum; check against scipy's sqrtm
    from scipy.linalg import sqrtm

    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    cov2 = q @ cov @ q.T
    reference = np.sum((m1 - m2) ** 2) + np.trace(cov + cov2 - 2 * sqrtm(cov @ cov2).real)
    assert frechet_distance(m1, cov, m2, cov2) == pytest.approx(reference, rel=1e-8)


def test_histogram_entropy_and_purity_on_synthetic_labels():
    assert histogram_entropy(np.full(10, 7)) == pytest.approx(math.log(10))
    one_class = histogram_entropy(np.array([5, 0, 0]))
    assert one_class == 0 and math.copysign(1, one_class) == 1  # 0, not -0.0
    codes = np.repeat(np.arange(10), 10)
    predicted = (codes + 3) % 10  # code c always drawn as digit c + 3
    predicted[:4] = 9  # four of code 0's ten samples drawn as 9 instead of 3
    result = purity(predicted, codes)
    assert result["cat_purity_per_code"][0] == pytest.approx(0.6)
    assert result["cat_purity"] == pytest.approx(96 / 100)
    assert result["cat_purity_mapping"] == {c: (c + 3) % 10 for c in range(10)}
    unequal = purity(np.array([0, 0, 0, 0, 1, 1]), np.array([0, 0, 0, 1, 1, 2]))
    # code 0: 3 of 3 in class 0; code 1: 1 of 2; code 2: 1 of 1 -> 5 of 6 samples
    assert unequal["cat_purity"] == pytest.approx(5 / 6)


def test_more_codes_than_digits_one_to_one_and_many_to_one():
    """20 codes, each digit split over two of them: one-to-one matching can credit only one
    code per digit, reading each code as its majority digit credits both."""
    from paddle_gan.evaluation.metrics import hungarian_accuracy, many_to_one_accuracy

    labels = np.repeat(np.arange(10), 20)
    codes = labels * 2 + np.tile(np.repeat([0, 1], 10), 10)  # digit d -> codes 2d and 2d + 1
    codes[0] = 1  # one image of digit 0 in code 1: still digit 0's code
    accuracy, mapping = hungarian_accuracy(codes, labels, codes=20)
    assert accuracy == pytest.approx(101 / 200) and len(mapping) == 10
    assert many_to_one_accuracy(codes, labels, codes=20) == pytest.approx(1.0)
    codes[1] = 3  # an image of digit 0 in digit 1's code 3
    assert many_to_one_accuracy(codes, labels, codes=20) == pytest.approx(199 / 200)
    assert purity(labels, codes, k=20)["cat_purity"] == pytest.approx(199 / 200)


def test_counts_refuse_ids_out_of_range_instead_of_wrapping():
    from paddle_gan.evaluation.metrics import code_label_counts, hungarian_accuracy

    with pytest.raises(ValueError, match="codes must be in 0..9"):
        code_label_counts(np.array([0, -1]), np.array([0, 1]))
    with pytest.raises(ValueError, match="labels must be in 0..9"):
        hungarian_accuracy(np.array([0, 1]), np.array([0, 10]))


def test_scores_are_float64_and_a_non_covariance_is_refused():
    rows = np.random.default_rng(4).dirichlet(np.full(10, 0.5), size=1000).astype(np.float32)
    reference = inception_score_log(rows.astype(np.float64))
    assert inception_score_log(rows) == reference  # computed in float64 either way
    identical = np.tile(rows[:1], (500, 1))
    assert math.exp(inception_score_log(identical)) >= 1.0
    with pytest.raises(ValueError, match="not a covariance"):
        frechet_distance(np.zeros(2), np.diag([1.0, -0.5]), np.zeros(2), np.eye(2))


def test_code_information_against_scipy_and_its_bounds():
    from scipy.stats import entropy

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(10, 0.3), size=200)
    reference = entropy(probs.mean(axis=0)) - np.mean([entropy(p) for p in probs])
    assert code_information(probs) == pytest.approx(reference, rel=1e-9)
    assert code_information(np.eye(10)[np.arange(50) % 10]) == pytest.approx(math.log(10))
    assert code_information(np.tile(probs[:1], (30, 1))) == pytest.approx(0.0, abs=1e-12)


def test_categorical_accuracy_scores_q_posteriors_not_their_argmax():
    """cat_real_mi must see Q's probabilities: with the argmax one-hots it would be ln 10 here."""
    from scipy.stats import entropy

    rng = np.random.default_rng(1)
    labels = np.arange(100) % 10
    probs = rng.dirichlet(np.full(10, 0.5), size=100)
    probs[np.arange(100), (labels + 1) % 10] += 2  # code = label + 1: accuracy 1 after matching
    probs /= probs.sum(axis=1, keepdims=True)

    result = categorical_accuracy(probs, labels)
    reference = entropy(probs.mean(axis=0)) - np.mean([entropy(p) for p in probs])
    assert result["cat_real_mi"] == pytest.approx(reference, rel=1e-9)
    assert reference < math.log(10) - 0.1
    assert result["cat_accuracy"] == 1.0
    assert result["cat_mapping"] == {c: (c - 1) % 10 for c in range(10)}


@pytest.fixture
def small_mnist(tmp_path):
    directory = write_mnist(tmp_path / "mnist", n_train=256, n_test=64)
    return load_dataset(directory, "train", verify=False), load_dataset(directory, "test", verify=False)


def test_evaluator_trains_caches_and_reuses(small_mnist, tmp_path, monkeypatch):
    train, test = small_mnist
    cache = tmp_path / "cache"
    first = load_or_train(*train, *test, cache, paddle.CPUPlace(), epochs=1)
    assert evaluator_module.cache_files(cache, "mnist")[0].is_file()
    probs, features = first.predict(test[0])
    assert first.test_accuracy == pytest.approx((probs.argmax(1) == test[1]).mean())
    assert probs.shape == (64, 10) and features.shape == (64, evaluator_module.FEATURES)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)

    def no_training(*args, **kwargs):
        raise AssertionError("the cached evaluator was retrained")

    monkeypatch.setattr(evaluator_module, "Batches", no_training)
    second = load_or_train(*train, *test, cache, paddle.CPUPlace(), epochs=1)
    assert second.test_accuracy == first.test_accuracy
    np.testing.assert_array_equal(second.predict(test[0])[0], probs)
    with pytest.raises(AssertionError, match="retrained"):  # other data: no reuse
        load_or_train(train[0][:128], train[1][:128], *test, cache, paddle.CPUPlace(), epochs=1)
    with pytest.raises(AssertionError, match="retrained"):  # --retrain
        load_or_train(*train, *test, cache, paddle.CPUPlace(), retrain=True, epochs=1)


def test_a_damaged_evaluator_cache_is_retrained_not_a_traceback(small_mnist, tmp_path, capsys):
    train, test = small_mnist
    cache = tmp_path / "cache"
    load_or_train(*train, *test, cache, paddle.CPUPlace(), epochs=1)
    weights, _ = evaluator_module.cache_files(cache, "mnist")
    weights.write_bytes(weights.read_bytes()[:100])
    again = load_or_train(*train, *test, cache, paddle.CPUPlace(), epochs=1)
    assert "ignoring the damaged evaluator cache" in capsys.readouterr().err
    assert again.test_accuracy == pytest.approx((again.predict(test[0])[0].argmax(1) == test[1]).mean())
    assert weights.stat().st_size > 100


@pytest.mark.slow
def test_evaluation_is_deterministic_for_a_seed_and_has_every_metric(small_mnist, tmp_path):
    import programs
    from paddle_gan.evaluation.scoring import evaluate

    train, test = small_mnist
    evaluator = load_or_train(*train, *test, tmp_path / "cache", paddle.CPUPlace(), epochs=1)
    session = programs.new_session(programs.model_config("infogan"), paddle.CPUPlace(), seed=0)
    first = evaluate(session, evaluator, train, test, n=60, seed=5, batch_size=25)
    assert first == evaluate(session, evaluator, train, test, n=60, seed=5, batch_size=25)
    assert first != evaluate(session, evaluator, train, test, n=60, seed=6, batch_size=25)
    assert sum(first["class_histogram"]) == 60 and len(first["cat_purity_per_code"]) == 10
    assert math.exp(first["mnist_is_log"]) == pytest.approx(first["mnist_is"])
