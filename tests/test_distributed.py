"""Training in several processes: torchrun with gloo on the CPU, DistributedDataParallel."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import charrnn
from charrnn.config import ModelConfig
from charrnn.model import checkpoint, runs
from charrnn.model.network import CharRNN
from charrnn.training.distributed import Ranks
from charrnn.training.train_step import train_step
from charrnn.training.validation import val_share

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--hidden-size", "24", "--embed-size", "8", "--batch-size", "2", "--seq-len", "16",
         "--eval-every", "10", "--log-every", "5", "--size", "tiny"]


def torchrun(*args, processes=2):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone",
         f"--nproc_per_node={processes}", "-m", "charrnn", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=300)


def test_two_processes_train_their_own_streams_and_resume(corpus_file, tmp_path, cli):
    out = tmp_path / "run"
    first = torchrun("train", corpus_file, "--steps", "20", *SMALL, "--out", out)
    assert first.returncode == 0, first.stderr[-3000:]
    lines = re.findall(r"rank (\d) .*?streams (\d+)-(\d+) of (\d+)", first.stderr)
    rows = {int(rank): set(range(int(a), int(b) + 1)) for rank, a, b, _ in lines}
    assert set(rows) == {0, 1} and not rows[0] & rows[1]  # different streams
    assert rows[0] | rows[1] == set(range(4))  # 2 processes x batch 2
    assert first.stderr.count("step 10: validation") == 1  # only rank 0 reports

    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [m["train_loss"] for m in metrics if m["train_loss"] is not None]
    assert losses[-1] < losses[0]
    assert metrics[-1]["chars"] == 20 * 4 * 16  # both processes' characters count

    lm = charrnn.load(out)  # a distributed run loads in one process
    assert len(lm.sample(20, seed=1)) == 20
    assert checkpoint.load(out / runs.LATEST).tensors["hidden.0"].shape[1] == 4

    resumed = torchrun("train", corpus_file, "--steps", "30", *SMALL, "--out", out,
                       "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert checkpoint.load(out / runs.LATEST).meta["step"] == 30
    alone = cli("train", corpus_file, "--steps", "40", *SMALL, "--out", out, "--resume")
    assert alone.exit_code == 1 and "trained by 2 process(es)" in alone.stderr


def _one_distributed_step(rank, world, store, out):
    """A rank of the job: the shared first weights, its rows of the batch, one step."""
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank,
                            world_size=world)
    torch.set_num_threads(1)
    model, optimizer, x, y, state = _setup(batch=4)
    rows = Ranks(rank, world).rows(2)
    net = torch.nn.parallel.DistributedDataParallel(model)
    loss, new_state = train_step(net, optimizer, x[rows], y[rows],
                                 tuple(s[:, rows] for s in state), 1.0)
    whole = Ranks(rank, world).gather_rows(new_state[0])
    if rank == 0:
        torch.save({"weights": model.state_dict(), "h": whole}, out)
    dist.barrier()  # neither process tears gloo down while the other still talks to it
    dist.destroy_process_group()
    # leave without C++ static destructors: now and then gloo's, run at interpreter exit,
    # abort ("terminate called without an active exception", seen twice in ~20 runs)
    # after everything this test checks is done and saved
    os._exit(0)


def _setup(batch):
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(hidden_size=16, embed_size=8, vocab_size=11, dropout=0.0))
    # plain SGD: Adam's first update is lr * g / (|g| + eps), about lr * sign(g), so a
    # gradient of ~1e-9 whose last bits differ between the two summation orders could
    # move a weight by 2 * lr and hide whether the gradients agree
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = torch.randint(0, 11, (batch, 17), generator=torch.Generator().manual_seed(1))
    state = tuple(torch.randn(s.shape, generator=torch.Generator().manual_seed(2))
                  for s in model.initial_state(batch))
    return model, optimizer, data[:, :-1], data[:, 1:], state


def test_a_two_process_step_equals_one_step_on_the_whole_batch(tmp_path):
    out = tmp_path / "distributed.pt"
    mp.spawn(_one_distributed_step, args=(2, str(tmp_path / "store"), str(out)), nprocs=2)
    distributed = torch.load(out)
    model, optimizer, x, y, state = _setup(batch=4)
    _, new_state = train_step(model, optimizer, x, y, state, 1.0)
    for name, tensor in model.state_dict().items():
        assert torch.allclose(tensor, distributed["weights"][name], atol=1e-6), name
    assert torch.allclose(new_state[0], distributed["h"], atol=1e-6)
    assert not torch.allclose(model.head.weight, _setup(batch=4)[0].head.weight)  # it moved


@pytest.mark.parametrize("length,world", [(101, 2), (100, 3), (7, 4)])
def test_validation_shares_score_every_character_once(length, world):
    ids = torch.arange(length)
    shares = [val_share(ids, Ranks(rank, world)) for rank in range(world)]
    predicted = torch.cat([share[1:] for share in shares])
    assert torch.equal(predicted, ids[1:])  # each character but the first, exactly once
    assert sum(share.numel() - 1 for share in shares) == length - 1


def test_the_resume_hint_names_the_launch_that_can_resume(monkeypatch):
    from charrnn.interface.train_command import resume_command

    args = ["train", "my text.txt", "--out", "runs/a", "--resume"]
    assert resume_command(args, 1) == "charrnn train 'my text.txt' --out runs/a --resume"
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert resume_command(args, 4) == ("torchrun --standalone --nproc_per_node=4 -m charrnn "
                                       "train 'my text.txt' --out runs/a --resume")
    across_nodes = resume_command(args, 8)  # two nodes of four
    assert "every node" in across_nodes and "8 processes" in across_nodes
    assert across_nodes.endswith("-m charrnn train 'my text.txt' --out runs/a --resume")
