"""The point of the design: separate Programs share each parameter by name, exactly once.

Each check here fails on a naive Paddle 3.x port (see paddle_gan/static/layers.py): auto-named layers
give D(real) and D(fake) different weights, and a name created twice gets two Adam updates.
"""
from __future__ import annotations

import numpy as np
import paddle
import pytest

import programs
from paddle_gan.static.session import Session

EXPECTED_GAN_PARAMS = {
    "D_fc1.w": (784, 256), "D_fc1.b": (256,), "D_fc2.w": (256, 1), "D_fc2.b": (1,),
    "G_fc1.w": (100, 256), "G_fc1.b": (256,), "G_fc2.w": (256, 784), "G_fc2.b": (784,),
}
BATCH = 16


@pytest.fixture
def gan():
    # the article's losses, which the numpy reference computes; R1 (the model's default) has
    # its own references in test_stabilisation.py
    model = programs.build(programs.model_config("gan", r1_gamma=0.0))
    return Session(model, paddle.CPUPlace(), seed=1)


def batch(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = rng.random((BATCH, 784), dtype=np.float32)
    z = rng.uniform(-1, 1, (BATCH, 100)).astype(np.float32)
    return real, z


def params_with(session: Session, prefix: str) -> dict[str, np.ndarray]:
    return session.read([n for n in session.programs.parameter_names() if n.startswith(prefix)])


def test_every_parameter_exists_once_with_its_global_name(gan):
    assert {n: tuple(v.shape) for n, v in gan.read(gan.programs.parameter_names()).items()} \
        == EXPECTED_GAN_PARAMS
    for role, step in gan.programs.steps.items():
        names = [p.name for p in step.program.global_block().all_parameters()]
        assert len(names) == len(set(names)), f"{role} holds a parameter twice: {sorted(names)}"
        assert set(names) <= set(EXPECTED_GAN_PARAMS), role
    opt_state = [n for n in gan.programs.persistable_names() if n not in EXPECTED_GAN_PARAMS]
    moments = [n for n in opt_state if "moment1" in n]
    assert sorted(m.split("_moment1")[0] for m in moments) == sorted(EXPECTED_GAN_PARAMS), \
        "each parameter needs exactly one Adam first moment"


def test_d_on_real_and_on_fake_share_weights(gan):
    """Feed G(z) as the real batch: D's two branches must then see identical inputs and agree."""
    _, z = batch(0)
    images = gan.run("infer", {"z": z}, ("images",))["images"]
    out = gan.run("d_step", {"real": images, "z": z}, ("real_logits", "fake_logits"))
    np.testing.assert_array_equal(out["real_logits"], out["fake_logits"])
    assert np.ptp(out["real_logits"]) > 0  # a non-degenerate D, so equality means something


def test_each_step_updates_only_its_own_network(gan):
    real, z = batch(1)
    g0, d0 = params_with(gan, "G_"), params_with(gan, "D_")
    gan.run("d_step", {"real": real, "z": z})
    g1, d1 = params_with(gan, "G_"), params_with(gan, "D_")
    assert all(np.array_equal(g0[n], g1[n]) for n in g0), "the D step moved G"
    assert all(not np.array_equal(d0[n], d1[n]) for n in d0), "the D step left a D weight alone"
    gan.run("g_step", {"z": z})
    g2, d2 = params_with(gan, "G_"), params_with(gan, "D_")
    assert all(np.array_equal(d1[n], d2[n]) for n in d1), "the G step moved D"
    assert all(not np.array_equal(g1[n], g2[n]) for n in g1), "the G step left a G weight alone"


def test_inference_reproduces_the_training_generator(gan):
    _, z = batch(2)
    inferred = gan.run("infer", {"z": z}, ("images",))["images"]
    trained = gan.run("g_step", {"z": z}, ("fake",))["fake"]  # G's output before its update
    np.testing.assert_array_equal(trained, inferred)
    moved = gan.run("infer", {"z": z}, ("images",))["images"]
    assert not np.array_equal(moved, inferred), "inference must see the G step's update"


# ---- independent numpy reference of one training iteration (float64) ----

def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0.0, x)


def d_forward(p, x):
    h = x @ p["D_fc1.w"] + p["D_fc1.b"]
    a = np.maximum(h, 0.0)
    return a @ p["D_fc2.w"] + p["D_fc2.b"], (x, h, a)


def d_backward(p, cache, dlogits, grads):
    """Accumulate D's parameter gradients into ``grads``; return dL/dx."""
    x, h, a = cache
    grads["D_fc2.w"] = grads.get("D_fc2.w", 0) + a.T @ dlogits
    grads["D_fc2.b"] = grads.get("D_fc2.b", 0) + dlogits.sum(0)
    dh = (dlogits @ p["D_fc2.w"].T) * (h > 0)
    grads["D_fc1.w"] = grads.get("D_fc1.w", 0) + x.T @ dh
    grads["D_fc1.b"] = grads.get("D_fc1.b", 0) + dh.sum(0)
    return dh @ p["D_fc1.w"].T


def g_forward(p, z):
    h = z @ p["G_fc1.w"] + p["G_fc1.b"]
    a = np.maximum(h, 0.0)
    return sigmoid(a @ p["G_fc2.w"] + p["G_fc2.b"]), (z, h, a)


def adam(p, grads, state, t, lr, beta1, beta2=0.999, eps=1e-8):
    for n, g in grads.items():
        m = state[n + ".m"] = beta1 * state.get(n + ".m", 0) + (1 - beta1) * g
        v = state[n + ".v"] = beta2 * state.get(n + ".v", 0) + (1 - beta2) * g * g
        p[n] = p[n] - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)


def reference_iteration(p, state, t, real, z, lr, beta1):
    """One D step then one G step of the article's MLP-GAN, by hand; returns the two losses."""
    n = len(real)
    fake, _ = g_forward(p, z)
    lr_real, c_real = d_forward(p, real)
    lr_fake, c_fake = d_forward(p, fake)
    d_loss = softplus(-lr_real).mean() + softplus(lr_fake).mean()
    grads: dict[str, np.ndarray] = {}
    d_backward(p, c_real, (sigmoid(lr_real) - 1) / n, grads)
    d_backward(p, c_fake, sigmoid(lr_fake) / n, grads)
    adam(p, grads, state, t, lr, beta1)

    fake, (z, gh, ga) = g_forward(p, z)
    logits, cache = d_forward(p, fake)
    g_loss = softplus(-logits).mean()
    dx = d_backward(p, cache, (sigmoid(logits) - 1) / n, {})
    do = dx * fake * (1 - fake)
    dgh = (do @ p["G_fc2.w"].T) * (gh > 0)
    grads = {"G_fc2.w": ga.T @ do, "G_fc2.b": do.sum(0), "G_fc1.w": z.T @ dgh, "G_fc1.b": dgh.sum(0)}
    adam(p, grads, state, t, lr, beta1)
    return d_loss, g_loss


def test_training_iterations_match_an_independent_numpy_reference(gan):
    """Two D+G iterations from the same weights: every parameter within 1e-5 of the reference.

    With Adam's first step moving each weight by about lr (1e-3), a parameter updated twice
    per step, or a D that does not share weights between its branches, misses by far more.
    """
    names = gan.programs.parameter_names()
    ref = {n: v.astype(np.float64) for n, v in gan.read(names).items()}
    state: dict[str, np.ndarray] = {}
    config = gan.programs.config
    assert config.lr_g == config.lr_d
    for t in (1, 2):
        real, z = batch(10 + t)
        d = gan.run("d_step", {"real": real, "z": z}, ("d_loss",))["d_loss"]
        g = gan.run("g_step", {"z": z}, ("g_loss",))["g_loss"]
        ref_d, ref_g = reference_iteration(ref, state, t, real.astype(np.float64),
                                           z.astype(np.float64), config.lr_d, config.beta1)
        np.testing.assert_allclose([d, g], [ref_d, ref_g], rtol=1e-5, atol=1e-6)
    got = gan.read(names)
    for n in names:
        np.testing.assert_allclose(got[n], ref[n], atol=1e-5, rtol=0, err_msg=n)


def test_same_seed_same_initial_weights_and_different_seed_differs():
    model = programs.build(programs.model_config("gan"))
    a, b, c = (Session(model, paddle.CPUPlace(), seed=s) for s in (5, 5, 6))
    names = model.parameter_names()
    ra, rb, rc = a.read(names), b.read(names), c.read(names)
    assert all(np.array_equal(ra[n], rb[n]) for n in names)
    assert not np.array_equal(ra["D_fc1.w"], rc["D_fc1.w"])
