"""Decoding speed: charrnn's inference step beside plain per-character PyTorch loops.

A 2-layer LSTM of hidden size 512 (fp32), trained briefly on the first 90% of Tiny Shakespeare
(a synthetic play when ../shared is absent) so that losses mean something, then measured
side by side in one process, in interleaved rounds (the median is reported, so a noisy
neighbour moves all of them):

- plain loop: `nn.LSTM` called once per character under inference_mode, sampling with
  softmax + multinomial, with oneDNN on (PyTorch's default) and off;
- charrnn batch-1 sampling (`lm.stream`), `--num-samples 64` (`lm.samples`) beside the
  plain loop at batch 64, and beam search at width 8 (output characters per second),
  each with exact fp32 weights and with `--weights fp16` and `--weights int8`;
- bits per character of each weight precision on the first validation characters;
- time from `python -m charrnn sample` starting to the first generated character.

    python bench/decode.py
    python bench/decode.py --rounds 5 --threads 2 --train-time 60s
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

from charrnn.config import ModelConfig, TrainConfig, parse_duration
from charrnn.data.cache import prepare
from charrnn.decoding.language_model import load
from charrnn.training.loop import train_model

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"
PLAY = "".join(f"SPEAKER {i % 9}:\nA line of verse, number {i}; with (words) & marks!\n\n"
               for i in range(3000))
WEIGHTS = ("fp32", "fp16", "int8")


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
    parser.add_argument("--train-time", default="90s", help="training budget of the model")
    parser.add_argument("--val-chars", type=int, default=20_000,
                        help="validation characters scored per weight precision")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    text = SHARED.read_text(encoding="utf-8") if SHARED.exists() else PLAY
    cut = int(len(text) * 0.9)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CHARRNN_CACHE"] = str(Path(tmp) / "cache")
        corpus_file = Path(tmp) / "corpus.txt"
        corpus_file.write_text(text, encoding="utf-8")
        run_dir = Path(tmp) / "run"
        train_model(prepare(corpus_file), ModelConfig(hidden_size=512, num_layers=2),
                    TrainConfig(time_limit=parse_duration(args.train_time), eval_every=10**9,
                                val_frac=0.1), run_dir)
        lms = {w: load(run_dir, weights=w) for w in WEIGHTS}
        lm, model = lms["fp32"], lms["fp32"].model
        n = args.length
        cases = [
            ("plain loop, oneDNN on (default), batch 1",
             lambda: plain_loop(model, n // 3, 1, True)),
            ("plain loop, oneDNN off, batch 1", lambda: plain_loop(model, n, 1, False)),
            ("plain loop, oneDNN on, batch 64", lambda: plain_loop(model, n // 4, 64, True)),
            ("plain loop, oneDNN off, batch 64", lambda: plain_loop(model, n // 4, 64, False)),
        ]
        for w, m in lms.items():
            cases += [
                (f"charrnn sample, batch 1, {w}",
                 lambda m=m: timed(lambda: m.sample(n, 1.0, "S", seed=1), n)),
                (f"charrnn --num-samples 64, {w}",
                 lambda m=m: timed(lambda: m.samples(64, n // 4, 1.0, "S", seed=1), 64 * (n // 4))),
                (f"charrnn beam --width 8, {w}",
                 lambda m=m: timed(lambda: m.beam(n // 2, 8, "S"), n // 2)),
            ]
        rows: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for name, case in cases:
                rows.setdefault(name, []).append(case())
        first = statistics.median(first_char_seconds(run_dir) for _ in range(3))
        val = text[cut : cut + args.val_chars]
        losses = {w: m.evaluate(val).bits_per_char for w, m in lms.items()}
    med = {name: statistics.median(values) for name, values in rows.items()}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; 2-layer LSTM 512, "
          f"{model.num_parameters:,} parameters, vocabulary {len(lm.vocab)}, trained "
          f"{args.train_time} on {SHARED.name if SHARED.exists() else 'a synthetic play'}; "
          f"median of {args.rounds} rounds")
    for name, value in med.items():
        spread = ", ".join(f"{v:,.0f}" for v in rows[name])
        print(f"  {name:<44} {value:>10,.0f} chars/s   ({spread})")
    plain_off = med["plain loop, oneDNN off, batch 1"]
    plain_on = med["plain loop, oneDNN on (default), batch 1"]
    best64 = max(med["plain loop, oneDNN on, batch 64"], med["plain loop, oneDNN off, batch 64"])
    print(f"{'weights':<8} {'batch 1 / oneDNN-off loop':>26} {'/ default loop':>15} "
          f"{'64 samples / best loop':>23} {'beam 8 / batch 1':>17} "
          f"{'bits/char on ' + format(len(val), ',') + ' val chars':>28}")
    for w in WEIGHTS:
        fast = med[f"charrnn sample, batch 1, {w}"]
        print(f"{w:<8} {fast / plain_off:>26.2f} {fast / plain_on:>15.1f} "
              f"{med[f'charrnn --num-samples 64, {w}'] / best64:>23.2f} "
              f"{med[f'charrnn beam --width 8, {w}'] / fast:>17.2f} "
              f"{losses[w]:>28.4f}")
    print("targets: batch 1 >= 2.5x the oneDNN-off loop; 64 samples >= 1.0x; "
          "beam 8 >= 0.7x batch 1")
    print(f"time to first streamed character: {first:.2f} s (median of 3 CLI starts)")


if __name__ == "__main__":
    main()
