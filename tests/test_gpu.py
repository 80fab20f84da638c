"""The CUDAPlace path, where a GPU exists: ``python -m pytest -q tests/test_gpu.py`` on a
machine with paddlepaddle-gpu. Every test skips cleanly elsewhere."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

import programs
from conftest import cli, ok, write_mnist
from paddle_gan.device import cuda_available

pytestmark = pytest.mark.skipif(not cuda_available(),
                                reason="needs a CUDA build of Paddle and a visible GPU")


@pytest.mark.parametrize("kind", ["gan", "infogan"])
def test_one_iteration_on_the_gpu_equals_the_cpu(kind):
    config = programs.model_config(kind)
    cpu = programs.new_session(config, paddle.CPUPlace(), seed=0)
    gpu = programs.new_session(config, paddle.CUDAPlace(0), seed=0)
    names = cpu.programs.persistable_names()
    gpu.write(cpu.read(names))  # the devices' generators differ: start from the same weights
    rng = np.random.default_rng(0)
    real = rng.random((32, 784), dtype=np.float32)
    z = cpu.programs.latent.sample(rng, 32)
    for session in (cpu, gpu):
        session.run("d_step", {"real": real, "z": z})
        session.run("g_step", {"z": z})
    after_cpu, after_gpu = cpu.read(names), gpu.read(names)
    for name in names:
        np.testing.assert_allclose(after_gpu[name], after_cpu[name], rtol=1e-4, atol=1e-5,
                                   err_msg=name)


def test_the_onednn_rewrite_is_not_applied_on_the_gpu():
    session = programs.new_session(programs.model_config("infogan"), paddle.CUDAPlace(0))
    for step in session.programs.steps.values():
        assert not [op for op in step.program.global_block().ops
                    if op.name().startswith("onednn_op.")]


def test_a_checkpoint_written_on_the_gpu_resumes_on_the_cpu(tmp_path):
    data = write_mnist(tmp_path / "mnist", n_train=64)
    out = tmp_path / "run"
    common = ["--model", "infogan", "--no-verify", "--data-dir", str(data), "--output", str(out),
              "--batch-size", "16", "--save-every", "2"]
    ok(cli("train.py", *common, "--device", "gpu", "--max-steps", "2"))
    resumed = ok(cli("train.py", *common, "--device", "cpu", "--max-steps", "4", "--resume"))
    assert "at step 2" in resumed.stdout and "done: step 4" in resumed.stdout
