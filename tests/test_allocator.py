"""Training keeps freed memory for reuse, so repeated large buffers stop faulting pages."""

import json
import subprocess
import sys

import pytest

from charrnn.allocator import _glibc_mallopt

# Allocates, writes and frees a 64 MiB tensor again and again, the way each training step
# takes its workspace; after a warm-up (glibc settles how it splits its heap), counts
# the page faults and the growth of resident memory over ten more rounds.
SCRIPT = """
import json, resource, sys, torch
from charrnn.allocator import retain_freed_memory
took = retain_freed_memory() if sys.argv[1] == "retain" else None
def round_trip():
    torch.empty(16 * 2**20).fill_(1.0)
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
for _ in range(12):
    round_trip()
faults, memory = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, resident()
for _ in range(10):
    round_trip()
print(json.dumps({"took": took, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                  - faults, "growth": resident() - memory}))
"""
PAGES = 64 * 2**20 // 4096  # of one round trip


def faults(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(_glibc_mallopt() is None, reason="the setting exists only in glibc")
def test_retained_memory_is_reused_without_page_faults():
    plain, retained = faults("plain"), faults("retain")
    assert retained["took"] is True
    assert retained["faults"] < PAGES / 10  # the same pages, reused
    assert retained["faults"] * 20 < plain["faults"]  # glibc's default: fresh pages each time
    assert retained["growth"] < PAGES * 4096 / 10  # and no more of them


def test_training_on_the_cpu_turns_it_on(tmp_path, monkeypatch):
    from charrnn.config import ModelConfig, TrainConfig
    from charrnn.data.cache import prepare
    from charrnn.training.loop import train_model

    calls = []
    monkeypatch.setattr("charrnn.training.loop.retain_freed_memory", lambda: calls.append(1))
    corpus_file = tmp_path / "c.txt"
    corpus_file.write_text("abcdefgh " * 200, encoding="utf-8")
    train_model(prepare(corpus_file), ModelConfig(hidden_size=8, embed_size=4),
          TrainConfig(steps=2, batch_size=2, seq_len=8, eval_every=2), tmp_path / "run")
    assert calls == [1]
