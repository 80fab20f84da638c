"""InfoGAN: Program shapes, sharing and BN-statistics isolation, L_I math, and the latent grids."""
from __future__ import annotations

import math

import numpy as np
import paddle
import pytest

import programs
from paddle_gan import latent
from paddle_gan.nn import losses
from paddle_gan.static.graph import new_step
from paddle_gan.evaluation.metrics import code_label_counts, hungarian_accuracy
from paddle_gan.nn.networks import infogan_generator, infogan_trunk
from paddle_gan.training.trainer import iteration
from programs.infogan import information, total

BATCH = 8


@pytest.fixture(scope="module")
def infogan():
    return programs.new_session(programs.model_config("infogan"), paddle.CPUPlace(), seed=3)


def inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((BATCH, 784), dtype=np.float32), latent.Codes().sample(rng, BATCH)


def test_every_program_output_has_its_shape(infogan):
    real, z = inputs(0)
    d = infogan.run("d_step", {"real": real, "z": z},
                    ("d_loss", "real_logits", "fake_logits", "li_cat", "cont_nll"))
    g = infogan.run("g_step", {"z": z}, ("g_loss", "fake"))
    i = infogan.run("infer", {"z": z}, ("images",))
    e = infogan.run("encode", {"real": real}, ("cat_probs", "cont_mean"))
    assert d["d_loss"].shape == () and d["real_logits"].shape == d["fake_logits"].shape == (BATCH, 1)
    assert g["fake"].shape == i["images"].shape == (BATCH, 1, 28, 28)
    assert d["li_cat"].shape == d["cont_nll"].shape == ()  # logged by the step that trains Q
    assert d["li_cat"] <= math.log(10) + 1e-5  # H(c1) - CE; CE >= 0, and it may exceed H(c1)
    assert e["cat_probs"].shape == (BATCH, 10) and e["cont_mean"].shape == (BATCH, 2)
    np.testing.assert_allclose(e["cat_probs"].sum(1), 1.0, rtol=1e-5)
    assert 0 <= i["images"].min() and i["images"].max() <= 1


def test_each_parameter_and_statistic_once_per_program(infogan):
    names = infogan.programs.parameter_names()
    stats = [n for n in names if n.endswith((".mean", ".var"))]
    assert {n.split("_")[0] for n in stats} == {"G", "D", "Q"}
    for role, step in infogan.programs.steps.items():
        in_program = [p.name for p in step.program.global_block().all_parameters()]
        assert len(in_program) == len(set(in_program)), role
    saved = infogan.read(names)
    assert sum(v.shape == (6272, 1024) for v in saved.values()) == 1  # D trunk FC
    assert sum(v.shape == (1024, 6272) for v in saved.values()) == 1  # G FC 7x7x128


def test_d_on_real_and_fake_share_weights(infogan):
    """Feed the D step's own G(z) as its real batch: with shared weights (and identical batch
    statistics) both branches must give the same logits. The D step never changes G."""
    real, z = inputs(1)
    fake = infogan.run("d_step", {"real": real, "z": z}, ("fake",))["fake"].reshape(BATCH, 784)
    out = infogan.run("d_step", {"real": fake, "z": z}, ("real_logits", "fake_logits"))
    np.testing.assert_allclose(out["real_logits"], out["fake_logits"], rtol=1e-5, atol=1e-6)
    assert np.ptp(out["real_logits"]) > 0


@pytest.mark.slow
@pytest.mark.parametrize("q_step, baseline", [("g", False), ("d", False), ("d", True)])
def test_steps_touch_only_their_own_parameters_and_statistics(infogan, q_step, baseline):
    """Q's head (weights and BN statistics) moves in the step --q-step names, and only there,
    also as the lambda = 0 baseline's observer."""
    if (q_step, baseline) != ("d", False):  # else the fixture: the default
        lambdas = dict(lambda_cat=0.0, lambda_cont=0.0) if baseline else {}
        infogan = programs.new_session(programs.model_config("infogan", q_step=q_step, **lambdas), paddle.CPUPlace(), seed=3)
    real, z = inputs(2)
    names = infogan.programs.parameter_names()
    by_net = {p: [n for n in names if n.startswith(p)] for p in ("G_", "D_", "Q_")}
    before = infogan.read(names)
    infogan.run("d_step", {"real": real, "z": z})
    after_d = infogan.read(names)
    infogan.run("g_step", {"z": z})
    after_g = infogan.read(names)
    infogan.run("infer", {"z": z})
    infogan.run("encode", {"real": real})
    after_eval = infogan.read(names)

    def changed(a, b, prefix):
        return {n for n in by_net[prefix] if not np.array_equal(a[n], b[n])}

    q_by_d = set(by_net["Q_"]) if q_step == "d" else set()
    assert not changed(before, after_d, "G_") and changed(before, after_d, "Q_") == q_by_d
    assert changed(before, after_d, "D_") == set(by_net["D_"])  # weights and D's BN statistics
    assert not changed(after_d, after_g, "D_"), "the G step moved D (weights or BN statistics)"
    assert changed(after_d, after_g, "G_") == set(by_net["G_"])
    assert changed(after_d, after_g, "Q_") == set(by_net["Q_"]) - q_by_d
    assert all(np.array_equal(after_g[n], after_eval[n]) for n in names), \
        "inference and encode must not move anything"


def dygraph_loaders(params: dict[str, np.ndarray]):
    """(bn, load): set a dygraph BN layer's or a weight layer's values to the session's."""
    def bn(layer, name):
        for attr, key in (("weight", "g"), ("bias", "b"), ("_mean", "mean"), ("_variance", "var")):
            getattr(layer, attr).set_value(params[f"{name}.{key}"])
        return layer

    def load(layer, name):
        layer.weight.set_value(params[f"{name}.w"])
        if layer.bias is not None:
            layer.bias.set_value(params[f"{name}.b"])
        return layer
    return bn, load


def reference_generator(params: dict[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    """InfoGAN G in Paddle dygraph (nn layers, eval-mode BN) with the session's weights."""
    import paddle.nn as nn

    bn, load = dygraph_loaders(params)
    net = nn.Sequential(load(nn.Linear(74, 1024, bias_attr=False), "G_fc1"), bn(nn.BatchNorm1D(1024), "G_bn1"), nn.ReLU(),
                        load(nn.Linear(1024, 6272, bias_attr=False), "G_fc2"), bn(nn.BatchNorm1D(6272), "G_bn2"), nn.ReLU(),
                        nn.Unflatten(1, [128, 7, 7]),
                        load(nn.Conv2DTranspose(128, 64, 4, 2, 1, bias_attr=False), "G_up1"),
                        bn(nn.BatchNorm2D(64), "G_bn3"), nn.ReLU(),
                        load(nn.Conv2DTranspose(64, 1, 4, 2, 1), "G_up2"), nn.Sigmoid())
    net.eval()
    return net(paddle.to_tensor(z)).numpy()


def test_inference_program_matches_a_dygraph_generator_with_running_statistics(infogan):
    real, z = inputs(3)
    for _ in range(3):  # move the BN running statistics away from their initial 0 / 1
        infogan.run("d_step", {"real": real, "z": z})
        infogan.run("g_step", {"z": z})
    params = infogan.read(infogan.programs.parameter_names())
    assert not np.allclose(params["G_bn1.mean"], 0)
    static = infogan.run("infer", {"z": z}, ("images",))["images"]
    paddle.disable_static()
    try:
        expected = reference_generator(params, z)
    finally:
        paddle.enable_static()
    np.testing.assert_allclose(static, expected, atol=1e-5)


def reference_d(params: dict[str, np.ndarray], x: np.ndarray, slope: float, head: str = "Q",
                training: bool = False) -> np.ndarray:
    """InfoGAN's D trunk and Q head (Q's 14 outputs) or D head (the logit) in Paddle dygraph
    with the session's weights; BN normalises with batch statistics when ``training``."""
    import paddle.nn as nn

    bn, load = dygraph_loaders(params)
    heads = {"Q": [load(nn.Linear(1024, 128, bias_attr=False), "Q_fc1"),
                   bn(nn.BatchNorm1D(128), "Q_bn1"), nn.LeakyReLU(slope),
                   load(nn.Linear(128, 14), "Q_out")],
             "D": [load(nn.Linear(1024, 1), "D_out")]}
    net = nn.Sequential(nn.Unflatten(1, [1, 28, 28]),
                        load(nn.Conv2D(1, 64, 4, 2, 1), "D_conv1"), nn.LeakyReLU(slope),
                        load(nn.Conv2D(64, 128, 4, 2, 1, bias_attr=False), "D_conv2"),
                        bn(nn.BatchNorm2D(128), "D_bn2"), nn.LeakyReLU(slope), nn.Flatten(),
                        load(nn.Linear(6272, 1024, bias_attr=False), "D_fc3"),
                        bn(nn.BatchNorm1D(1024), "D_bn3"), nn.LeakyReLU(slope), *heads[head])
    net.train() if training else net.eval()
    return net(paddle.to_tensor(x)).numpy()


@pytest.mark.parametrize("slope", [0.1, 0.01])
def test_encode_program_matches_a_dygraph_trunk_and_q_head(infogan, slope):
    """--leaky-slope reaches every leaky ReLU of D's trunk and Q (0.1 is the default)."""
    if slope != 0.1:
        infogan = programs.new_session(programs.model_config("infogan", leaky_slope=slope), paddle.CPUPlace(), seed=3)
    real, z = inputs(4)
    for _ in range(2):  # move the BN running statistics away from their initial 0 / 1
        infogan.run("d_step", {"real": real, "z": z})
        infogan.run("g_step", {"z": z})
    params = infogan.read(infogan.programs.parameter_names())
    real = real - 0.5  # negative inputs, so the first leaky ReLU sees both signs
    static = infogan.run("encode", {"real": real}, ("cat_probs", "cont_mean"))
    paddle.disable_static()
    try:
        q_out = reference_d(params, real, slope)
        other = reference_d(params, real, 0.1 if slope != 0.1 else 0.01)
    finally:
        paddle.enable_static()
    logits = q_out[:, :10] - q_out[:, :10].max(1, keepdims=True)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(static["cat_probs"], probs, atol=1e-5)
    np.testing.assert_allclose(static["cont_mean"], q_out[:, 10:12], atol=1e-5)
    assert not np.allclose(static["cont_mean"], other[:, 10:12], atol=1e-4)  # the slope matters


@pytest.mark.parametrize("fresh", [False, True])
def test_g_step_noise_is_the_d_steps_or_a_fresh_draw(infogan, fresh):
    fed = {}

    class Recorder:  # the session, noting the noise each step is fed
        programs = infogan.programs

        def run(self, role, feed, fetch=()):
            fed[role] = feed["z"]
            return infogan.run(role, feed, fetch)

    real, _ = inputs(5)
    iteration(Recorder(), real, np.random.default_rng(7), fetch=False, fresh_g_noise=fresh)
    expected = np.random.default_rng(7)
    first = latent.Codes().sample(expected, BATCH)
    np.testing.assert_array_equal(fed["d_step"], first)
    np.testing.assert_array_equal(fed["g_step"], latent.Codes().sample(expected, BATCH) if fresh else first)


def test_warped_fakes_without_an_l_i_term_are_refused():
    """With both code lambdas 0 there is no L_I to weight on warped fakes: a one-line error
    (building it used to fail with a TypeError on the missing cross-entropy)."""
    from paddle_gan.cli import UserError

    with pytest.raises(UserError, match="--lambda-warped-fakes weights L_I on warped fakes"):
        programs.model_config("infogan", lambda_cat=0.0, lambda_cont=0.0, lambda_warped_fakes=1.0)
    programs.model_config("infogan", lambda_cat=0.0, lambda_warped_fakes=1.0)  # c2, c3's L_I


@pytest.mark.slow
def test_d_step_applies_the_slope_in_the_trunk_and_q_head():
    """The training Programs take --leaky-slope too: the D step's real logits and its L_I on
    the fake batch (Q's head, both in training-mode BN) against dygraph with slope 0.01."""
    session = programs.new_session(programs.model_config("infogan", leaky_slope=0.01), paddle.CPUPlace(), seed=3)
    real, z = inputs(6)
    params = session.read(session.programs.parameter_names())
    out = session.run("d_step", {"real": real - 0.5, "z": z}, ("real_logits", "fake", "li_cat"))
    fake = out["fake"].reshape(BATCH, 784)
    paddle.disable_static()
    try:
        logits = reference_d(params, real - 0.5, 0.01, head="D", training=True)
        q_logits = reference_d(params, fake, 0.01, training=True)[:, :10]
        other = reference_d(params, real - 0.5, 0.1, head="D", training=True)
    finally:
        paddle.enable_static()
    np.testing.assert_allclose(out["real_logits"], logits, atol=1e-5)
    assert not np.allclose(out["real_logits"], other, atol=1e-4)
    log_probs = q_logits - q_logits.max(1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
    cross_entropy = -log_probs[np.arange(BATCH), z[:, latent.Codes().cat].argmax(1)].mean()
    np.testing.assert_allclose(out["li_cat"], math.log(10) - cross_entropy, atol=1e-5)


def numpy_info_nll(q_out: np.ndarray, z: np.ndarray, cont_std: float,
                   k: int = 10) -> tuple[float, float]:
    """z = [62 noise | one-hot of k | 2 codes]; Q's outputs = [k logits | 2 means | 2 log-stds]."""
    logits = q_out[:, :k]
    log_probs = logits - logits.max(1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
    cat = -log_probs[np.arange(len(z)), z[:, 62:62 + k].argmax(1)].mean()
    mean, log_std, c = q_out[:, k:k + 2], q_out[:, k + 2:k + 4], z[:, 62 + k:64 + k]
    if cont_std:
        log_std = np.full_like(mean, np.log(cont_std))
    # log N(c | mean, std) = -(c - mean)^2 / (2 std^2) - log std - log(2 pi) / 2
    log_lik = -(c - mean) ** 2 / (2 * np.exp(2 * log_std)) - log_std - 0.5 * np.log(2 * np.pi)
    return cat, -log_lik.sum(1).mean()


@pytest.mark.parametrize("cont_std, k", [(0.0, 10), (1.0, 10), (0.3, 10), (0.0, 20)])
def test_info_nll_matches_numpy(cont_std, k):
    rng = np.random.default_rng(4)
    codes = latent.Codes(k)
    q_out = rng.normal(0, 1.5, (32, k + 4)).astype(np.float32)
    z = codes.sample(rng, 32)
    assert z.shape == (32, 62 + k + 2)
    paddle.enable_static()
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        q = paddle.static.data("q", [None, k + 4], "float32")
        zz = paddle.static.data("z", [None, 62 + k + 2], "float32")
        cat, cont = losses.info_nll(q, zz, codes, cont_std)
    got = paddle.static.Executor(paddle.CPUPlace()).run(main, feed={"q": q_out, "z": z},
                                                        fetch_list=[cat, cont])
    np.testing.assert_allclose(got, numpy_info_nll(q_out.astype(np.float64), z, cont_std, k),
                               rtol=1e-5)


@pytest.mark.parametrize("trains", [("D_", "Q_"), ("G_", "Q_")])  # Q in the D or the G step
@pytest.mark.parametrize("lambdas", [(0.0, 0.0), (1.0, 0.1)])
def test_lambda_zero_keeps_l_i_gradient_away_from_g_and_trunk(lambdas, trains):
    config = programs.model_config("infogan", lambda_cat=lambdas[0], lambda_cont=lambdas[1])
    paddle.enable_static()
    startup = paddle.static.Program()
    with new_step(startup, update_stats=trains) as step:
        z = step.data("z", [None, latent.Codes().dim])
        features = infogan_trunk(step.layers, infogan_generator(step.layers, z))
        terms, _ = information(step.layers, features, z, config, observe=True)
        loss = total(terms)
        nets = {p: step.layers.trainable(p) for p in ("G_", "D_", "Q_")}
        flat = [p for ps in nets.values() for p in ps]
        grads = paddle.static.gradients([loss], flat)
    exe, scope = paddle.static.Executor(paddle.CPUPlace()), paddle.static.Scope()
    exe.run(startup, scope=scope)
    fetch = [g for g in grads if g is not None]
    values = iter(exe.run(step.program, feed={"z": latent.Codes().sample(np.random.default_rng(5), 16)},
                          fetch_list=fetch, scope=scope))
    largest = {p: 0.0 for p in nets}
    for grad, param in zip(grads, flat):
        if grad is not None:
            net = param.name[:2]
            largest[net] = max(largest[net], float(np.abs(next(values)).max()))
    assert largest["Q_"] > 0, "Q must learn the codes in both settings"
    if lambdas == (0.0, 0.0):
        assert largest["G_"] == 0 and largest["D_"] == 0
    else:
        assert largest["G_"] > 0 and largest["D_"] > 0


def test_categorical_grid_rows_vary_c1_only():
    z = latent.Codes().categorical_grid(np.random.default_rng(0), cols=7).reshape(10, 7, latent.Codes().dim)
    np.testing.assert_array_equal(z[:, :, latent.Codes().cat].argmax(-1), np.repeat(np.arange(10)[:, None], 7, 1))
    for part in (latent.NOISE, latent.Codes().cont):  # noise and codes: same down each column
        assert np.all(z[:, :, part] == z[:1, :, part])
        assert not np.all(z[:, :, part] == z[:, :1, part])  # ... and differ across columns


@pytest.mark.parametrize("code", [0, 1])
def test_traversal_grid_rows_vary_c1_columns_vary_the_swept_code_only(code):
    z = latent.Codes().traversal_grid(np.random.default_rng(1), code=code).reshape(10, 10, latent.Codes().dim)
    np.testing.assert_array_equal(z[:, :, latent.Codes().cat].argmax(-1), np.repeat(np.arange(10)[:, None], 10, 1))
    swept = z[:, :, latent.NOISE_DIM + latent.CATEGORIES + code]
    np.testing.assert_allclose(swept, np.tile(np.linspace(-2, 2, 10), (10, 1)))
    other = z[:, :, latent.NOISE_DIM + latent.CATEGORIES + (1 - code)]
    assert np.all(other == other[0, 0])
    assert np.all(z[:, :, :latent.NOISE_DIM] == z[0, 0, :latent.NOISE_DIM])


def test_hungarian_accuracy_on_a_hand_made_confusion():
    labels = np.repeat(np.arange(10), 10)
    permutation = np.array([3, 0, 7, 2, 6, 5, 1, 4, 8, 9])  # code permutation[d] means digit d
    pred = permutation[labels]
    accuracy, mapping = hungarian_accuracy(pred, labels)
    assert accuracy == 1.0 and all(mapping[permutation[d]] == d for d in range(10))
    pred = pred.copy()
    pred[labels == 4] = permutation[9]  # digit 4 merged into 9's code: 10 of 100 lost
    accuracy, _ = hungarian_accuracy(pred, labels)
    assert accuracy == pytest.approx(0.9)
    counts = code_label_counts(pred, labels)
    assert counts[permutation[9], 4] == counts[permutation[9], 9] == 10
    assert counts[permutation[4]].sum() == 0 and counts.sum(axis=0).tolist() == [10] * 10
