"""The terms that tie InfoGAN's c1 to the digits: the warp, Q's information on real images,
the consistency under warps and L_I on warped fakes, each against an independent numpy,
scipy or dygraph computation."""
from __future__ import annotations

import math

import numpy as np
import paddle
import pytest
from scipy import ndimage

import programs
from paddle_gan import latent
from paddle_gan.nn import losses
from paddle_gan.cli import UserError
from paddle_gan.nn.warp import DEGREES, SCALE, SHIFT, random_affine, warp
from test_infogan import reference_d

BATCH = 8


def scipy_warp(images: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """The same warps in pixel coordinates: F.affine_grid with align_corners False puts pixel
    centre i at (2i + 1) / 28 - 1, so input pixel = theta's linear part (output pixel - 13.5)
    + 14 * theta's shift + 13.5, in (x, y) = (column, row) order; bilinear, zero outside."""
    out = []
    for image, t in zip(images.reshape(-1, 28, 28), theta.astype(np.float64)):
        matrix = np.array([[t[1, 1], t[1, 0]], [t[0, 1], t[0, 0]]])  # (row, col) order
        centre = np.array([13.5, 13.5])
        offset = centre - matrix @ centre + 14 * np.array([t[1, 2], t[0, 2]])
        out.append(ndimage.affine_transform(image.astype(np.float64), matrix, offset, order=1,
                                            mode="grid-constant", cval=0.0))
    return np.stack(out)


def run_warp(images: np.ndarray, theta: np.ndarray) -> np.ndarray:
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        x = paddle.static.data("x", [None, 784], "float32")
        t = paddle.static.data("t", [None, 2, 3], "float32")
        y = warp(x, t)
    (out,) = paddle.static.Executor(paddle.CPUPlace()).run(main, feed={"x": images, "t": theta},
                                                           fetch_list=[y])
    return out


def test_warp_matches_scipy_and_the_identity_changes_nothing():
    paddle.enable_static()
    rng = np.random.default_rng(0)
    images = rng.random((6, 784), dtype=np.float32)
    theta = random_affine(rng, 6)
    np.testing.assert_allclose(run_warp(images, theta).reshape(6, 28, 28),
                               scipy_warp(images, theta), atol=1e-5)
    identity = np.tile(np.eye(2, 3, dtype=np.float32), (6, 1, 1))
    np.testing.assert_allclose(run_warp(images, identity).reshape(6, 784), images, atol=1e-5)


def test_random_affine_stays_within_its_ranges():
    theta = random_affine(np.random.default_rng(1), 5000).astype(np.float64)
    linear = theta[:, :, :2]
    scale = 1 / np.sqrt(np.linalg.det(linear))  # output -> input maps: 1 / the image's scale
    angle = np.degrees(np.arctan2(linear[:, 1, 0], linear[:, 0, 0]))
    shift = theta[:, :, 2] * 14  # in pixels
    assert 1 - SCALE <= scale.min() and scale.max() <= 1 + SCALE
    assert -DEGREES <= angle.min() and angle.max() <= DEGREES
    assert np.abs(shift).max() <= SHIFT and np.abs(shift).max() > 0.9 * SHIFT
    np.testing.assert_allclose(linear[:, 0, 0], linear[:, 1, 1])  # rotation and scale only


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(1, keepdims=True))


def numpy_real_mi(log_p: np.ndarray) -> float:
    from scipy.stats import entropy

    p = np.exp(log_p)
    return float(entropy(p.mean(0)) - np.mean([entropy(row) for row in p]))


def test_real_information_and_consistency_against_numpy():
    paddle.enable_static()
    rng = np.random.default_rng(2)
    logits, warped = rng.normal(size=(16, 10)) * 2, rng.normal(size=(16, 10)) * 2
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        a = paddle.static.data("a", [None, 10], "float32")
        b = paddle.static.data("b", [None, 10], "float32")
        conditional, marginal = losses.real_information(a)
        kl = losses.consistency(a, b)
    got = paddle.static.Executor(paddle.CPUPlace()).run(
        main, feed={"a": log_softmax(logits).astype(np.float32),
                    "b": log_softmax(warped).astype(np.float32)},
        fetch_list=[conditional, marginal, kl])
    assert float(got[1] - got[0]) == pytest.approx(numpy_real_mi(log_softmax(logits)), abs=1e-5)
    p = np.exp(log_softmax(logits))
    expected_kl = np.mean(np.sum(p * (log_softmax(logits) - log_softmax(warped)), axis=1))
    assert float(got[2]) == pytest.approx(expected_kl, abs=1e-5)


@pytest.mark.slow
def test_the_d_step_terms_equal_a_dygraph_trunk_and_q_on_scipy_warped_images():
    config = programs.model_config("infogan", lambda_real_mi=1.0, lambda_consistency=1.0,
                                   lambda_warped_fakes=1.0)
    session = programs.new_session(config, paddle.CPUPlace(), seed=4)
    assert set(session.programs.drawn_feeds) == {"d_step", "g_step"}
    rng = np.random.default_rng(3)
    real = rng.random((BATCH, 784), dtype=np.float32)
    z = latent.Codes().sample(rng, BATCH)
    theta = random_affine(rng, BATCH)
    params = session.read(session.programs.parameter_names())
    out = session.run("d_step", {"real": real, "z": z, "theta": theta},
                      ("real_mi", "consistency", "warped_li_cat", "fake"))
    fake = out["fake"].reshape(BATCH, 784)
    paddle.disable_static()
    try:  # training-mode BN, each call normalising its own batch, as in the D step
        real_q = reference_d(params, real, 0.1, training=True)[:, :10]
        warped_q = reference_d(params, scipy_warp(real, theta).reshape(BATCH, 784)
                               .astype(np.float32), 0.1, training=True)[:, :10]
        warped_fake_q = reference_d(params, scipy_warp(fake, theta).reshape(BATCH, 784)
                                    .astype(np.float32), 0.1, training=True)[:, :10]
    finally:
        paddle.enable_static()
    log_p, log_warped = log_softmax(real_q), log_softmax(warped_q)
    assert float(out["real_mi"]) == pytest.approx(numpy_real_mi(log_p), abs=1e-4)
    kl = np.mean(np.sum(np.exp(log_p) * (log_p - log_warped), axis=1))
    assert float(out["consistency"]) == pytest.approx(kl, abs=1e-4)
    cross_entropy = -log_softmax(warped_fake_q)[np.arange(BATCH), z[:, latent.Codes().cat].argmax(1)].mean()
    assert float(out["warped_li_cat"]) == pytest.approx(math.log(10) - cross_entropy, abs=1e-4)


def after_one_step(config, role: str) -> dict[str, np.ndarray]:
    """Every parameter and statistic of the ``role`` Program after one run from a fixed start
    (Adam's first step moves each element by the learning rate times the gradient's sign, so
    a term shows where it flips a sign)."""
    session = programs.new_session(config, paddle.CPUPlace(), seed=6)
    names = session.programs.steps[role].layers.names
    rng = np.random.default_rng(8)
    feed = {"real": rng.random((BATCH, 784), dtype=np.float32), "z": latent.Codes().sample(rng, BATCH),
            "theta": random_affine(rng, BATCH)}
    step_feeds = session.programs.steps[role].feeds
    session.run(role, {k: v for k, v in feed.items() if k in step_feeds})
    return session.read(names)


def differing(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> set[str]:
    return {name for name in a if not np.array_equal(a[name], b[name])}


@pytest.mark.slow
@pytest.mark.parametrize("term", ["lambda_real_mi", "lambda_consistency", "lambda_warped_fakes"])
def test_each_term_reaches_d_trunk_and_q_in_the_d_step(term):
    """Against the same step without the term: D's trunk and Q move differently, G not at all;
    D's real/fake head only through the shared trunk's batch statistics, never its weights."""
    plain = after_one_step(programs.model_config("infogan"), "d_step")
    with_term = after_one_step(programs.model_config("infogan", **{term: 1.0}), "d_step")
    changed = differing(plain, with_term)
    assert any(n.startswith("D_conv") for n in changed) and any(n.startswith("Q_") for n in changed)
    assert not any(n.startswith("G_") for n in changed)
    assert "D_out.w" not in changed and "D_out.b" not in changed


@pytest.mark.slow
def test_warped_fakes_reach_g_in_the_g_step_and_real_terms_need_q_in_the_d_step():
    plain = after_one_step(programs.model_config("infogan"), "g_step")
    warped = after_one_step(programs.model_config("infogan", lambda_warped_fakes=1.0), "g_step")
    changed = differing(plain, warped)
    assert changed and all(n.startswith("G_") for n in changed)
    for term in ("lambda_real_mi", "lambda_consistency"):
        with pytest.raises(UserError, match="use them with --q-step d"):
            programs.model_config("infogan", q_step="g", **{term: 1.0})


@pytest.mark.parametrize("term, warped", [("lambda_real_mi", False), ("lambda_consistency", True),
                                          ("lambda_warped_fakes", True)])
def test_warps_are_fed_and_drawn_only_for_the_terms_that_use_them(term, warped):
    model = programs.build(programs.model_config("infogan", **{term: 1.0}))
    fed = {role for role in ("d_step", "g_step") if "theta" in model.steps[role].feeds}
    drawn = {role for role, feeds in model.drawn_feeds.items() if "theta" in feeds}
    assert fed == drawn
    assert ("d_step" in fed) == warped
    assert ("g_step" in fed) == (term == "lambda_warped_fakes")
