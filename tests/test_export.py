"""The exported generator, served by a Paddle Inference predictor (oneDNN and its IR passes on
the CPU), computes what the checkpoint's inference Program computes."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

import programs
from paddle_gan.device import current_cpu_threads, set_cpu_threads
from paddle_gan.static.export import (DeployLayers, ExportedGenerator, export, subpixel_reach,
                                      subpixel_weight)


def train_steps(session, rng: np.random.Generator, steps: int) -> None:
    """Move weights and BN statistics off where they were."""
    model_latent = session.programs.latent
    real = rng.random((16, 784), dtype=np.float32)
    for _ in range(steps):
        z = model_latent.sample(rng, 16)
        session.run("d_step", {"real": real, "z": z})
        session.run("g_step", {"z": z})


def infer(session, z: np.ndarray) -> np.ndarray:
    return session.run("infer", {"z": z}, ("images",))["images"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gan", "infogan"])
def test_the_predictor_draws_what_the_inference_program_draws(kind, tmp_path):
    """Also after a second export of changed weights into a new predictor, while the first
    keeps its own: fixed weights, so no kernel cache can go stale."""
    session = programs.new_session(programs.model_config(kind), paddle.CPUPlace(), seed=1)
    rng = np.random.default_rng(0)
    z = session.programs.latent.sample(rng, 32)
    train_steps(session, rng, 2)
    export(session, tmp_path / "first", step=2)
    first = ExportedGenerator(tmp_path / "first", paddle.CPUPlace())
    assert first.kind == kind and first.meta["step"] == 2
    first_images = infer(session, z)
    np.testing.assert_allclose(first(z), first_images, rtol=0, atol=1e-4)
    np.testing.assert_allclose(first(z[:5]), first_images[:5], rtol=0, atol=1e-4)

    train_steps(session, rng, 3)
    export(session, tmp_path / "second", step=5)
    second = ExportedGenerator(tmp_path / "second", paddle.CPUPlace())
    second_images = infer(session, z)
    assert np.abs(second_images - first_images).max() > 1e-3, "the weights should have moved"
    np.testing.assert_allclose(second(z), second_images, rtol=0, atol=1e-4)
    np.testing.assert_allclose(first(z), first_images, rtol=0, atol=1e-4)


@pytest.mark.slow
def test_a_predictor_run_leaves_the_programs_bitwise_unchanged(tmp_path):
    """Running a predictor changes the math libraries' thread state, and Programs run after it
    differed in the last bits until the exported generator set it back."""
    threads = current_cpu_threads()
    set_cpu_threads(2)  # where the difference showed
    try:
        session = programs.new_session(programs.model_config("infogan"), paddle.CPUPlace(), seed=1)
        rng = np.random.default_rng(0)
        z = session.programs.latent.sample(rng, 64)
        real = rng.random((64, 784), dtype=np.float32)
        before = session.run_batches("encode", "real", real, ("cat_probs",))["cat_probs"]
        ExportedGenerator(export(session, tmp_path / "export", step=0), paddle.CPUPlace())(z)
        after = session.run_batches("encode", "real", real, ("cat_probs",))["cat_probs"]
    finally:
        set_cpu_threads(threads)
    np.testing.assert_array_equal(after, before)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gan", "infogan"])
def test_the_folded_export_draws_what_the_program_draws_far_from_initial_values(kind, tmp_path):
    """Batch norm statistics and scales far from 0 and 1, and a bias on the image layer: folding
    batch norm into the layer before it, or the image layer's sub-pixel weights, cannot
    hide behind near-identity values."""
    session = programs.new_session(programs.model_config(kind), paddle.CPUPlace(), seed=1)
    rng = np.random.default_rng(3)
    names = [n for n in session.programs.parameter_names() if n.startswith("G_")]
    moved = {}
    for name, value in session.read(names).items():
        if name.endswith(".var"):
            moved[name] = rng.uniform(0.3, 3.0, value.shape).astype(np.float32)
        elif name.endswith((".g", ".mean", ".b")):
            centre = 1.0 if name.endswith(".g") else 0.0
            moved[name] = (centre + rng.normal(0.0, 0.5, value.shape)).astype(np.float32)
    assert kind == "gan" or {"G_bn1.var", "G_bn2.g", "G_up2.b"} <= set(moved)
    session.write(moved)
    z = session.programs.latent.sample(rng, 32)
    exported = ExportedGenerator(export(session, tmp_path / "export", step=0), paddle.CPUPlace())
    np.testing.assert_allclose(exported(z), infer(session, z), rtol=0, atol=1e-4)


def transposed_convolution(x: np.ndarray, w: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """The definition: each input pixel adds its weighted kernel into the output at
    stride * position - padding. x [n, in, h, w], w [in, out, k, k]."""
    n, _, height, width = x.shape
    size = w.shape[-1]
    full = np.zeros((n, w.shape[1], (height - 1) * stride + size, (width - 1) * stride + size))
    for i in range(height):
        for j in range(width):
            full[:, :, i * stride:i * stride + size, j * stride:j * stride + size] += np.einsum(
                "nc,cokl->nokl", x[:, :, i, j], w)
    out = (height - 1) * stride - 2 * padding + size
    return full[:, :, padding:padding + out, padding:padding + out]


@pytest.mark.parametrize("size, stride, padding", [(4, 2, 1), (3, 1, 1), (5, 3, 1), (2, 2, 0)])
def test_subpixel_weights_give_the_transposed_convolution(size, stride, padding):
    """A convolution with the sub-pixel weights, then a pixel shuffle, against the transposed
    convolution's definition, in numpy."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 5, 5))
    w = rng.normal(size=(3, 1, size, size))
    reach = subpixel_reach(stride, padding)
    kernel = subpixel_weight(w, stride, padding)
    taps = 2 * reach + 1
    padded = np.pad(x, ((0, 0), (0, 0), (reach, reach), (reach, reach)))
    conv = np.zeros((2, stride * stride, 5, 5))
    for i in range(5):
        for j in range(5):
            conv[:, :, i, j] = np.einsum("nckl,ockl->no", padded[:, :, i:i + taps, j:j + taps], kernel)
    shuffled = conv.reshape(2, 1, stride, stride, 5, 5).transpose(0, 1, 4, 2, 5, 3)
    shuffled = shuffled.reshape(2, 1, 5 * stride, 5 * stride)
    np.testing.assert_allclose(shuffled, transposed_convolution(x, w, stride, padding), atol=1e-12)


def test_the_infogan_export_folds_its_fc_batch_norms_and_rewrites_its_image_layer():
    """The equalities above would also hold if no layer matched the deployment rewrites."""
    model = programs.build(programs.model_config("infogan"))
    z_dim = model.steps["infer"].feeds["z"].shape[1]
    layers = DeployLayers()
    with paddle.static.program_guard(paddle.static.Program(), paddle.static.Program()):
        model.generator(layers, paddle.static.data("z", [None, z_dim], "float32"))
    names = set(layers.names)
    assert {"G_fc1.w_folded", "G_fc2.b_folded", "G_up2.w_subpixel", "G_up2.b_subpixel"} <= names
    assert not {"G_bn1.mean", "G_bn2.g", "G_fc1.w", "G_up2.w"} & names
    assert "G_bn3.mean" in names  # the predictor folds it into the transposed convolution
