"""The process set-up: ``runtime.configure()`` makes it, and importing the package makes none
of it. Observed from outside, in fresh processes."""
from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from paddle_gan.runtime import EXECUTOR_FLAGS

# Allocates 8 MB, frees it, and prints from glibc's mallinfo2: how many more regions were
# mapped for allocations while it lived (1 if it got a fresh mmap), and whether the heap kept
# the freed memory (1) or trimmed it back to the system (0).
MALLOC_PROBE = """
import ctypes, sys
if sys.argv[1] == "configure":
    from paddle_gan import runtime
    runtime.configure()
elif sys.argv[1] == "import":
    import paddle_gan, paddle_gan.runtime, paddle_gan.data, paddle_gan.training.trainer, programs
import numpy as np
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
before = libc.mallinfo2().hblks
block = np.ones(8 << 20, dtype=np.uint8)
mapped = libc.mallinfo2().hblks - before
heap = libc.mallinfo2().arena
del block
print(mapped, int(libc.mallinfo2().arena >= heap))
"""

# What the process looks like after the imports named in argv[1:]: its environment, the
# Paddle flags configure() sets, the warning filters, Paddle's mode and matplotlib's backend.
STATE_PROBE = """
import importlib, json, os, sys, warnings
for name in sys.argv[1:]:
    if name == "configure()":
        from paddle_gan import runtime
        runtime.configure()
    else:
        importlib.import_module(name)
import matplotlib, paddle
flags = %r
print(json.dumps({"environ": dict(os.environ), "flags": paddle.get_flags(flags),
                  "warnings": [str(f) for f in warnings.filters],
                  "dynamic": paddle.in_dynamic_mode(), "backend": matplotlib.get_backend()}))
""" % list(EXECUTOR_FLAGS)

# every module of the package and of programs/, by its import name
EVERY_MODULE = sorted(str(path.relative_to(ROOT).with_suffix("")).replace("/", ".")
                      .removesuffix(".__init__")
                      for path in [*ROOT.glob("paddle_gan/**/*.py"), *ROOT.glob("programs/*.py")])


def clean_environ(**env: str) -> dict[str, str]:
    """This process's environment without what configure() or the user may have set."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("MALLOC_", "FLAGS_", "GLOG_", "MKL_DEBUG"))
               and k != "GLIBC_TUNABLES"}
    environ.update(env)
    return environ


def run_probe(code: str, *args: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], env=clean_environ(**env),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def has_mallinfo2() -> bool:
    try:
        return hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")
    except OSError:
        return False


def malloc_probe(mode: str, **env: str) -> tuple[int, int]:
    """(regions mapped for the 8 MB, heap kept after freeing it) in a fresh process."""
    mapped, kept = run_probe(MALLOC_PROBE, mode, **env).split()
    return int(mapped), int(kept)


@pytest.mark.slow
def test_importing_every_module_changes_nothing_beyond_importing_paddle():
    plain = json.loads(run_probe(STATE_PROBE, "paddle"))
    imported = json.loads(run_probe(STATE_PROBE, *EVERY_MODULE))
    assert imported == plain
    configured = json.loads(run_probe(STATE_PROBE, "configure()"))
    assert configured != plain  # the probe sees what configure() changes


@pytest.mark.slow
@pytest.mark.skipif(not has_mallinfo2(), reason="needs glibc 2.33+ (mallinfo2)")
def test_only_configure_keeps_freed_memory():
    assert malloc_probe("plain")[0] == 1  # glibc's default: a fresh mmap
    assert malloc_probe("import")[0] == 1  # importing the package leaves malloc alone
    assert malloc_probe("configure") == (0, 1)
    # glibc's own setting for the first half alone: the heap serves 8 MB, then trims it
    assert malloc_probe("plain", MALLOC_MMAP_THRESHOLD_=str(32 << 20)) == (0, 0)
    # thresholds the user set stand: a MALLOC_ variable or a glibc tunable
    assert malloc_probe("configure", MALLOC_TRIM_THRESHOLD_="131072")[0] == 1
    assert malloc_probe("configure", GLIBC_TUNABLES="glibc.malloc.trim_threshold=131072")[0] == 1


@pytest.mark.parametrize("flag, ours, users", [("FLAGS_new_executor_serial_run", True, False),
                                               ("FLAGS_new_executor_sequential_run", True, False),
                                               ("FLAGS_eager_delete_tensor_gb", 0.01, 0.5)])
@pytest.mark.slow
def test_configure_sets_executor_flags_unless_the_user_chose(flag, ours, users):
    code = ("from paddle_gan import runtime; runtime.configure(); import paddle; "
            f"print(repr(paddle.get_flags('{flag}')['{flag}']))")
    assert run_probe(code) == repr(ours)
    assert run_probe(code, **{flag: str(users)}) == repr(users)


def test_configure_refuses_to_run_after_paddle_is_imported():
    code = "import paddle\nfrom paddle_gan import runtime\nruntime.configure()"
    done = subprocess.run([sys.executable, "-c", code], env=clean_environ(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "before Paddle is imported" in done.stderr
