"""Training survives interruption and bad input: each test does the damage for real."""
from __future__ import annotations

import errno
import fcntl
import json
import random
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest

import programs
from conftest import ROOT, write_mnist
from paddle_gan.training import checkpoint, rundir
from paddle_gan.training.rundir import RunDir
from paddle_gan.cli import UserError
from paddle_gan.data import Batches
from paddle_gan.config import RunConfig
from paddle_gan.training.trainer import Trainer
from conftest import cli, ok, one_line_error

TINY = ["--no-verify", "--batch-size", "16", "--log-every", "1", "--sample-every", "1000",
        "--keep", "2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("data") / "mnist", n_train=160)


def train(data, out, *args):
    return cli("train.py", *TINY, "--data-dir", str(data), "--output", str(out), *args)


def state_of(out) -> dict[str, np.ndarray]:
    """Every persistable variable of a run's newest checkpoint."""
    ckpt = checkpoint.find(out)
    values = {}
    for name in (checkpoint.PARAMS_FILE, checkpoint.OPT_FILE):
        values.update(paddle.load(str(ckpt.path / name), return_numpy=True))
    return values


def losses(out) -> list[dict]:
    """metrics.jsonl without the timing column, in file order (duplicate steps stay visible)."""
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "samples_per_s"} for r in rows]


def assert_same_run(a, b) -> None:
    sa, sb = state_of(a), state_of(b)
    assert sa.keys() == sb.keys()
    for name in sa:
        np.testing.assert_allclose(sa[name], sb[name], atol=1e-6, rtol=0, err_msg=name)
    assert losses(a) == losses(b)


@pytest.mark.parametrize("model", [["gan"], ["infogan"],
                                   ["infogan", "--spectral-norm", "--g-noise", "fresh",
                                    "--leaky-slope", "0.01",
                                    "--lambda-real-mi", "1", "--lambda-consistency", "1",
                                    "--lambda-warped-fakes", "1"]])
@pytest.mark.slow
def test_resume_is_exact(tmp_path, model):
    """max-steps 2N in one go == N, then --resume to 2N: parameters, moments, BN statistics,
    spectral-norm vectors, the warps drawn from the noise generator and every logged loss.
    With N = 2 and 3 batches per epoch, the resumed half crosses an epoch boundary. The third
    case turns on every option that keeps state or draws noise; R1 keeps none of its own (the
    MLP-GAN case trains with it; on InfoGAN its batch norm updates the same statistics,
    tests/test_stabilisation.py)."""
    data = write_mnist(tmp_path / "mnist", n_train=48)
    n = ["--model", *model, "--save-every", "2"]
    ok(train(data, tmp_path / "straight", *n, "--max-steps", "4"))
    ok(train(data, tmp_path / "split", *n, "--max-steps", "2"))
    resumed = ok(train(data, tmp_path / "split", "--max-steps", "4", "--resume"))
    assert "at step 2" in resumed.stdout
    assert_same_run(tmp_path / "straight", tmp_path / "split")
    assert [r["step"] for r in losses(tmp_path / "split")] == list(range(1, 5))


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_saved(data, tmp_path):
    """SIGKILL while training and writing a checkpoint every step: the newest checkpoint is
    always intact and loadable, never older than one found before, and the run finishes equal
    to an uninterrupted one."""
    args = ["--model", "gan", "--save-every", "1", "--max-steps", "60"]
    ok(train(data, tmp_path / "straight", *args))
    out, rng, found = tmp_path / "killed", random.Random(7), 0
    for _ in range(4):
        command = [sys.executable, str(ROOT / "train.py"), *TINY, "--data-dir", str(data),
                   "--output", str(out), *args] + (["--resume"] if found else [])
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and not any(
                int(p.name[5:]) > found for p in out.glob("checkpoints/step_*")):
            time.sleep(0.02)  # wait until this process is saving, then kill at a random moment
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ckpt = checkpoint.find(out)
        assert ckpt.step > found
        found = ckpt.step
        session = programs.new_session(programs.saved_config(ckpt.state["model"], "checkpoint"),
                                       paddle.CPUPlace(), 0)
        checkpoint.restore(session, ckpt)  # loadable
    assert found < 60, "the kills came too late to test anything"
    ok(train(data, out, "--max-steps", "60", "--resume"))
    assert not list(out.glob("checkpoints/.tmp-*"))
    assert_same_run(tmp_path / "straight", out)


def test_sigterm_finishes_the_step_saves_and_exits_zero(data, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *TINY, "--data-dir", str(data),
                             "--output", str(out), "--model", "gan", "--epochs", "100000"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (out / "metrics.jsonl").exists():
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr[-2000:]
    assert f"python train.py --output {out} --resume" in stderr
    assert checkpoint.find(out).step == losses(out)[-1]["step"] > 0  # the step it stopped at is saved and logged


def test_corrupt_latest_falls_back_to_the_previous_checkpoint(data, tmp_path):
    out = tmp_path / "run"
    ok(train(data, out, "--model", "gan", "--max-steps", "6", "--save-every", "3"))
    newest = out / "checkpoints" / "step_000006" / checkpoint.PARAMS_FILE
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # truncated
    resumed = ok(train(data, out, "--max-steps", "9", "--resume"))
    assert "skipping checkpoint" in resumed.stderr and "step_000006" in resumed.stderr
    assert "at step 3" in resumed.stdout
    assert checkpoint.find(newest.parent).step == 6  # trained and saved again, intact
    assert [r["step"] for r in losses(out)] == list(range(1, 10))
    (out / "checkpoints" / "step_000009" / checkpoint.STATE_FILE).write_text("{garbled")
    (out / "checkpoints" / "step_000006" / checkpoint.STATE_FILE).unlink()
    one_line_error(train(data, out, "--max-steps", "12", "--resume"), 2, "no intact checkpoint")


@pytest.mark.slow
def test_resume_refuses_another_model_or_changed_flags(data, tmp_path):
    out = tmp_path / "run"
    ok(train(data, out, "--model", "infogan", "--max-steps", "2"))
    again = ok(train(data, out, "--resume"))  # the run's own length, not the default 10 epochs
    assert "done: step 2" in again.stdout
    one_line_error(train(data, out, "--model", "gan", "--resume"), 2,
                   "--model gan differs from the run's infogan")
    one_line_error(train(data, out, "--lambda-cat", "0", "--resume"), 2,
                   "--lambda-cat 0.0 differs from the run's 1.0")
    one_line_error(train(data, out, "--batch-size", "8", "--resume"), 2,
                   "--batch-size 8 differs from the run's 16")
    gan_session = programs.new_session(programs.model_config("gan"), paddle.CPUPlace(), 0)
    ckpt = checkpoint.find(out)
    with pytest.raises(UserError, match="checkpoint of model 'infogan', not 'gan'"):
        checkpoint.restore(gan_session, ckpt)


def test_non_finite_loss_stops_with_one_line_and_saves_nothing(data, tmp_path):
    out = tmp_path / "run"
    result = train(data, out, "--model", "gan", "--lr-d", "1e30", "--max-steps", "50",
                   "--save-every", "1")
    one_line_error(result, 2, "at step 1; training stopped, last good checkpoint: none yet")
    assert not list(out.glob("checkpoints/step_*"))


def diverging_trainer(tmp_path, poison: str, at_step: int) -> Trainer:
    """A GAN trainer whose variable ``poison`` turns NaN right after step ``at_step``."""
    images = np.random.default_rng(0).integers(0, 255, (64, 28, 28), dtype=np.uint8)
    session = programs.new_session(programs.model_config("gan"), paddle.CPUPlace(), 0)
    run = RunConfig(output=str(tmp_path), epochs=10, max_steps=20, batch_size=16, seed=0,
                    log_every=1, sample_every=1000, save_every=2, keep=5)
    trainer = Trainer(session, Batches(images, 16, 0), run, RunDir(tmp_path), seed=0,
                      total_steps=20, label="gan")
    real_run = session.run

    def run_then_poison(role, feed, fetch=()):
        out = real_run(role, feed, fetch)
        if role == "g_step" and trainer.step == at_step:
            value = session.read([poison])[poison]
            session.write({poison: np.full_like(value, np.nan)})
        return out

    session.run = run_then_poison
    return trainer


def test_nan_weight_stops_at_the_next_step_and_the_last_good_checkpoint_stays(tmp_path):
    trainer = diverging_trainer(tmp_path, "D_fc2.w", at_step=3)
    with pytest.raises(UserError, match=r"non-finite d_loss \(nan\) at step 4; .*step_000002"):
        trainer.train()
    assert checkpoint.find(tmp_path).path.name == "step_000002"
    assert (tmp_path / "checkpoints" / checkpoint.LATEST).read_text().strip() == "step_000002"


def test_nan_optimizer_state_is_never_saved(tmp_path):
    """A NaN the losses do not show yet (an Adam moment) is caught when saving."""
    trainer = diverging_trainer(tmp_path, "G_fc1.w_moment2_0", at_step=3)
    with pytest.raises(UserError, match="non-finite values in .*G_fc1.w_moment2_0.* at step 4"):
        trainer.train()
    assert checkpoint.find(tmp_path).path.name == "step_000002"


def test_disk_full_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    session = programs.new_session(programs.model_config("gan"), paddle.CPUPlace(), 0)
    directory = tmp_path / "checkpoints"
    good = checkpoint.save(session, directory, {"step": 1})
    real_save = paddle.save

    def full_disk(obj, path, *args, **kwargs):
        real_save(obj, path, *args, **kwargs)
        if path.endswith(checkpoint.OPT_FILE):
            raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(paddle, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        checkpoint.save(session, directory, {"step": 2})
    assert sorted(p.name for p in directory.iterdir()) == [checkpoint.LATEST, good.name]
    assert checkpoint.find(directory) == checkpoint.Checkpoint(good, checkpoint.read_state(good))


def test_a_killed_writers_leftovers_are_ignored_and_cleaned(tmp_path):
    session = programs.new_session(programs.model_config("gan"), paddle.CPUPlace(), 0)
    directory = tmp_path / "run" / "checkpoints"
    good = checkpoint.save(session, directory, {"step": 4})
    (directory / f"{checkpoint.TMP_PREFIX}step_000005-999").mkdir()   # died mid-write
    (directory / "step_000006").mkdir()                               # died mid-rename? empty
    assert checkpoint.find(tmp_path / "run").path == good
    with RunDir(tmp_path / "run").claim(resume=True):
        assert not list(directory.glob(f"{checkpoint.TMP_PREFIX}*"))


def test_second_training_on_the_same_output_is_refused(data, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    with open(out / rundir.LOCK_FILE, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242\n")
        held.flush()
        one_line_error(train(data, out, "--model", "gan", "--max-steps", "2"), 2,
                       "in use by another training process (pid 4242)")
    ok(train(data, out, "--model", "gan", "--max-steps", "2"))  # the lock died with its holder


def test_unwritable_output_and_labels_mismatch_are_one_line_errors(data, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    one_line_error(train(data, blocker / "run", "--model", "gan"), 2, "is not writable")
    broken = write_mnist(tmp_path / "broken", n_train=160)
    labels = (data / "t10k-labels-idx1-ubyte").read_bytes()
    (broken / "train-labels-idx1-ubyte").write_bytes(labels)  # 64 labels for 160 images
    one_line_error(train(broken, tmp_path / "o", "--model", "gan"), 2, "160 train images but 64 labels")
