"""The process-wide set-up paddle-gan runs with: one call, :func:`configure`, made first.

Every entry point (``train.py``, ``infer.py``, ``evaluate.py``, the benchmarks) and the
notebook call it before anything imports Paddle, because most of what it sets is read by
Paddle, glog and MKL when they load. Importing this module, or any other of the package,
changes nothing in the process beyond what ``import paddle`` itself does.

Each setting below says why it is made and how a user overrides it: every environment
variable is only a default, so a value exported before the process starts wins, and glibc's
malloc is left alone wherever the user set its thresholds.
"""
from __future__ import annotations

import ctypes
import os
import sys
import warnings

# glibc's malloc settings for keeping freed memory, by the environment variables that set them
# in a process of one's own (benchmarks/compare.py gives them to the PyTorch peer)
GLIBC_MALLOC = {"MALLOC_MMAP_THRESHOLD_": 32 << 20, "MALLOC_TRIM_THRESHOLD_": 1 << 30}
_MALLOPT_PARAMETER = {"MALLOC_TRIM_THRESHOLD_": -1, "MALLOC_MMAP_THRESHOLD_": -3}  # malloc.h

# Paddle flags read from the environment when Paddle is imported; each one's reason is in
# configure(). A value the user exported wins.
EXECUTOR_FLAGS = {
    "FLAGS_new_executor_serial_run": "1",
    "FLAGS_new_executor_sequential_run": "1",
    "FLAGS_eager_delete_tensor_gb": "0.01",
}

_configured = False


def configure() -> None:
    """Set up this process for paddle-gan, then import Paddle in static-graph mode.

    Must run before anything imports Paddle (it raises otherwise); a second call does
    nothing. What it sets, and why:

    - ``GLOG_minloglevel=2``: Paddle's C++ INFO and WARNING logs (start-up chatter) stay quiet.
    - ``MKL_DEBUG_CPU_TYPE=5`` on AMD CPUs with AVX2: the MKL in Paddle's CPU wheels gives
      other vendors' CPUs its generic code path, far slower at matrix products; 5 selects
      the AVX2 path (BENCHMARKS.md).
    - glibc's malloc keeps freed memory and serves allocations up to 32 MB from its heap
      (:func:`reuse_freed_memory`).
    - ``FLAGS_new_executor_serial_run=1``: each Program's ops run on one executor thread, in
      order, instead of competing with the math libraries' own threads; bitwise-equal results
      and a faster MLP-GAN (BENCHMARKS.md). An executor fails if the mode changes under it,
      so it is chosen once, here.
    - ``FLAGS_new_executor_sequential_run=1``: on Paddle 2.6's legacy IR the executor still ran
      independent ops on several threads, and with InfoGAN's code terms seeded runs then
      differed in the fourth decimal; this makes it run them one at a time, in order.
    - ``FLAGS_eager_delete_tensor_gb=0.01``: the executor hands freed tensors to its garbage
      collector thread 10 MB at a time instead of one task per tensor, which took cycles
      from the math libraries; bitwise-equal results (BENCHMARKS.md).
    - Python's zlib is loaded before Paddle: loaded after paddlepaddle 2.6.2 (as numpy.random
      does on first use), it crashed the process in inflateReset2.
    - Two Python warnings Paddle gives on every run and that ask nothing of the user (no
      ccache for C++ extensions; the executor's place under PIR) are filtered.
    - Paddle is switched to static-graph mode, which every Program here is built in.
    - Where the CPU convolutions can run on oneDNN (:mod:`paddle_gan.static.onednn`), Paddle's
      ``onednn_op`` dialect is registered, which Paddle itself does only on first use of
      oneDNN (:func:`paddle_gan.static.paddle_api.load_onednn_dialect`).
    """
    global _configured
    if _configured:
        return
    if "paddle" in sys.modules:
        raise RuntimeError("paddle_gan.runtime.configure() must run before Paddle is imported: "
                           "it sets what Paddle, glog and MKL read when they load")
    os.environ.setdefault("GLOG_minloglevel", "2")
    if _amd_with_avx2():
        os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
    reuse_freed_memory()
    for flag, value in EXECUTOR_FLAGS.items():
        os.environ.setdefault(flag, value)
    import zlib  # noqa: F401  (before Paddle; see above)

    warnings.filterwarnings("ignore", message="No ccache found")
    warnings.filterwarnings("ignore", message=".*'place' interface for pir graph mode")
    import paddle

    from paddle_gan.static import paddle_api

    paddle.enable_static()
    if paddle_api.onednn_rewrites():
        paddle_api.load_onednn_dialect()
    _configured = True


def _amd_with_avx2() -> bool:
    """Whether the first CPU in /proc/cpuinfo is an AMD one with AVX2 (False off Linux)."""
    vendor, flags = "", set()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "vendor_id":
                    vendor = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return vendor == "AuthenticAMD" and "avx2" in flags


def user_set_malloc(environ: dict[str, str]) -> bool:
    """Whether ``environ`` sets glibc's malloc thresholds itself (a MALLOC_ variable above or
    a glibc.malloc tunable), in which case those settings stand and ours are not applied."""
    return (any(name in environ for name in GLIBC_MALLOC)
            or "glibc.malloc." in environ.get("GLIBC_TUNABLES", ""))


def reuse_freed_memory() -> None:
    """glibc serves a large allocation from a fresh mmap and unmaps it on free, so every
    training step page-faults its big activations and gradients anew, and oneDNN's buffers
    with them. Serving allocations up to 32 MB
    (the most glibc's own adaptive threshold reaches) from the heap, and keeping freed heap
    memory instead of trimming it, trains InfoGAN and serves both generators faster on the CPU
    (BENCHMARKS.md). Only with glibc, and not where the user set the thresholds."""
    if user_set_malloc(dict(os.environ)):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return
    for name, value in GLIBC_MALLOC.items():
        mallopt(_MALLOPT_PARAMETER[name], value)
