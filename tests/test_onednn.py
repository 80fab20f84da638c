"""The oneDNN convolution rewrite: it happens where it should, and training is unchanged."""
from __future__ import annotations

import math

import numpy as np
import paddle
import pytest

import programs
from paddle_gan import latent
from paddle_gan.static import onednn
from paddle_gan.static.graph import new_step
from paddle_gan.nn.networks import infogan_trunk
from paddle_gan.static.session import Session

BATCH = 16


def build(onednn_conv: bool) -> Session:
    model = programs.build(programs.model_config("infogan"), onednn_convolutions=onednn_conv)
    return Session(model, paddle.CPUPlace(), seed=5)


def op_names(session: Session, role: str) -> list[str]:
    return [op.name() for op in session.programs.steps[role].program.global_block().ops]


@pytest.fixture(scope="module")
def sessions() -> tuple[Session, Session]:
    native = build(onednn_conv=False)
    if not onednn.applies_to(native.programs.steps["d_step"].program):
        pytest.skip("the rewrite needs a oneDNN build of Paddle running the PIR (Paddle 3.x)")
    return native, build(onednn_conv=True)


def test_only_convolutions_move_to_onednn(sessions):
    native, fast = sessions
    for role in ("d_step", "g_step", "encode"):
        ops = op_names(fast, role)
        assert "pd_op.conv2d" not in ops and "onednn_op.conv2d" in ops, role
        assert [n for n in ops if n.startswith("onednn_op.")] == \
            [n.replace("pd_op.", "onednn_op.") for n in op_names(native, role)
             if n in ("pd_op.conv2d", "pd_op.conv2d_grad")], role
    assert "pd_op.conv2d_transpose" in op_names(fast, "infer")  # no oneDNN training kernel


def computed_outputs(session: Session, role: str, op_name: str) -> list[list[bool]]:
    """For each ``op_name`` op of the Program, which of its outputs are computed (not null)."""
    return [[out.is_dense_tensor_type() for out in op.results()]
            for op in session.programs.steps[role].program.global_block().ops
            if op.name() == op_name]


def test_gradients_backward_leaves_out_stay_out(sessions):
    """The G step needs no gradient for D's frozen conv weights, the D step none for the
    images; the rewritten ops must not compute them either."""
    native, fast = sessions
    for role in ("d_step", "g_step"):
        expected = computed_outputs(native, role, "pd_op.conv2d_grad")
        assert computed_outputs(fast, role, "onednn_op.conv2d_grad") == expected, role
    assert computed_outputs(native, "g_step", "pd_op.conv2d_grad") == [[True, False]] * 2
    assert computed_outputs(native, "d_step", "pd_op.conv2d_grad") == \
        [[True, True], [False, True]] * 2


def trunk_gradients(rewrite: bool) -> list[np.ndarray]:
    """D's trunk on a fed batch: features, d(features . r)/d(input) and /d(every trunk
    parameter), fetched through copies (a rewritten op's own outputs cannot be fetched)."""
    startup = paddle.static.Program()
    with new_step(startup) as step:
        x = step.data("x", [None, 784])
        x.stop_gradient = False
        features = infogan_trunk(step.layers, x)
        r = step.data("r", [None, 1024])
        params = step.layers.trainable("D_")
        grads = paddle.static.gradients([paddle.sum(features * r)], [x] + params)
        fetch = [paddle.assign(v) for v in [features] + grads]
    if rewrite:
        assert onednn.use_onednn_convolutions(step.program, fetch) == 4  # conv1, conv2, grads
    exe, scope = paddle.static.Executor(paddle.CPUPlace()), paddle.static.Scope()
    paddle.seed(11)
    exe.run(startup, scope=scope)
    rng = np.random.default_rng(2)
    feed = {"x": rng.random((BATCH, 784), dtype=np.float32),
            "r": rng.standard_normal((BATCH, 1024)).astype(np.float32)}
    return exe.run(step.program, feed=feed, fetch_list=fetch, scope=scope)


@pytest.mark.slow
def test_onednn_convolutions_give_native_values_and_gradients(sessions):
    native, fast = trunk_gradients(rewrite=False), trunk_gradients(rewrite=True)
    assert len(native) == 2 + 8  # features, d/dx, then conv1 w, b, conv2 w, bn2 g, b, fc3 w, bn3 g, b
    for a, b in zip(native, fast):
        scale = np.abs(a).max()
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5 * scale)


@pytest.mark.slow
def test_training_with_onednn_tracks_native_kernels(sessions):
    """End to end, two D and G steps: the same losses up to float rounding. Adam's first steps
    are about lr * sign(gradient), so a near-zero gradient whose sign the two kernels round
    differently moves a weight by 2 lr: the gap grows by orders of magnitude in the first steps
    (1e-7, 2e-4, 2e-3 on an Intel Xeon), so a third step would test the CPU's rounding, not
    the rewrite. The categorical term is compared as Q's cross-entropy: L_I = ln 10 - CE
    starts near 0, where a relative bound is meaningless."""
    native, fast = sessions
    rng = np.random.default_rng(0)
    for step in range(2):
        real, z = rng.random((BATCH, 784), dtype=np.float32), latent.Codes().sample(rng, BATCH)
        losses = []
        for s in (native, fast):
            d = s.run("d_step", {"real": real, "z": z}, ("d_loss", "li_cat"))
            g = s.run("g_step", {"z": z}, ("g_loss",))
            losses.append([d["d_loss"], g["g_loss"], math.log(10) - d["li_cat"]])
        if step == 0:  # the first D loss comes from identical weights
            np.testing.assert_allclose(losses[1][0], losses[0][0], rtol=1e-6)
        np.testing.assert_allclose(losses[1], losses[0], rtol=2e-3)


def test_onednn_convolutions_read_the_current_weights(sessions):
    """oneDNN's inference-mode kernels cache reordered weights (its conv_transpose kept using
    the old ones after a weight changed); the rewritten training-mode ops must not."""
    native, fast = sessions
    fast.write(native.read(native.programs.parameter_names()))  # earlier tests trained both
    real = np.random.default_rng(4).random((BATCH, 784), dtype=np.float32)
    fast.run("encode", {"real": real}, ("cat_probs",))  # whatever the kernels cache, cache it now
    rng = np.random.default_rng(9)
    for name in ("D_conv1.w", "D_conv2.w"):
        shape = native.read([name])[name].shape
        new = {name: rng.normal(0, 0.05, shape).astype(np.float32)}
        native.write(new)
        fast.write(new)
    after = [s.run("encode", {"real": real}, ("cat_probs",))["cat_probs"] for s in (native, fast)]
    np.testing.assert_allclose(after[1], after[0], rtol=1e-4, atol=1e-6)


def test_a_convolution_output_cannot_be_kept_for_fetching(sessions):
    with new_step(paddle.static.Program()) as step:
        x = step.data("x", [None, 1, 28, 28])
        with step.layers.prefix("D_"):
            w = step.layers.parameter("c.w", [4, 1, 3, 3], paddle.nn.initializer.Normal())
        y = paddle.nn.functional.conv2d(x, w)
    with pytest.raises(RuntimeError, match="convolution's output"):
        onednn.use_onednn_convolutions(step.program, [y])
