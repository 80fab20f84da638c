"""How Paddle's executor runs the Programs: serially and freeing tensors in batches (both set
by ``runtime.configure()``), with the results of its threaded mode and of freeing each tensor
at once; and through executors the Session keeps prepared, with the results of
``Executor.run``."""
from __future__ import annotations

import os

import numpy as np
import paddle
import pytest

import programs
from paddle_gan.static import paddle_api
from paddle_gan.nn.networks import IMAGE_PIXELS
from paddle_gan.static.session import Session
from paddle_gan.training.trainer import iteration

SERIAL = "FLAGS_new_executor_serial_run"
GC_BATCH = "FLAGS_eager_delete_tensor_gb"


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


def trained_with(kind: str, flag: str, value: bool | float) -> dict[str, np.ndarray]:
    """:func:`trained_parameters` over 4 steps with a Paddle flag set to ``value`` meanwhile:
    the new Session's executors are built and run under it. 4 steps, so that each executor
    (one per role and fetch list) runs twice: Paddle 2.6.2's executor creates its garbage
    collector, which reads the freeing flag, only on its second run."""
    before = paddle.get_flags(flag)[flag]
    paddle.set_flags({flag: value})
    try:
        return trained_parameters(kind, steps=4)
    finally:
        paddle.set_flags({flag: before})


def assert_bitwise_equal(here: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> None:
    assert here.keys() == other.keys()
    for name in here:
        np.testing.assert_array_equal(here[name], other[name], err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gan", "infogan"])
def test_serial_execution_trains_bitwise_like_the_threaded_executor(kind):
    serial_now = paddle.get_flags(SERIAL)[SERIAL]
    assert serial_now == (os.environ[SERIAL] not in ("0", "false", "False")), \
        "Paddle should run in the mode the environment names"
    assert_bitwise_equal(trained_with(kind, SERIAL, serial_now),
                         trained_with(kind, SERIAL, not serial_now))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gan", "infogan"])
def test_batched_freeing_trains_bitwise_like_freeing_each_tensor_at_once(kind):
    batch_gb = paddle.get_flags(GC_BATCH)[GC_BATCH]
    assert batch_gb == float(os.environ[GC_BATCH]), "Paddle should free as the environment says"
    # 0 is Paddle's default: each tensor handed to the collector as soon as it is last used
    other = 0.0 if batch_gb != 0 else 0.01
    assert_bitwise_equal(trained_with(kind, GC_BATCH, batch_gb),
                         trained_with(kind, GC_BATCH, other))


@pytest.mark.slow
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
    monkeypatch.setattr(paddle_api, "can_prepare", lambda executor, program: False)
    plain = trained_parameters(kind, steps=4)
    assert any(k.startswith("step 2/") for k in plain)
    assert_bitwise_equal(prepared, plain)
