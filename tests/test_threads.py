"""Idle worker threads kept off the decoding threads' cores: a thread's OpenMP workers are
freed (what `charrnn serve` does once the batcher's thread runs the model) and torch
computes as before; OpenBLAS's idle worker stops spinning soon after its last product in
a `charrnn` command or after `charrnn.tune_for_speed()` (never on `import charrnn` alone:
see test_host_untouched.py)."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

_RELEASE = """
import os, threading, time
import torch
from charrnn.threads import release_worker_threads

def threads():
    return set(os.listdir("/proc/self/task"))

seen = {}

def on_a_thread():
    before = threads()
    big = torch.ones(4_000_000)  # large enough that torch runs it in parallel
    seen["sum"] = float(big.sum())
    workers = threads() - before  # this thread's new OpenMP workers
    seen["workers"] = len(workers)
    seen["released"] = release_worker_threads()
    deadline = time.monotonic() + 5  # a freed worker takes a moment to exit
    while workers & threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    seen["left"] = len(workers & threads())
    seen["again"] = float((big * 2).sum())

worker = threading.Thread(target=on_a_thread)
worker.start()
worker.join()
print(seen)
"""


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_release_frees_the_calling_threads_workers_and_torch_still_works():
    """In a process of its own, as `charrnn serve` is: a test process's earlier tests
    leave thread pools of their own behind."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: torch runs no OpenMP workers to free")
    done = subprocess.run([sys.executable, "-c", _RELEASE], capture_output=True, text=True,
                          check=True)
    seen = ast.literal_eval(done.stdout.strip())
    if not seen["released"]:
        pytest.skip("this torch build's OpenMP runtime cannot release its workers")
    assert seen["workers"] > 0 and seen["left"] == 0
    assert seen["sum"] == 4_000_000 and seen["again"] == 8_000_000


_IDLE_SPIN = """
import os, time
import numpy as np

def others() -> float:
    ticks = 0
    for tid in os.listdir("/proc/self/task"):
        if int(tid) != os.getpid():
            ticks += sum(int(x) for x in open(f"/proc/self/task/{tid}/stat").read().split()[13:15])
    return ticks / os.sysconf("SC_CLK_TCK")

w = np.ones((2048, 2048), np.float32)
v = np.ones(2048, np.float32)
for _ in range(50):
    w @ v  # OpenBLAS's threaded matrix-vector product
before = others()
time.sleep(0.3)
print(others() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("first", ["tune", "command"])
def test_openblas_workers_stop_spinning_soon_after_their_last_product(first,
                                                                       tuned_as_asked):
    def idle_cpu_seconds(first: str) -> float:
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
        script = tuned_as_asked + _IDLE_SPIN
        done = subprocess.run([sys.executable, "-c", script, first], env=env,
                              capture_output=True, text=True, check=True)
        return float(done.stdout.strip().splitlines()[-1])  # after what a command printed

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: OpenBLAS runs no worker threads")
    if idle_cpu_seconds("numpy") < 0.05:
        pytest.skip("this numpy's OpenBLAS does not spin after its last product")
    assert idle_cpu_seconds(first) < 0.03


def openblas_variable(script: str, **env: str) -> str | None:
    """OPENBLAS_THREAD_TIMEOUT after `script`, in a process that starts with `env` set."""
    env = {**{k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}, **env}
    done = subprocess.run([sys.executable, "-c", f"import os\n{script}\n"
                           "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"],
                          env=env, capture_output=True, text=True, check=True)
    return None if done.stdout.strip() == "None" else done.stdout.strip()


def test_an_openblas_setting_already_made_is_kept():
    tune = "import charrnn; charrnn.tune_for_speed()"
    assert openblas_variable(tune, OPENBLAS_THREAD_TIMEOUT="25") == "25"


def test_tuning_after_numpy_is_loaded_leaves_the_variable_unset():
    """OpenBLAS has read its settings by then: the process is not told otherwise."""
    assert openblas_variable("import numpy, charrnn; charrnn.tune_for_speed()") is None
