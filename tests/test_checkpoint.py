"""Checkpoints hold every variable once under its global name and restore it exactly."""
from __future__ import annotations

import json

import numpy as np
import paddle
import pytest

import programs
from paddle_gan.training import checkpoint
from paddle_gan.cli import UserError


@pytest.fixture
def trained():
    """A GAN session after two real D+G iterations, so optimizer moments are non-zero."""
    session = programs.new_session(programs.model_config("gan"), paddle.CPUPlace(), seed=2)
    rng = np.random.default_rng(0)
    for _ in range(2):
        z = session.programs.latent.sample(rng, 8)
        session.run("d_step", {"real": rng.random((8, 784), dtype=np.float32), "z": z})
        session.run("g_step", {"z": z})
    return session


def test_pdparams_holds_each_weight_once_by_global_name(trained, tmp_path):
    ckpt = checkpoint.save(trained, tmp_path, {"step": 7, "epoch": 0, "rng": None})
    params = paddle.load(str(ckpt / checkpoint.PARAMS_FILE), return_numpy=True)
    assert set(params) == set(trained.programs.parameter_names())
    shapes = [tuple(v.shape) for v in params.values()]
    assert shapes.count((784, 256)) == 1 and shapes.count((100, 256)) == 1
    opt = paddle.load(str(ckpt / checkpoint.OPT_FILE), return_numpy=True)
    assert not set(opt) & set(params)
    assert set(opt) | set(params) == set(trained.programs.persistable_names())
    assert any(np.abs(v).sum() > 0 for n, v in opt.items() if "moment1" in n)


def test_restore_into_a_fresh_session_is_exact_and_skips_the_startup(trained, tmp_path,
                                                                     monkeypatch):
    ckpt = checkpoint.save(trained, tmp_path, {"step": 3, "epoch": 0, "rng": None})
    ran = []
    run_program = paddle.static.Executor.run

    def recording_run(executor, program, *args, **kwargs):
        ran.append(program)
        return run_program(executor, program, *args, **kwargs)

    monkeypatch.setattr(paddle.static.Executor, "run", recording_run)
    fresh = programs.new_session(programs.model_config("gan"), paddle.CPUPlace(), seed=99)
    found = checkpoint.find(ckpt)
    assert found.path == ckpt and found.step == 3 and found.state["model"]["kind"] == "gan"
    checkpoint.restore(fresh, found)
    names = trained.programs.persistable_names()
    before, after = trained.read(names), fresh.read(names)
    for n in names:
        np.testing.assert_array_equal(before[n], after[n], err_msg=n)
    z = trained.programs.latent.sample(np.random.default_rng(5), 4)
    np.testing.assert_array_equal(trained.run("g_step", {"z": z}, ("g_loss",))["g_loss"],
                                  fresh.run("g_step", {"z": z}, ("g_loss",))["g_loss"])
    assert not any(program is fresh.programs.startup for program in ran), \
        "the checkpoint gave every variable: the startup should not run"
    unrestored = programs.new_session(programs.model_config("gan"), paddle.CPUPlace(), seed=99)
    unrestored.read(names[:1])
    assert ran[-1] is unrestored.programs.startup  # what the recording would have seen


def test_a_checkpoint_of_other_shapes_is_refused_before_anything_is_written(trained, tmp_path):
    ckpt = checkpoint.save(trained, tmp_path, {"step": 1, "epoch": 0, "rng": None})
    params = paddle.load(str(ckpt / checkpoint.PARAMS_FILE), return_numpy=True)
    params["G_fc1.w"] = params["G_fc1.w"][:50]
    paddle.save(params, str(ckpt / checkpoint.PARAMS_FILE))
    state = json.loads((ckpt / checkpoint.STATE_FILE).read_text())  # find() would refuse the
    # changed checksum; this test is about the shapes
    fresh = programs.new_session(programs.model_config("gan"), paddle.CPUPlace(), seed=99)
    with pytest.raises(UserError, match=r"G_fc1.w: have float32\[100, 256\], got float32\[50, 256\]"):
        checkpoint.restore(fresh, checkpoint.Checkpoint(ckpt, state))
    assert fresh.read(["G_fc1.w"])["G_fc1.w"].shape == (100, 256)  # initialised, not half-written


def test_latest_pointer_keep_and_find(trained, tmp_path):
    run = tmp_path / "run"
    for step in (1, 2, 3, 4):
        last = checkpoint.save(trained, run / "checkpoints", {"step": step, "epoch": 0, "rng": None},
                               keep=2)
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*")) == ["step_000003", "step_000004"]
    assert not list((run / "checkpoints").glob(".tmp-*"))
    assert (run / "checkpoints" / checkpoint.LATEST).read_text().strip() == last.name
    for path in (run, run / "checkpoints", last):
        assert checkpoint.find(path).path == last


def test_corrupted_file_is_detected(trained, tmp_path):
    ckpt = checkpoint.save(trained, tmp_path, {"step": 1, "epoch": 0, "rng": None})
    path = ckpt / checkpoint.PARAMS_FILE
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(UserError, match="model.pdparams: missing or checksum mismatch"):
        checkpoint.find(ckpt)


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no checkpoint there"):
        checkpoint.find(tmp_path)


def test_stale_temporaries_of_a_killed_writer_are_removed(tmp_path):
    """A SIGKILL can leave a half-written checkpoint directory or a half-written ``latest``
    pointer file; both go, and finished checkpoints stay."""
    half_written = tmp_path / f"{checkpoint.TMP_PREFIX}step_000005-123"
    half_written.mkdir()
    (half_written / "model.pdparams").write_bytes(b"x")
    (tmp_path / f"{checkpoint.TMP_PREFIX}latest-123").write_text("step_000005")
    (tmp_path / "step_000004").mkdir()
    checkpoint.remove_stale_temporaries(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["step_000004"]
