"""Kept freed memory is reused, so repeated large buffers stop faulting pages; the commands
and `charrnn.tune_for_speed()` turn it on (the library alone never does: see
test_host_untouched.py)."""

import functools
import json
import subprocess
import sys

import pytest

from charrnn.allocator import _glibc_mallopt

# Allocates, writes and frees a 64 MiB tensor again and again, the way each training step
# takes its workspace; after a warm-up (glibc settles how it splits its heap), counts
# the page faults and the growth of resident memory over ten more rounds.
SCRIPT = """
import json, resource, sys
took = None
if sys.argv[1] == "retain":
    from charrnn.allocator import retain_freed_memory
    took = retain_freed_memory()
"""
MEASURED = """
import torch
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


@functools.cache  # glibc's default ("plain") is measured once for the three tests
def faults(mode: str, tuned_as_asked: str) -> dict:
    script = SCRIPT + tuned_as_asked + MEASURED
    done = subprocess.run([sys.executable, "-c", script, mode], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # after what a command printed


@pytest.mark.skipif(_glibc_mallopt() is None, reason="the setting exists only in glibc")
def test_retained_memory_is_reused_without_page_faults(tuned_as_asked):
    plain, retained = faults("plain", tuned_as_asked), faults("retain", tuned_as_asked)
    assert retained["took"] is True
    assert retained["faults"] < PAGES / 10  # the same pages, reused
    assert retained["faults"] * 20 < plain["faults"]  # glibc's default: fresh pages each time
    assert retained["growth"] < PAGES * 4096 / 10  # and no more of them


@pytest.mark.skipif(_glibc_mallopt() is None, reason="the setting exists only in glibc")
@pytest.mark.parametrize("how", ["tune", "command"])
def test_the_commands_and_tune_for_speed_turn_it_on(how, tuned_as_asked):
    plain, tuned = faults("plain", tuned_as_asked), faults(how, tuned_as_asked)
    assert tuned["faults"] < PAGES / 10 and tuned["faults"] * 20 < plain["faults"]
