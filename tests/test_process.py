"""How importing paddle_gan sets up the process, observed from outside the package."""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

# Allocates 8 MB, frees it, and prints from glibc's mallinfo2: how many more regions were
# mapped for allocations while it lived (1 if it got a fresh mmap), and whether the heap kept
# the freed memory (1) or trimmed it back to the system (0).
MALLOC_PROBE = """
import ctypes, sys
if sys.argv[1] == "import":
    import paddle_gan
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


def has_mallinfo2() -> bool:
    try:
        return hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")
    except OSError:
        return False


def probe(import_package: bool, **env: str) -> tuple[int, int]:
    """(regions mapped for the 8 MB, heap kept after freeing it) in a fresh process."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    environ.update(env)
    out = subprocess.run([sys.executable, "-c", MALLOC_PROBE,
                          "import" if import_package else "plain"],
                         env=environ, capture_output=True, text=True, check=True).stdout
    mapped, kept = out.split()[-2:]
    return int(mapped), int(kept)


@pytest.mark.skipif(not has_mallinfo2(), reason="needs glibc 2.33+ (mallinfo2)")
def test_large_allocations_come_from_a_heap_that_keeps_them():
    assert probe(import_package=False)[0] == 1  # glibc's default: a fresh mmap
    assert probe(import_package=True) == (0, 1)
    # glibc's own setting for the first half alone: the heap serves 8 MB, then trims it
    assert probe(import_package=False, MALLOC_MMAP_THRESHOLD_=str(32 << 20)) == (0, 0)
    # thresholds the user set stand: a MALLOC_ variable or a glibc tunable
    assert probe(import_package=True, MALLOC_TRIM_THRESHOLD_="131072")[0] == 1
    assert probe(import_package=True, GLIBC_TUNABLES="glibc.malloc.trim_threshold=131072")[0] == 1
