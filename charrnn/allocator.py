"""Keep freed memory inside the process while training (or decoding batches) on the CPU.

By default glibc hands every large freed block back to the operating system (`munmap`,
or trimming the heap top) and maps fresh pages on the next request. A training step
allocates the same large buffers every time (the recurrent kernels' workspace alone is
batch x time x gates x hidden floats), so each step pays for the kernel zeroing those
pages again, one page fault per 4 KiB: a large share of a step
(`python bench/train_speed.py` measures it; docs/results.md has the figures). Asking
glibc (`mallopt`) to
serve large blocks from its heap and never trim it lets the next step reuse the
already-mapped pages. The cost is that the process keeps its peak memory until it
exits, which a training run reaches anyway.

Batched decoding gains too: a batch's products allocate fresh outputs each step, and past
glibc's mmap threshold (at about 64 rows) each would be new pages, a tenth or more of a
step (`bench/decode.py`).

The setting is process-wide and, like glibc's own tuning variables, it lasts until the
process ends, so the library never makes it on its own: the commands turn it on at their
start, and a Python user with `charrnn.tune_for_speed()`. Elsewhere than glibc (macOS,
musl, Windows) nothing changes.
"""

from __future__ import annotations

import ctypes
import functools

# mallopt parameters from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_NEVER_TRIM = 2**31 - 1  # the largest value mallopt's int argument takes


@functools.cache
def _glibc_mallopt():
    """glibc's `mallopt`, or None where the C library is not glibc."""
    try:  # the C library this process runs on (find_library would start `ldconfig`)
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  (only glibc has it)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # TypeError: Windows has no CDLL(None)
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


@functools.cache
def retain_freed_memory() -> bool:
    """Make glibc keep large freed blocks for reuse instead of returning them to the
    system. Returns whether the setting took effect (False off glibc)."""
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    # no mmap-backed blocks (whose free always unmaps), and no trimming of the heap top
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
