"""The worker threads that torch (OpenMP) and numpy (OpenBLAS) keep for parallel work,
told to get out of the way of the threads that decode.

On a machine with few cores, a pool's idle workers that busy-wait take the cores from the
pool doing the work. Two cases matter here, both measured by `bench/serve.py` on a
2-core machine (the figures are in docs/results.md):

- **OpenMP pools of other threads.** libgomp keeps one pool of workers for every thread
  that ever started a parallel region, for as long as that thread lives. `charrnn serve`
  loads the model on the main thread and steps it on the batcher's thread, so two pools
  existed. libgomp counts the workers of both against the cores, and where they
  outnumber the cores it lets a worker spin only briefly before it sleeps: every parallel
  region then wakes its workers through the kernel, and a batched product on the
  batcher's thread ran about a third slower while the main thread's pool existed than
  once it was released. `release_worker_threads`
  frees the calling thread's pool with `omp_pause_resource_all` (OpenMP 5.0,
  `omp_pause_soft`, which keeps the thread count); the pool is made again, at no
  measurable cost, the next time that thread runs a parallel region. It is looked up in
  the OpenMP runtime this process already loaded (libgomp, LLVM's libomp or Intel's
  libiomp5); where there is none, or it lacks the call, nothing happens.
- **OpenBLAS's spinning.** After its last call, OpenBLAS's worker spins for 2^28 clock
  ticks (about 0.1 s) before it sleeps. A one-row decoding step runs on OpenBLAS (numpy's
  matrix-vector product), a prime read in one pass on torch's pool: a prime read just
  after a generation ended waited for the spinning worker, nearly doubling the time to
  its first character. `shorten_openblas_spin` sets `OPENBLAS_THREAD_TIMEOUT=22`
  (2^22 ticks, a millisecond or two: longer than the gap between two steps, so a generation's
  products never wait for a sleeping worker; `charrnn sample` ran as fast either way).
  OpenBLAS reads it once, when numpy loads it, so it only takes effect before numpy is
  imported (the commands call it first thing, through `charrnn.tune_for_speed`), and a
  value already set is kept. The variable is inherited by child processes.

Nothing here runs on `import charrnn`, `load` or `train`: `charrnn serve` releases its
threads' workers, and every command shortens the spin at its start.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from pathlib import Path

_RUNTIMES = ("libgomp", "libomp", "libiomp5")
_OMP_PAUSE_SOFT = 1
OPENBLAS_TIMEOUT = "22"  # log2 of the clock ticks OpenBLAS's idle worker spins


def shorten_openblas_spin() -> bool:
    """Set `OPENBLAS_THREAD_TIMEOUT` (see the module doc) unless it is set already; whether
    it can still take effect (not once numpy, and so OpenBLAS, is loaded)."""
    if "numpy" in sys.modules:  # OpenBLAS has read its settings
        return False
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", OPENBLAS_TIMEOUT)
    return True


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
    """Free the OpenMP worker threads of the calling thread (see the module doc): once
    another thread runs the model from then on. Whether a runtime did so."""
    import torch  # noqa: F401  (its OpenMP runtime must be loaded to be found)

    pause = _pause_all()
    return pause is not None and pause(_OMP_PAUSE_SOFT) == 0
