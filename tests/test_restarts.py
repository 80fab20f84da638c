"""--restarts: trials from derived seeds, a label-free choice, and an exact resume around both."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest

import programs
from conftest import ROOT, cli, ok, one_line_error, write_mnist
from paddle_gan.training import checkpoint
from paddle_gan.data import load_dataset
from paddle_gan.training.rundir import RunDir
from test_resilience import TINY, assert_same_run, losses

RESTARTS = ["--model", "infogan", "--restarts", "2", "--restart-steps", "4", "--max-steps", "8",
            "--save-every", "2", "--keep", "5", "--threads", "1"]


def train(data, out, *args, fresh_process=False):
    return cli("train.py", *TINY, "--data-dir", str(data), "--output", str(out), *args,
               fresh_process=fresh_process)


def information(probs: np.ndarray) -> float:
    """I(c; x) = H(mean p) - mean H(p), in float64 (the reference for restarts.score)."""
    p = probs.astype(np.float64)
    mean = p.mean(axis=0)
    marginal_entropy = -np.sum(mean * np.log(mean))
    conditional_entropy = -np.mean(np.sum(p * np.log(p), axis=1))
    return float(marginal_entropy - conditional_entropy)


# Session-scoped: a worker may run other modules' tests between these, and the uninterrupted
# run should still train once per worker.
@pytest.fixture(scope="session")
def data(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("data") / "mnist", n_train=80)


@pytest.fixture(scope="session")
def straight(data, tmp_path_factory):
    """An uninterrupted run with two trials, and what it printed."""
    out = tmp_path_factory.mktemp("straight") / "run"
    return out, ok(train(data, out, *RESTARTS)).stdout


@pytest.mark.slow
def test_the_trial_whose_q_informs_most_is_continued(data, straight, tmp_path):
    """Each trial's score is Q's I(c1; x) on unlabelled training images, recomputed here from
    its checkpoint; the highest is continued; trial 0 is the run's own seed, so it equals a
    run without restarts."""
    out, printed = straight
    selection = json.loads((RunDir(out).selection).read_text())
    images, _ = load_dataset(str(data), "train", verify=False)
    expected = []
    for trial in range(2):
        session, ckpt = programs.restore_session(RunDir(out).trial(trial).root,
                                                     paddle.CPUPlace())
        assert ckpt.step == 4 and ckpt.trial == trial
        probs = session.run_batches("encode", "real", images, ("cat_probs",))["cat_probs"]
        expected.append(information(probs))
    np.testing.assert_allclose(selection["scores"], expected, rtol=1e-6)
    assert expected[0] != expected[1], "the trials should differ"
    chosen = int(np.argmax(expected))
    assert selection["chosen"] == chosen
    assert f"continuing {RunDir(out).trial(chosen).root}" in printed
    ckpt = checkpoint.find(out)
    assert ckpt.step == 8 and ckpt.trial == chosen
    assert [r["step"] for r in losses(out)] == list(range(1, 9))  # the trial's steps, then its own

    plain = tmp_path / "plain"
    ok(train(data, plain, "--model", "infogan", "--max-steps", "4", "--threads", "1"))
    assert_same_run(plain, RunDir(out).trial(0).root)


@pytest.mark.slow
def test_a_kill_in_a_trial_at_the_choice_or_after_it_resumes_exactly(data, straight, tmp_path):
    """SIGKILL when trial 1 has saved its first checkpoint; when the choice is written; when
    the run has trained a step of its own but saved none (its logs begin with the trial's);
    and when it has saved its first checkpoint. Resuming after each ends equal to an
    uninterrupted run."""
    out = tmp_path / "killed"

    def has_trained_a_step_of_its_own() -> bool:
        metrics = out / "metrics.jsonl"
        return metrics.exists() and '"step": 5,' in metrics.read_text()

    moments = [lambda: (RunDir(out).trial(1).root / "checkpoints" / "step_000002").exists(),
               lambda: (RunDir(out).selection).exists(),
               has_trained_a_step_of_its_own,
               lambda: (out / "checkpoints" / "step_000006").exists()]
    for i, moment in enumerate(moments):
        command = [sys.executable, str(ROOT / "train.py"), *TINY, "--data-dir", str(data),
                   "--output", str(out), *RESTARTS] + (["--resume"] if i else [])
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and not moment() and proc.poll() is None:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL, f"the run ended before kill {i + 1}"
    assert not any(out.glob("checkpoints/step_000008"))
    ok(train(data, out, "--resume"))
    assert_same_run(straight[0], out)
    selection = RunDir(out).selection
    assert selection.read_text() == (RunDir(straight[0]).selection).read_text()


@pytest.mark.slow
def test_sigterm_in_a_trial_saves_it_and_stops_the_run(data, tmp_path):
    out = tmp_path / "stopped"
    command = [sys.executable, str(ROOT / "train.py"), *TINY, "--data-dir", str(data),
               "--output", str(out), *RESTARTS]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 120
    first = RunDir(out).trial(0).root / "checkpoints" / "step_000002"
    while time.time() < deadline and not first.exists() and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr[-2000:]
    assert f"resume with: python train.py --output {out} --resume" in stderr
    assert not RunDir(out).trial(1).root.exists() and not (out / "checkpoints").exists()


@pytest.mark.slow
def test_restarts_need_q_room_to_continue_and_their_settings_kept(data, straight, tmp_path):
    one_line_error(train(data, tmp_path / "gan", "--model", "gan", "--restarts", "2"), 2,
                   "which --model gan does not have")
    one_line_error(train(data, tmp_path / "long", "--restarts", "2", "--restart-steps", "5",
                         "--max-steps", "5"), 2, "--restart-steps 5 leaves nothing to continue")
    one_line_error(train(data, tmp_path / "alone", "--restart-steps", "5"), 2,
                   "give --restarts N (N > 1) too")
    out, _ = straight
    one_line_error(train(data, out, "--resume", "--restarts", "3"), 2,
                   "--restarts 3 differs from the run's 2")
    one_line_error(train(data, out), 2, "already holds a run")
