"""The stabilisation options: hinge loss, R1 penalty, spectral norm, truncation."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

import programs
from paddle_gan import latent
from paddle_gan.nn import losses
from paddle_gan.cli import UserError
from paddle_gan.static.graph import new_step
from paddle_gan.nn.networks import mlp_discriminator
from paddle_gan.static.session import Session


def run_static(build, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Build a Program with ``build`` (returns the values to fetch) and run it once."""
    startup = paddle.static.Program()
    with new_step(startup) as step:
        fetch = build(step)
    exe, scope = paddle.static.Executor(paddle.CPUPlace()), paddle.static.Scope()
    exe.run(startup, scope=scope)
    return exe.run(step.program, feed=feed, fetch_list=fetch, scope=scope)


def test_hinge_losses_on_hand_made_logits():
    real = np.array([[2.0], [-0.5], [0.3], [1.0]], np.float32)
    fake = np.array([[-2.0], [0.5], [-0.7], [-1.0]], np.float32)

    def build(step):
        r, f = step.data("r", [None, 1]), step.data("f", [None, 1])
        return [losses.d_loss(r, f, "hinge"), losses.g_loss(f, "hinge")]

    d, g = run_static(build, {"r": real, "f": fake})
    # max(0, 1 - r): 0, 1.5, 0.7, 0; max(0, 1 + f): 0, 1.5, 0.3, 0; -f: 2, -0.5, 0.7, 1
    assert d == pytest.approx(2.2 / 4 + 1.8 / 4, rel=1e-6)
    assert g == pytest.approx(3.2 / 4, rel=1e-6)


def test_label_smoothing_moves_only_the_real_target():
    real = np.array([[2.0], [-0.5], [0.3]], np.float32)
    fake = np.array([[-2.0], [0.5], [-0.7]], np.float32)

    def build(step):
        r, f = step.data("r", [None, 1]), step.data("f", [None, 1])
        return [losses.d_loss(r, f, "bce", label_smoothing=0.1)]

    (d,) = run_static(build, {"r": real, "f": fake})
    def log_sigmoid(x):
        return -np.log1p(np.exp(-x.astype(np.float64)))

    real_term = -np.mean(0.9 * log_sigmoid(real) + 0.1 * log_sigmoid(-real))
    fake_term = -np.mean(log_sigmoid(-fake))
    assert d == pytest.approx(real_term + fake_term, rel=1e-6)
    with pytest.raises(UserError, match="applies to --loss bce only"):
        programs.model_config("gan", loss="hinge", label_smoothing=0.1)


class MlpD:
    """The MLP-GAN's D in one Program: logits and the R1 penalty of a fed batch, and the
    penalty's gradient w.r.t. one of D's weights (a second-order gradient)."""

    def __init__(self, gamma: float, weight: str = "D_fc2.w"):
        self.weight = weight
        self.startup = paddle.static.Program()
        with new_step(self.startup) as step:
            self.x = step.data("x", [None, 784])
            self.x.stop_gradient = False
            self.logits = mlp_discriminator(step.layers, self.x)
            self.penalty = losses.r1_penalty(self.x, self.logits, gamma)
            (self.w,) = [v for v in step.layers.trainable("D_") if v.name == weight]
            (self.dw,) = paddle.static.gradients([self.penalty], [self.w])
        self.program = step.program
        self.exe, self.scope = paddle.static.Executor(paddle.CPUPlace()), paddle.static.Scope()
        paddle.seed(1)
        self.exe.run(self.startup, scope=self.scope)

    def run(self, x: np.ndarray, fetch) -> list[np.ndarray]:
        return self.exe.run(self.program, feed={"x": x}, fetch_list=fetch, scope=self.scope)

    def set_w(self, value: np.ndarray) -> None:
        self.scope.find_var(self.weight).get_tensor().set(value, paddle.CPUPlace())


def test_r1_penalty_matches_finite_differences():
    gamma, eps = 10.0, 1e-3
    d = MlpD(gamma)
    x = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    (penalty,) = d.run(x, [d.penalty])
    squared_norms = []
    for sample in x:  # D is row-wise, so one batch holds every +-eps copy of one sample
        plus = sample + eps * np.eye(784, dtype=np.float32)
        minus = sample - eps * np.eye(784, dtype=np.float32)
        (logits,) = d.run(np.concatenate([plus, minus]), [d.logits])
        grad = (logits[:784, 0].astype(np.float64) - logits[784:, 0]) / (2 * eps)
        squared_norms.append(np.sum(grad ** 2))
    assert penalty == pytest.approx(gamma / 2 * np.mean(squared_norms), rel=2e-3)


def test_r1_penalty_gradient_for_d_matches_finite_differences():
    """What training uses: d(penalty)/d(weights), a gradient of a gradient. The penalty is
    exactly quadratic in D's last weight, so central differences are exact up to rounding."""
    d = MlpD(gamma=10.0)
    x = np.random.default_rng(1).random((8, 784), dtype=np.float32)
    w = np.array(d.scope.find_var("D_fc2.w").get_tensor())
    (dw,) = d.run(x, [d.dw])
    direction = np.random.default_rng(2).standard_normal(w.shape).astype(np.float32)
    eps = 1e-2
    values = []
    for sign in (1, -1):
        d.set_w(w + sign * eps * direction)
        values.append(float(d.run(x, [d.penalty])[0]))
    numeric = (values[0] - values[1]) / (2 * eps)
    assert float(np.sum(dw * direction)) == pytest.approx(numeric, rel=2e-3)


def test_spectral_norm_converges_to_the_largest_singular_value():
    """Power iteration, one step per run: after enough runs, W / sigma has spectral norm 1 and
    sigma is numpy's largest singular value, for an FC weight and a conv weight."""
    startup = paddle.static.Program()
    with new_step(startup, update_stats=("D_",), spectral_norm=("D_",)) as step:
        x = step.data("x", [None, 1, 28, 28])
        with step.layers.prefix("D_"):
            conv = step.layers.conv2d("conv", x, 8, 4, 2, 1, paddle.nn.initializer.Normal(0, 1))
            step.layers.linear("fc", paddle.reshape(conv, [-1, 8 * 14 * 14]), 16)
        fetch = [step.layers._normalized["D_conv"], step.layers._normalized["D_fc"]]
    exe, scope = paddle.static.Executor(paddle.CPUPlace()), paddle.static.Scope()
    exe.run(startup, scope=scope)
    feed = {"x": np.zeros((1, 1, 28, 28), np.float32)}
    for _ in range(400):  # power iteration converges as (sigma2 / sigma1)^(2 runs)
        normalized = exe.run(step.program, feed=feed, fetch_list=fetch, scope=scope)
    for name, w_sn in zip(("D_conv.w", "D_fc.w"), normalized):
        w = np.array(scope.find_var(name).get_tensor())
        sigma = np.linalg.svd(w.reshape(w.shape[0], -1), compute_uv=False)[0]
        np.testing.assert_allclose(w / sigma, w_sn, rtol=1e-4, atol=1e-7, err_msg=name)
        assert np.linalg.svd(w_sn.reshape(w.shape[0], -1), compute_uv=False)[0] == \
            pytest.approx(1.0, rel=1e-4)


def test_only_the_d_step_moves_the_spectral_norm_vectors():
    session = programs.new_session(programs.model_config("infogan", spectral_norm=True), paddle.CPUPlace(), seed=0)
    u_names = [n for n in session.programs.parameter_names() if n.endswith(".u")]
    assert sorted(u_names) == ["D_conv1.u", "D_conv2.u", "D_fc3.u", "D_out.u"]
    rng = np.random.default_rng(0)
    real, z = rng.random((8, 784), dtype=np.float32), latent.Codes().sample(rng, 8)
    before = session.read(u_names)
    session.run("d_step", {"real": real, "z": z})
    after_d = session.read(u_names)
    session.run("g_step", {"z": z})
    session.run("encode", {"real": real})
    after_g = session.read(u_names)
    for name in u_names:
        assert not np.allclose(before[name], after_d[name]), name
        np.testing.assert_array_equal(after_d[name], after_g[name], err_msg=name)


def test_truncation_redraws_exactly_the_out_of_range_noise():
    rng = np.random.default_rng(3)
    z = latent.Codes().sample(rng, 64)
    cut = latent.truncate(np.random.default_rng(4), z, latent.NOISE, 0.5)
    noise, new = z[:, latent.NOISE], cut[:, latent.NOISE]
    inside = np.abs(noise) <= 0.5
    assert 0.3 < inside.mean() < 0.7  # both kinds present
    np.testing.assert_array_equal(new[inside], noise[inside])
    assert np.all(new[~inside] != noise[~inside]) and np.all(np.abs(new) <= 0.5)
    np.testing.assert_array_equal(cut[:, latent.NOISE_DIM:], z[:, latent.NOISE_DIM:])  # codes kept
    np.testing.assert_array_equal(latent.truncate(rng, z, latent.NOISE, 1.0), z)


def test_truncation_keeps_shared_noise_shared():
    grid = latent.Codes().traversal_grid(np.random.default_rng(5), code=0)  # one noise row for all
    cut = latent.truncate(np.random.default_rng(6), grid, latent.NOISE, 0.3)
    assert np.all(cut[:, latent.NOISE] == cut[0, latent.NOISE])
    assert np.all(np.abs(cut[:, latent.NOISE]) <= 0.3)


@pytest.mark.slow
def test_infogan_trains_with_every_option_on_both_kernel_sets():
    """Hinge + R1 (second-order gradients through conv and batch norm) + spectral norm on
    InfoGAN; the oneDNN convolutions agree with the native ones on the first D step."""
    config = programs.model_config("infogan", loss="hinge", r1_gamma=10.0, spectral_norm=True)
    rng = np.random.default_rng(7)
    real, z = rng.random((8, 784), dtype=np.float32), latent.Codes().sample(rng, 8)
    first = []
    for onednn_conv in (False, True):
        session = Session(programs.build(config, onednn_convolutions=onednn_conv),
                          paddle.CPUPlace(), seed=2)
        logged = session.programs.logged
        for step in range(2):
            d = session.run("d_step", {"real": real, "z": z}, logged["d_step"])
            g = session.run("g_step", {"z": z}, logged["g_step"])
            assert all(np.isfinite(v) for v in [*d.values(), *g.values()])
            if step == 0:
                first.append([d["d_loss"], d["r1"]])
        assert d["r1"] > 0
    np.testing.assert_allclose(first[1], first[0], rtol=1e-4)


def test_r1_second_order_gradient_through_the_relu_layer_matches_numpy():
    """d(penalty)/d(first-layer weight), where finite differences fail (the penalty jumps
    when a ReLU changes side), against the closed form: for D(x) = w2 . relu(x W1 + b1) + b2,
    grad_x D = W1 (m * w2) with m the ReLU mask, so d/dW1 of (gamma / 2) mean ||grad_x D||^2
    is (gamma / n) sum_i grad_x D_i (m_i * w2)^T."""
    gamma = 10.0
    d = MlpD(gamma, weight="D_fc1.w")
    x = np.random.default_rng(1).random((8, 784), dtype=np.float32)
    (dw1,) = d.run(x, [d.dw])
    p = {n: np.array(d.scope.find_var(n).get_tensor()).astype(np.float64)
         for n in ("D_fc1.w", "D_fc1.b", "D_fc2.w")}
    mask = (x @ p["D_fc1.w"] + p["D_fc1.b"] > 0).astype(np.float64)  # [n, 256]
    masked_w2 = mask * p["D_fc2.w"][:, 0]                              # [n, 256]
    grad_x = masked_w2 @ p["D_fc1.w"].T                                # [n, 784]
    expected = gamma / len(x) * grad_x.T @ masked_w2                   # [784, 256]
    np.testing.assert_allclose(dw1, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize("shape", [(16, 6), (8, 5, 3, 3)])
def test_elementary_batch_norm_equals_paddles(shape):
    """The R1 D step's batch norm (elementary ops, fast second derivatives) against
    F.batch_norm: output, gradients, and the running statistics it leaves."""
    x = np.random.default_rng(8).normal(1.0, 2.0, shape).astype(np.float32)
    results = []
    for second_order in (False, True):
        startup = paddle.static.Program()
        with new_step(startup, update_stats=("D_",), second_order=second_order) as step:
            v = step.data("x", list(shape))
            v.stop_gradient = False
            with step.layers.prefix("D_"):
                y = step.layers.batch_norm("bn", v)
            gamma = step.layers.trainable("D_")[0]
            size = int(np.prod(shape))
            weights = paddle.reshape(paddle.arange(size, dtype="float32"), list(shape)) / size
            grads = paddle.static.gradients([paddle.sum(y * y * weights)], [v, gamma])
        exe, scope = paddle.static.Executor(paddle.CPUPlace()), paddle.static.Scope()
        exe.run(startup, scope=scope)
        values = exe.run(step.program, feed={"x": x}, fetch_list=[y, *grads], scope=scope)
        stats = [np.array(scope.find_var(f"D_bn.{s}").get_tensor()) for s in ("mean", "var")]
        results.append(values + stats)
    for native, elementary in zip(*results):
        np.testing.assert_allclose(elementary, native, rtol=1e-4, atol=1e-5)
