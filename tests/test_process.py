"""How importing paddle_gan sets up the process, observed from outside the package."""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

# Counts the memory regions glibc has mapped for allocations (mallinfo2's hblks) before and
# after allocating 8 MB: one more when the allocation was served by a fresh mmap.
MAPPED_FOR_8_MB = """
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
print(libc.mallinfo2().hblks - before)
"""


def has_mallinfo2() -> bool:
    try:
        return hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")
    except OSError:
        return False


def mapped_regions(import_package: bool, **env: str) -> int:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    environ.update(env)
    out = subprocess.run([sys.executable, "-c", MAPPED_FOR_8_MB,
                          "import" if import_package else "plain"],
                         env=environ, capture_output=True, text=True, check=True).stdout
    return int(out.split()[-1])


@pytest.mark.skipif(not has_mallinfo2(), reason="needs glibc 2.33+ (mallinfo2)")
def test_large_allocations_come_from_the_reused_heap():
    assert mapped_regions(import_package=False) == 1  # glibc's default: a fresh mmap
    assert mapped_regions(import_package=True) == 0
    # a MALLOC_ setting the user exported is left alone
    assert mapped_regions(import_package=True, MALLOC_TRIM_THRESHOLD_="131072") == 1
