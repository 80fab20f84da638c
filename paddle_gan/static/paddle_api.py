"""Paddle's private API and IR checks, in one place.

Everything here reaches past Paddle's public API, and each function names the Paddle versions
it was checked on. Where an internal is missing, its caller falls back to public API, so a
Paddle release that moves one costs speed, not correctness.
"""
from __future__ import annotations

import numpy as np
import paddle


def is_pir(program: paddle.static.Program) -> bool:
    """Whether ``program`` is a PIR Program (Paddle 3.x's default) rather than a legacy-IR
    one (Paddle 2.6, or 3.x with ``FLAGS_enable_pir_api=0``). Checked on 3.3.1 and 2.6.2."""
    return isinstance(program, getattr(paddle.pir, "Program", ()))


def can_prepare(executor: paddle.static.Executor, program: paddle.static.Program) -> bool:
    """Whether this Paddle has the executor internals :func:`prepare` and :func:`feed` call,
    for PIR Programs such as ``program``. Present in 3.3.1; absent for 2.6.2's legacy IR."""
    return (is_pir(program)
            and hasattr(executor, "_pir_feed_data")
            and hasattr(getattr(executor, "_executor_cache", None),
                        "get_pir_program_and_executor"))


def prepare(executor: paddle.static.Executor, program: paddle.static.Program,
            feed: dict[str, np.ndarray], fetch_list: list,
            place: paddle.CPUPlace | paddle.CUDAPlace, scope: paddle.static.Scope) -> tuple:
    """The lowered Program, its prepared executor and its data ops, as ``Executor.run`` finds
    them in its cache (3.3.1). Kept by the caller, it need not be found again: Paddle keys
    that cache on ``str(program)``, printing the whole Program on every run."""
    return executor._executor_cache.get_pir_program_and_executor(
        program, feed, fetch_list, "feed", "fetch", place, scope, executor.plan)


def feed(executor: paddle.static.Executor, prepared: tuple, values: dict[str, np.ndarray],
         scope: paddle.static.Scope) -> list[str]:
    """Put ``values`` into the feed variables of a :func:`prepare`d Program, as
    ``Executor.run`` does (3.3.1); returns the names fed (Paddle drops names the Program has
    no input for)."""
    lowered, _, data_ops = prepared
    fed = dict(values)
    executor._pir_feed_data(lowered, fed, scope, data_ops)
    return list(fed)


def load_onednn_dialect() -> None:
    """Register Paddle's ``onednn_op`` dialect, which :mod:`paddle_gan.static.onednn` rewrites
    convolutions into. Paddle registers it only when it first lowers a Program with
    ``FLAGS_use_mkldnn`` on (3.3.1 has no Python call for it), so lower a 2x2 Program once
    that way and restore the flag. Called once, by :func:`paddle_gan.runtime.configure`."""
    old = paddle.get_flags(["FLAGS_use_mkldnn"])["FLAGS_use_mkldnn"]
    paddle.set_flags({"FLAGS_use_mkldnn": True})
    try:
        main = paddle.static.Program()
        with paddle.static.program_guard(main, paddle.static.Program()):
            x = paddle.static.data("x", [2, 2], "float32")
            y = x * 2.0
        paddle.static.Executor(paddle.CPUPlace()).run(
            main, feed={"x": np.ones((2, 2), np.float32)}, fetch_list=[y],
            scope=paddle.static.Scope())
    finally:
        paddle.set_flags({"FLAGS_use_mkldnn": old})


def onednn_rewrites() -> bool:
    """Whether :mod:`paddle_gan.static.onednn` can rewrite this process's Programs: a oneDNN build,
    Paddle's DRR pattern API (3.3.1) and PIR switched on (not on 2.6.2)."""
    return (paddle.base.core.is_compiled_with_mkldnn()
            and hasattr(paddle.pir, "DrrPatternContext") and paddle.framework.use_pir_api())
