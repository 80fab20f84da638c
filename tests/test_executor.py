"""How Paddle's executor runs the Programs: serially (set by importing paddle_gan), with the
results of its threaded mode; and through executors the Session keeps prepared, with the
results of ``Executor.run``."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

import programs
from paddle_gan import session as session_module
from paddle_gan.networks import IMAGE_PIXELS
from paddle_gan.session import Session
from paddle_gan.trainer import iteration

SERIAL = "FLAGS_new_executor_serial_run"


def trained_parameters(kind: str, steps: int = 2) -> dict[str, np.ndarray]:
    """Every parameter and BN statistic after seeded iterations, as train.py builds the
    model, and each iteration's fetched losses under ``step <i>/``. Always a new Session: an
    executor runs its Programs only in the mode they were first run in, so nothing built
    before the flag changed may run here."""
    model = programs.build_for(programs.model_config(kind), paddle.CPUPlace())
    session = Session(model, paddle.CPUPlace(), seed=0)
    rng = np.random.default_rng(0)
    values = {}
    for i in range(steps):
        real = rng.random((16, IMAGE_PIXELS), dtype=np.float32)
        logged = iteration(session, real, rng, fetch=i % 2 == 0)  # with and without fetches
        for name, value in logged.items():
            values[f"step {i}/{name}"] = np.asarray(value)
    values.update(session.read(model.parameter_names()))
    return values


def test_importing_paddle_gan_sets_the_serial_mode_unless_the_user_chose():
    def value_after_import(env: dict[str, str]) -> str:
        code = f"import os, paddle_gan; print(os.environ['{SERIAL}'])"
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True)
        return done.stdout.strip()

    env = {k: v for k, v in os.environ.items() if k != SERIAL}
    assert value_after_import(env) == "1"
    env[SERIAL] = "0"
    assert value_after_import(env) == "0"


@pytest.mark.parametrize("kind", ["gan", "infogan"])
def test_serial_execution_trains_bitwise_like_the_threaded_executor(kind):
    serial_now = paddle.get_flags(SERIAL)[SERIAL]
    assert serial_now == (os.environ[SERIAL] not in ("0", "false", "False")), \
        "Paddle should run in the mode the environment names"
    here = trained_parameters(kind)
    paddle.set_flags({SERIAL: not serial_now})
    try:
        other = trained_parameters(kind)
    finally:
        paddle.set_flags({SERIAL: serial_now})
    assert here.keys() == other.keys()
    for name in here:
        np.testing.assert_array_equal(here[name], other[name], err_msg=name)


@pytest.mark.parametrize("kind", ["gan", "infogan"])
def test_prepared_executors_train_bitwise_like_executor_run(kind, monkeypatch):
    runs = []
    run_prepared = Session._run_prepared

    def counted(self, *args):
        runs.append(args[0])
        return run_prepared(self, *args)

    monkeypatch.setattr(Session, "_run_prepared", counted)
    prepared = trained_parameters(kind, steps=4)
    assert len(runs) == (8 if paddle.framework.use_pir_api() else 0)  # 2.6.2: Executor.run
    monkeypatch.setattr(session_module, "_can_prepare", lambda executor, program: False)
    plain = trained_parameters(kind, steps=4)
    assert prepared.keys() == plain.keys() and any(k.startswith("step 2/") for k in plain)
    for name in prepared:
        np.testing.assert_array_equal(prepared[name], plain[name], err_msg=name)
