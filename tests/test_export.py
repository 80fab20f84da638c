"""The exported generator, served by a Paddle Inference predictor (oneDNN and its IR passes on
the CPU), computes what the checkpoint's inference Program computes."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

import programs
from paddle_gan.device import current_cpu_threads, set_cpu_threads
from paddle_gan.export import ExportedGenerator, export


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
