"""Freeing a thread's OpenMP workers (what `charrnn serve` does once the batcher's thread
runs the model): the workers go, and torch computes as before on that thread."""

import os
import threading
from pathlib import Path

import pytest
import torch

from charrnn.openmp import release_worker_threads


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_release_frees_the_calling_threads_workers_and_torch_still_works():
    if torch.get_num_threads() < 2:
        pytest.skip("torch runs one thread here: there are no OpenMP workers to free")
    seen = {}

    def on_a_thread() -> None:
        before = _threads()
        big = torch.ones(4_000_000)  # large enough that torch runs it in parallel
        seen["sum"] = float(big.sum())
        seen["with workers"] = _threads()
        seen["released"] = release_worker_threads()
        seen["after release"] = _threads()
        seen["again"] = float((big * 2).sum())
        seen["before"] = before

    worker = threading.Thread(target=on_a_thread)
    worker.start()
    worker.join()
    if not seen["released"]:
        pytest.skip("this torch build's OpenMP runtime cannot release its workers")
    assert seen["with workers"] > seen["before"]
    assert seen["after release"] < seen["with workers"]
    assert seen["sum"] == 4_000_000 and seen["again"] == 8_000_000
