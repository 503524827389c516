"""Give back the calling thread's OpenMP worker threads when another thread will run the
model from now on.

torch's CPU kernels run on OpenMP, and libgomp keeps one pool of worker threads for every
thread that ever started a parallel region, for as long as that thread lives. `charrnn
serve` loads the model on the main thread and steps it on the batcher's thread, so two
pools exist. libgomp counts the workers of both pools against the machine's cores, and
where they outnumber the cores it lets a worker spin only briefly before it sleeps: every
parallel region then wakes its workers through the kernel. On the 2-core machine of
`bench/serve.py`, a batch-32 product of the `medium` model took 258 µs from the batcher's
thread while the main thread's pool existed and 193 µs once it was released (the same
as from the main thread alone). The pool is made again, at no measurable cost, the next
time the thread runs a parallel region.

`omp_pause_resource_all` (OpenMP 5.0) with `omp_pause_soft` frees the calling thread's
pool and keeps its settings (the thread count). It is looked up in the OpenMP runtime
this process already loaded (libgomp, LLVM's libomp or Intel's libiomp5); where there is
none, or it lacks the call, nothing happens.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

_RUNTIMES = ("libgomp", "libomp", "libiomp5")
_OMP_PAUSE_SOFT = 1


@functools.cache
def _pause_all():
    """The loaded OpenMP runtime's `omp_pause_resource_all`, or None."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:  # not Linux: nothing to look in
        return None
    for line in maps.splitlines():
        path = line.split()[-1]
        if Path(path).name.startswith(_RUNTIMES):
            try:
                pause = ctypes.CDLL(path).omp_pause_resource_all
            except (OSError, AttributeError):
                continue
            pause.argtypes, pause.restype = [ctypes.c_int], ctypes.c_int
            return pause
    return None


def release_worker_threads() -> bool:
    """Free the OpenMP worker threads of the calling thread (see the module doc); whether
    a runtime did so."""
    import torch  # noqa: F401  (its OpenMP runtime must be loaded to be found)

    pause = _pause_all()
    return pause is not None and pause(_OMP_PAUSE_SOFT) == 0
