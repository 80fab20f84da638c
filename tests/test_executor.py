"""How Paddle's executor runs the Programs: serially (set by importing paddle_gan), with the
results of its threaded mode."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

import programs
from paddle_gan.session import Session
from paddle_gan.trainer import iteration

SERIAL = "FLAGS_new_executor_serial_run"


def trained_parameters(kind: str, steps: int = 2) -> dict[str, np.ndarray]:
    """Every parameter and BN statistic after ``steps`` seeded iterations in a new Session
    (a new Executor: its interpreters are built under the flag as it is now)."""
    session = Session(programs.build(programs.model_config(kind)), paddle.CPUPlace(), seed=0)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        real = rng.random((16, 784), dtype=np.float32)
        iteration(session, real, rng, fetch=True)
    return session.read(session.programs.parameter_names())


@pytest.mark.parametrize("kind", ["gan", "infogan"])
def test_serial_execution_trains_bitwise_like_the_threaded_executor(kind):
    assert paddle.get_flags(SERIAL)[SERIAL], "importing paddle_gan should set the serial mode"
    serial = trained_parameters(kind)
    paddle.set_flags({SERIAL: False})
    try:
        threaded = trained_parameters(kind)
    finally:
        paddle.set_flags({SERIAL: True})
    assert serial.keys() == threaded.keys()
    for name in serial:
        np.testing.assert_array_equal(serial[name], threaded[name], err_msg=name)
