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
from paddle_gan import checkpoint, restarts
from paddle_gan.data import load_dataset
from test_resilience import TINY, assert_same_run, losses, state_of

RESTARTS = ["--model", "infogan", "--restarts", "2", "--restart-steps", "3", "--max-steps", "6",
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


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("data") / "mnist", n_train=80)


@pytest.fixture(scope="module")
def straight(data, tmp_path_factory):
    """An uninterrupted run with two trials, and what it printed."""
    out = tmp_path_factory.mktemp("straight") / "run"
    return out, ok(train(data, out, *RESTARTS)).stdout


def test_the_trial_whose_q_informs_most_is_continued(data, straight, tmp_path):
    """Each trial's score is Q's I(c1; x) on unlabelled training images, recomputed here from
    its checkpoint; the highest is continued; trial 0 is the run's own seed, so it equals a
    run without restarts."""
    out, printed = straight
    selection = json.loads((out / "restarts" / restarts.SELECTION_FILE).read_text())
    images, _ = load_dataset(str(data), "train", verify=False)
    expected = []
    for trial in range(2):
        session, state, _ = programs.restore_session(restarts.trial_dir(out, trial),
                                                     paddle.CPUPlace())
        assert state["step"] == 3 and state["trial"] == trial
        probs = session.run_batches("encode", "real", images, ("cat_probs",))["cat_probs"]
        expected.append(information(probs))
    np.testing.assert_allclose(selection["scores"], expected, rtol=1e-6)
    assert expected[0] != expected[1], "the trials should differ"
    chosen = int(np.argmax(expected))
    assert selection["chosen"] == chosen
    assert f"continuing trial {chosen + 1}" in printed
    _, state = checkpoint.find(out)
    assert state["step"] == 6 and state["trial"] == chosen
    assert [r["step"] for r in losses(out)] == list(range(1, 7))  # the trial's steps, then its own

    plain = tmp_path / "plain"
    ok(train(data, plain, "--model", "infogan", "--max-steps", "3", "--threads", "1"))
    assert_same_run(plain, restarts.trial_dir(out, 0))


def test_a_kill_during_the_trials_at_the_choice_or_after_it_resumes_exactly(data, straight,
                                                                           tmp_path):
    """SIGKILL when trial 2 has saved its first checkpoint, when it has saved its last (the
    choice comes next), and when the run has saved its own first checkpoint; resuming
    after each ends equal to an uninterrupted run."""
    out = tmp_path / "killed"
    moments = [restarts.trial_dir(out, 1) / "checkpoints" / "step_000002",
               restarts.trial_dir(out, 1) / "checkpoints" / "step_000003",
               out / "checkpoints" / "step_000004"]
    for i, moment in enumerate(moments):
        command = [sys.executable, str(ROOT / "train.py"), *TINY, "--data-dir", str(data),
                   "--output", str(out), *RESTARTS] + (["--resume"] if i else [])
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and not moment.exists() and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL, f"the run ended before {moment}"
    ok(train(data, out, "--resume"))
    assert_same_run(straight[0], out)
    selection = out / "restarts" / restarts.SELECTION_FILE
    assert selection.read_text() == (straight[0] / "restarts" / restarts.SELECTION_FILE).read_text()


def test_restarts_need_q_room_to_continue_and_their_settings_kept(data, straight, tmp_path):
    one_line_error(train(data, tmp_path / "gan", "--model", "gan", "--restarts", "2"), 2,
                   "use it with --model infogan")
    one_line_error(train(data, tmp_path / "long", "--restarts", "2", "--restart-steps", "5",
                         "--max-steps", "5"), 2, "--restart-steps 5 leaves nothing to continue")
    out, _ = straight
    one_line_error(train(data, out, "--resume", "--restarts", "3"), 2,
                   "--restarts 3 differs from the run's 2")
    one_line_error(train(data, out), 2, "already holds a run")
