"""A polite library: `import charrnn`, `charrnn.load()` and `charrnn.train()` leave the
process that uses them as they found it (environment, allocator, global random
generators, signal handlers, thread count), when training ends well and when it fails.
Each check runs in a fresh process, as a host script would."""

import json
import subprocess
import sys

import pytest

# Prints what changed: the environment by the import alone (before numpy is loaded, when
# the old import set OpenBLAS's variable), then everything else by a training run
# (`sys.argv[1]`: "ends" or "fails" at its first step), a load and a sample.
HOST = """
import json, os, sys
environment = dict(os.environ)
import charrnn
imported = dict(os.environ) == environment
import pickle, random, resource, signal
import numpy as np
import torch
import torch._dynamo  # torch's own: its optimisers import it, which sets a cache variable
from charrnn.training.report import SilentReporter

def faults() -> int:
    '''Page faults of ten rounds of taking and freeing a 64 MiB buffer: about 16,000 each
    while glibc gives freed memory back to the system, none once it is told to keep it.'''
    for _ in range(12):
        torch.empty(16 * 2**20).fill_(1.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        torch.empty(16 * 2**20).fill_(1.0)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

def host() -> dict:
    return {"environment": dict(os.environ),
            "torch generator": torch.get_rng_state().numpy().tobytes(),
            "numpy generator": pickle.dumps(np.random.get_state()),
            "random generator": random.getstate(),
            "SIGINT handler": signal.getsignal(signal.SIGINT),
            "SIGTERM handler": signal.getsignal(signal.SIGTERM),
            "torch threads": torch.get_num_threads(),
            "torch interop threads": torch.get_num_interop_threads(),
            "grad mode": torch.is_grad_enabled()}

class FailingReporter(SilentReporter):
    def on_step(self, stats):
        raise RuntimeError("the host's reporter failed")

plain = faults()
before = host()
tiny = dict(steps=3, hidden_size=16, embed_size=8, batch_size=2, seq_len=8, eval_every=3,
            threads=torch.get_num_threads() + 1)
if sys.argv[1] == "ends":
    result = charrnn.train("play.txt", out="run", **tiny)
    lm = charrnn.load(result.run_dir)
    lm.sample(20, seed=1)
    lm.samples(64, 20, seed=1)  # a batch: what the allocator setting was for
else:
    try:
        charrnn.train("play.txt", out="run", reporter=FailingReporter(), **tiny)
    except RuntimeError:
        pass
after = host()
print(json.dumps({"import changed the environment": not imported,
                  "changed": sorted(k for k in before if before[k] != after[k]),
                  "faults before": plain, "faults after": faults()}))
"""


@pytest.mark.parametrize("training", ["ends", "fails"])
def test_import_train_and_load_leave_the_host_as_they_found_it(training, tmp_path, tiny_text):
    (tmp_path / "play.txt").write_text(tiny_text(), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", HOST, training], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert not seen["import changed the environment"]
    assert seen["changed"] == []
    # glibc still hands freed memory back (were it told to keep it: about no faults)
    assert seen["faults after"] * 2 >= seen["faults before"]
