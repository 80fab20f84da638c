"""paddle-gan: the PaddlePaddle InfoGAN article's GANs as static-graph Programs sharing named parameters.

Importing the package sets up the process for Paddle, so it must come before ``import paddle``:
it quiets Paddle's start-up chatter (C++ INFO logs, a ccache notice) unless the user chose
otherwise through GLOG_minloglevel, on AMD CPUs it points MKL at its AVX2 code path, it runs
Paddle's executor serially and has it free tensors in batches, it keeps freed memory for reuse
(glibc), and it loads Python's zlib first: loaded after paddlepaddle 2.6.2 (as numpy.random does
on first use), it crashed the process in inflateReset2.
"""
import ctypes
import os
import warnings
import zlib  # noqa: F401  (before Paddle; see above)


def _cpu_flags() -> tuple[str, set[str]]:
    """(vendor, flags) of the first CPU in /proc/cpuinfo; empty where there is none (not Linux)."""
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
    return vendor, flags


def _mkl_on_amd() -> None:
    """The MKL that Paddle's CPU wheels ship dispatches by CPU vendor and gives AMD CPUs its
    generic code: matmul ran at 54 GFLOP/s instead of 166 on the 2-core EPYC this was measured
    on, which made InfoGAN training 2x slower. ``MKL_DEBUG_CPU_TYPE=5`` selects the AVX2 path;
    it is only set where the CPU has AVX2, and never over a value the user chose."""
    vendor, flags = _cpu_flags()
    if vendor == "AuthenticAMD" and "avx2" in flags:
        os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")


# glibc's malloc settings for keeping freed memory, by the environment variables that set them
# in a process of one's own (benchmarks/compare.py gives them to the PyTorch peer)
GLIBC_MALLOC = {"MALLOC_MMAP_THRESHOLD_": 32 << 20, "MALLOC_TRIM_THRESHOLD_": 1 << 30}
_MALLOPT_PARAMETER = {"MALLOC_TRIM_THRESHOLD_": -1, "MALLOC_MMAP_THRESHOLD_": -3}  # malloc.h


def user_set_malloc(environ: dict[str, str]) -> bool:
    """Whether ``environ`` sets glibc's malloc thresholds itself (a MALLOC_ variable above or
    a glibc.malloc tunable), in which case those settings stand and ours are not applied."""
    return (any(name in environ for name in GLIBC_MALLOC)
            or "glibc.malloc." in environ.get("GLIBC_TUNABLES", ""))


def _reuse_freed_memory() -> None:
    """glibc serves a large allocation from a fresh mmap and unmaps it on free, so every
    training step page-faults its big activations and gradients anew (InfoGAN's [6272, 1024]
    weight gradient is 25 MB: 6,272 page faults), and oneDNN's buffers with them. Serving
    allocations up to 32 MB (the most glibc's own adaptive threshold reaches) from the heap,
    and keeping freed heap memory instead of trimming it, trains InfoGAN and serves both
    generators faster on the CPU (BENCHMARKS.md). Only with glibc, and not where the user set
    the thresholds (:func:`user_set_malloc`)."""
    if user_set_malloc(dict(os.environ)):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return
    for name, value in GLIBC_MALLOC.items():
        mallopt(_MALLOPT_PARAMETER[name], value)


os.environ.setdefault("GLOG_minloglevel", "2")
_mkl_on_amd()
_reuse_freed_memory()
# Every op of a Program on one executor thread, in order, instead of independent ops spread
# over worker threads that compete with the math libraries' own: on the CPU (Paddle 3.3.1) the
# MLP-GAN's small ops train faster this way, InfoGAN's no slower, with bitwise-equal results
# (BENCHMARKS.md). An executor built in one mode fails when run in the other, so the mode is
# chosen once, here, before Paddle reads it; a value the user exported wins.
os.environ.setdefault("FLAGS_new_executor_serial_run", "1")
# The executor frees each intermediate tensor after its last use by posting it, one task per
# tensor, to a garbage-collector thread that spins and yields between tasks; on a small CPU
# that thread takes cycles from the math libraries' threads. Handing it 10 MB of tensors at a
# time instead trains the MLP-GAN 1.2x faster and InfoGAN no slower, with bitwise-equal results
# and under 10 MB more peak memory in training (BENCHMARKS.md). Paddle reads it when an executor
# creates its collector (first run on PIR, second on 2.6.2); a value the user exported wins.
os.environ.setdefault("FLAGS_eager_delete_tensor_gb", "0.01")
warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message=".*'place' interface for pir graph mode")
