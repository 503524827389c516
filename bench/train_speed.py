"""Training throughput: charrnn's training step beside a plain PyTorch reference loop.

For LSTM, GRU and RNN at hidden size 512, 2 layers, batch 64, sequence 128, on the same
Tiny Shakespeare windows (a synthetic play when ../shared is absent), in interleaved
rounds whose order alternates (medians reported, so a noisy neighbour moves both):

- charrnn: `charrnn.training.train_step.train_step` on a `CharRNN` with the optimiser
  `charrnn train` builds (fused AdamW, weight decay on matrices), the state carried
  between windows, in a process set up the way `charrnn train` sets up its own
  (`charrnn.allocator`);
- reference: the textbook loop: `nn.Embedding` -> `nn.LSTM`/`GRU`/`RNN` -> `nn.Linear`,
  `torch.optim.Adam`, `clip_grad_norm_`, the state carried and detached, in a process
  as a plain script gets it.

Every measurement runs in a fresh worker process started by this one, because the
allocator setting is process-wide: measured in one process, whichever side ran after
charrnn would inherit it. The workers take the same thread count and the same windows.

It prints characters per second, the ratio (target >= 1.0), and the FLOP/s achieved as
a fraction of this machine's matrix-multiply peak (a large fp32 matmul, measured here).

    python bench/train_speed.py
    python bench/train_speed.py --threads 2 --rounds 5 --steps 6
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from charrnn.allocator import retain_freed_memory
from charrnn.config import ModelConfig, TrainConfig
from charrnn.data.streams import StreamBatcher
from charrnn.model.network import CharRNN, detach_state
from charrnn.training.train_step import make_optimizer, train_step

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"
PLAY = "".join(f"SPEAKER {i % 9}:\nA line of verse, number {i}; with (words) & marks!\n\n"
               for i in range(3000))
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class Reference(nn.Module):
    """The plain model: embedding, PyTorch's recurrent module, linear head."""

    def __init__(self, cell: str, vocab: int, embed: int, hidden: int, layers: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = CELLS[cell](embed, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.embed(x), hidden)
        return self.head(out), hidden


def windows(ids: torch.Tensor, batch: int, seq: int, count: int):
    """`count` consecutive truncated-BPTT windows of `batch` contiguous streams."""
    batcher = StreamBatcher(ids, batch, seq)
    return [batcher.window(i) for i in range(count)]


def charrnn_rate(cell, vocab, data, args) -> float:
    retain_freed_memory()  # as every charrnn command does (charrnn.tune_for_speed)
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(model=cell, hidden_size=args.hidden, num_layers=args.layers,
                                embed_size=args.embed, dropout=0.0, vocab_size=vocab))
    cfg = TrainConfig(lr=2e-3)
    optimizer = make_optimizer(model, cfg)
    state = model.initial_state(args.batch)
    state = train_step(model, optimizer, *data[0], state, cfg.grad_clip)[1]  # warm-up
    start = time.perf_counter()
    for x, y in data[1:]:
        loss, state = train_step(model, optimizer, x, y, detach_state(state), cfg.grad_clip)
        loss.item()
    return (len(data) - 1) * x.numel() / (time.perf_counter() - start)


def reference_rate(cell, vocab, data, args) -> float:
    torch.manual_seed(0)
    model = Reference(cell, vocab, args.embed, args.hidden, args.layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    zeros = torch.zeros(args.layers, args.batch, args.hidden)
    hidden = (zeros, zeros.clone()) if cell == "lstm" else zeros

    def step(x, y, hidden):
        logits, hidden = model(x, hidden)
        loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        loss.item()
        return tuple(h.detach() for h in hidden) if cell == "lstm" else hidden.detach()

    hidden = step(*data[0], hidden)
    start = time.perf_counter()
    for x, y in data[1:]:
        hidden = step(x, y, hidden)
    return (len(data) - 1) * x.numel() / (time.perf_counter() - start)


def flops_per_char(cell: str, vocab: int, args) -> float:
    """Forward multiply-adds x 2, times 3 for forward + backward (the usual estimate)."""
    per_layer = [GATES[cell] * args.hidden * (size + args.hidden)
                 for size in [args.embed] + [args.hidden] * (args.layers - 1)]
    return 3 * 2 * (sum(per_layer) + args.hidden * vocab)


def matmul_peak() -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    for _ in range(3):
        a @ b
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        runs.append(2 * 2048**3 / (time.perf_counter() - start))
    return max(runs)


RUNNERS = {"reference": reference_rate, "charrnn": charrnn_rate}


def corpus_windows(args) -> tuple[int, list]:
    """The vocabulary size and the timed windows (every worker builds the same)."""
    text = SHARED.read_text(encoding="utf-8") if SHARED.exists() else PLAY
    chars = sorted(set(text))
    needed = args.batch * args.seq * (args.steps + 2) + 1
    ids = torch.tensor([chars.index(c) for c in text[:needed]])
    return len(chars), windows(ids, args.batch, args.seq, args.steps + 1)


def measure_in_worker(cell: str, runner: str) -> float:
    """One measurement in a fresh process with this run's options."""
    command = [sys.executable, __file__, *sys.argv[1:], "--worker", cell, runner]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker {cell} {runner} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])["chars_per_sec"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--embed", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--cells", nargs="+", default=list(GATES))
    parser.add_argument("--worker", nargs=2, metavar=("CELL", "RUNNER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    vocab, data = corpus_windows(args)
    if args.worker:
        cell, runner = args.worker
        print(json.dumps({"chars_per_sec": RUNNERS[runner](cell, vocab, data, args)}))
        return
    peak = matmul_peak()
    rates: dict[tuple[str, str], list[float]] = {}
    for round_number in range(args.rounds):
        for cell in args.cells:
            for name in list(RUNNERS)[:: 1 if round_number % 2 == 0 else -1]:  # alternate
                rates.setdefault((cell, name), []).append(measure_in_worker(cell, name))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.layers} layers x "
          f"{args.hidden}, embedding {args.embed}, batch {args.batch} x {args.seq}, vocabulary "
          f"{vocab}; median of {args.rounds} rounds of {args.steps} steps, each in a fresh "
          f"process; matmul peak {peak / 1e9:.1f} GFLOP/s")
    print(f"{'cell':<5} {'reference chars/s':>18} {'charrnn chars/s':>16} {'ratio':>6} "
          f"{'charrnn GFLOP/s':>16} {'of peak':>8}")
    for cell in args.cells:
        ref = statistics.median(rates[(cell, "reference")])
        ours = statistics.median(rates[(cell, "charrnn")])
        flops = ours * flops_per_char(cell, vocab, args)
        print(f"{cell:<5} {ref:>18,.0f} {ours:>16,.0f} {ours / ref:>6.2f} "
              f"{flops / 1e9:>16.1f} {flops / peak:>8.0%}")
    print("target: ratio >= 1.0 for every cell")


if __name__ == "__main__":
    main()
