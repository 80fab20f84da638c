"""The exported inference model computes what the checkpoint's inference Program computes."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

import programs
from paddle_gan.export import ExportedGenerator, export


@pytest.mark.parametrize("kind", ["gan", "infogan"])
def test_exported_generator_matches_the_inference_program(kind, tmp_path):
    session = programs.new_session(programs.model_config(kind), paddle.CPUPlace(), seed=1)
    model_latent = programs.MODELS[kind].LATENT
    rng = np.random.default_rng(0)
    real = rng.random((16, 784), dtype=np.float32)
    for _ in range(2):  # move weights and BN statistics off their initial values
        z = model_latent.sample(rng, 16)
        session.run("d_step", {"real": real, "z": z})
        session.run("g_step", {"z": z})
    export(session, tmp_path / "export", step=2)
    loaded = ExportedGenerator(tmp_path / "export", paddle.CPUPlace())
    assert loaded.kind == kind and loaded.meta["step"] == 2
    z = model_latent.sample(rng, 32)
    expected = session.run("infer", {"z": z}, ("images",))["images"]
    np.testing.assert_allclose(loaded(z), expected, rtol=1e-5, atol=1e-6)
