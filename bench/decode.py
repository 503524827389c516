"""Decoding speed: charrnn's inference step beside plain per-character PyTorch loops.

A 2-layer LSTM of hidden size 512 (fp32), measured side by side in one process, in
interleaved rounds (the median is reported, so a noisy neighbour moves all of them):

- plain loop: `nn.LSTM` called once per character under inference_mode, sampling with
  softmax + multinomial, with oneDNN on (PyTorch's default) and off;
- charrnn batch-1 sampling (`lm.stream`), `--num-samples 64` (`lm.samples`) beside the
  plain loop at batch 64, and beam search at width 8 (output characters per second);
- time from `python -m charrnn sample` starting to the first generated character.

    python bench/decode.py
    python bench/decode.py --rounds 5 --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from charrnn.cache import prepare
from charrnn.config import ModelConfig, TrainConfig
from charrnn.lm import load
from charrnn.train import train

TEXT = "".join(f"SPEAKER {i % 9}:\nA line of verse, number {i}; with (words) & marks!\n\n"
               for i in range(3000))


def plain_loop(model, steps: int, batch: int, onednn: bool) -> float:
    """Characters per second of the textbook loop: module call + softmax + multinomial."""
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = onednn
    try:
        with torch.inference_mode():
            state = model.initial_state(batch)
            x = torch.zeros(batch, 1, dtype=torch.long)
            for _ in range(5):
                logits, state = model(x, state)
            start = time.perf_counter()
            for _ in range(steps):
                logits, state = model(x, state)
                x = torch.multinomial(torch.softmax(logits[:, -1], dim=-1), 1)
            return steps * batch / (time.perf_counter() - start)
    finally:
        torch.backends.mkldnn.enabled = previous


def timed(fn, chars: int) -> float:
    start = time.perf_counter()
    fn()
    return chars / (time.perf_counter() - start)


def first_char_seconds(run_dir: Path) -> float:
    """Wall time from starting the CLI to the first generated character on its stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "charrnn", "sample", "--checkpoint",
                             str(run_dir), "--prime", "S", "--length", "2000"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdout.read(2)  # the prime, then the first generated character
    elapsed = time.perf_counter() - start
    proc.kill()
    proc.wait()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--length", type=int, default=600, help="characters per timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CHARRNN_CACHE"] = str(Path(tmp) / "cache")
        corpus_file = Path(tmp) / "verse.txt"
        corpus_file.write_text(TEXT)
        run_dir = Path(tmp) / "run"
        train(prepare(corpus_file), ModelConfig(hidden_size=512, num_layers=2),
              TrainConfig(steps=2, eval_every=2, batch_size=8), run_dir)
        lm = load(run_dir)
        model = lm.model
        n = args.length
        rows: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for name, value in [
                ("plain loop, oneDNN on (default), batch 1", plain_loop(model, n // 3, 1, True)),
                ("plain loop, oneDNN off, batch 1", plain_loop(model, n, 1, False)),
                ("charrnn sample, batch 1", timed(lambda: lm.sample(n, 1.0, "S", seed=1), n)),
                ("plain loop, oneDNN on, batch 64", plain_loop(model, n // 4, 64, True)),
                ("plain loop, oneDNN off, batch 64", plain_loop(model, n // 4, 64, False)),
                ("charrnn --num-samples 64",
                 timed(lambda: lm.samples(64, n // 4, 1.0, "S", seed=1), 64 * (n // 4))),
                ("charrnn beam --width 8", timed(lambda: lm.beam(n // 2, 8, "S"), n // 2)),
            ]:
                rows.setdefault(name, []).append(value)
        first = statistics.median(first_char_seconds(run_dir) for _ in range(3))
    med = {name: statistics.median(values) for name, values in rows.items()}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; 2-layer LSTM 512, "
          f"{model.num_parameters:,} parameters, vocabulary {len(lm.vocab)}; "
          f"median of {args.rounds} rounds")
    for name, value in med.items():
        spread = ", ".join(f"{v:,.0f}" for v in rows[name])
        print(f"  {name:<44} {value:>10,.0f} chars/s   ({spread})")
    fast, plain_off = med["charrnn sample, batch 1"], med["plain loop, oneDNN off, batch 1"]
    plain_on = med["plain loop, oneDNN on (default), batch 1"]
    best64 = max(med["plain loop, oneDNN on, batch 64"], med["plain loop, oneDNN off, batch 64"])
    beam = med["charrnn beam --width 8"]
    print(f"batch-1 sampling: {fast / plain_off:.2f}x the oneDNN-off loop (target >= 2.5), "
          f"{fast / plain_on:.1f}x the default loop")
    print(f"--num-samples 64: {med['charrnn --num-samples 64'] / best64:.2f}x the better plain "
          f"loop at batch 64 (target >= 1.0)")
    print(f"beam width 8: {beam / fast:.2f}x batch-1 sampling (target >= 0.7)")
    print(f"time to first streamed character: {first:.2f} s (median of 3 CLI starts)")


if __name__ == "__main__":
    main()
