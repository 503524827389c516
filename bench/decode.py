"""Decoding speed: every decoding path beside its floor, measured in the same run.

A decoding step reads each weight matrix once, so its floor is the time of its matrix
products alone: each product called in a loop (weights resident in cache) by the fastest
route this machine has for its shape and batch size, whichever of numpy's BLAS, torch's
`addmm` and oneDNN's pre-packed weights that is (fbgemm's kernels for `--weights fp16`
and `int8`). A path's ratio is its time per step over that floor.

Models: the 2-layer LSTM 512 trained for --train-time on the first 90% of Tiny
Shakespeare (a synthetic play when ../shared is absent), so that bits/char mean
something; GRU and vanilla RNN 2 x 512 and the default preset's model (`medium`, 1 x 384
LSTM), freshly initialised, since speed does not depend on the values. Paths:

- `sample`, batch 1 (`lm.sample`, temperature 1): one character per step;
- `--num-samples 64` (`lm.samples`): 64 characters per step;
- `beam --width 8` (`lm.beam`): 8 beams per step, one output character;
- for reference, the textbook loop at batch 1 (`nn.LSTM` called per character,
  softmax + multinomial; oneDNN off, its faster setting here), and for `medium` the
  leanest batch-1 loop numpy allows (the step's products and table, the cell in place,
  a draw straight from the logits, nothing else): how near the floor numpy can come.

Rounds are interleaved and the median is reported, so a noisy neighbour moves all of
them. Each timing follows an untimed run of the same path: numpy's OpenBLAS threads keep
spinning for about 0.1 s after their last product, and a torch-pool path (beam, 64
samples) timed right after a numpy-pool one (batch 1) would measure that hand-over, not
the path (in one process, switching from sampling to beam search pays it once). Then:
bits per character of each weight precision on the first validation characters, the
routes the products chose (and any batch size whose routes were timed again because they
ran slower than timed), the time from `python -m charrnn sample` starting to its
first generated character, and writing with the model (`lm.session`): the time to feed
one character and to get 5 suggestions of 40 characters, for the 2 x 512 LSTM and the
`medium` model.

    python bench/decode.py
    python bench/decode.py --rounds 5 --threads 2 --train-time 60s
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import charrnn

charrnn.tune_for_speed()  # before numpy loads, as the commands do: OpenBLAS stops spinning soon

import numpy as np  # noqa: E402
import torch  # noqa: E402

from charrnn.api.language_model import LanguageModel, load  # noqa: E402
from charrnn.config import ModelConfig, TrainConfig, parse_duration  # noqa: E402
from charrnn.data.cache import prepare  # noqa: E402
from charrnn.decoding.inference_step import InferenceStep  # noqa: E402
from charrnn.decoding.matmul_routes import batch_class  # noqa: E402
from charrnn.model.network import CharRNN  # noqa: E402
from charrnn.training.loop import train_model  # noqa: E402
from charrnn.training.presets import SIZES  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"
PLAY = "".join(f"SPEAKER {i % 9}:\nA line of verse, number {i}; with (words) & marks!\n\n"
               for i in range(3000))
WEIGHTS = ("fp32", "fp16", "int8")
PATHS = {"sample, batch 1": 1, "--num-samples 64": 64, "beam --width 8": 8}  # rows per step
GOAL_RATIO, GOAL_BATCH1 = 2.0, 4000


def floor_seconds(step: InferenceStep, rows: int, calls: int = 200) -> float:
    """One step's products alone, each by its fastest route for `rows` rows, per step."""
    total = 0.0
    for product in step.products:
        x = np.random.default_rng(0).uniform(-1, 1, (rows, product.shape[1]))
        x, out = x.astype(np.float32), np.empty((rows, product.shape[0]), np.float32)
        best = float("inf")
        for route in product.routes(rows).values():
            route(x, out)
            for _ in range(3):
                start = time.perf_counter()
                for _ in range(calls):
                    route(x, out)
                best = min(best, (time.perf_counter() - start) / calls)
        total += best
    return total


def path_seconds(lm: LanguageModel, path: str, steps: int) -> float:
    """Seconds per step of one decoding path."""
    start = time.perf_counter()
    if path == "sample, batch 1":
        lm.sample(steps, 1.0, "S", seed=1)
    elif path == "--num-samples 64":
        lm.samples(64, steps, 1.0, "S", seed=1)
    else:
        lm.beam(steps, 8, "S")
    return (time.perf_counter() - start) / steps


def session_seconds(lm: LanguageModel, repeats: int = 20) -> tuple[float, float]:
    """Writing with the model: seconds to feed one character to a session, and to get 5
    suggestions of 40 characters (medians)."""
    s = lm.session("S")
    s.suggest(5, 40, seed=0)  # the batch of 5 chooses its routes first
    feed, suggest = [], []
    for i in range(repeats):
        feed.append(path_time(lambda: s.feed("e")))
        suggest.append(path_time(lambda i=i: s.suggest(5, 40, seed=i)))
    return statistics.median(feed), statistics.median(suggest)


def path_time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def plain_loop_seconds(model: CharRNN, steps: int) -> float:
    """Seconds per character of the textbook batch-1 loop, oneDNN off."""
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        with torch.inference_mode():
            state, x = model.initial_state(1), torch.zeros(1, 1, dtype=torch.long)
            start = time.perf_counter()
            for _ in range(steps):
                logits, state = model(x, state)
                x = torch.multinomial(torch.softmax(logits[:, -1], dim=-1), 1)
            return (time.perf_counter() - start) / steps
    finally:
        torch.backends.mkldnn.enabled = previous


def lean_loop_seconds(step: InferenceStep, steps: int) -> float:
    """Seconds per character of the leanest batch-1 loop numpy allows for a one-layer
    LSTM step: the step's own table and products (their chosen routes), the cell in
    place on preallocated buffers, a draw straight from the logits, no bookkeeping at
    all. What is left between it and the floor is what numpy's calls cost."""
    if (step.model, step.layers) != ("lstm", 1):
        raise ValueError("the lean loop is written for a one-layer LSTM")
    hidden, (hh,), head, table = step.hidden, step.hh, step.head, step.table
    h, c = np.zeros((1, hidden), np.float32), np.zeros((1, hidden), np.float32)
    gates = np.empty((1, 4 * hidden), np.float32)
    logits, e = np.empty((1, table.shape[0]), np.float32), np.empty(table.shape[0], np.float32)
    rng, char = np.random.default_rng(0), 0
    start = time.perf_counter()
    for _ in range(steps):
        found = hh(h, gates)
        np.add(found, table[char], out=gates)
        step.cell.step(gates, c, h, c)  # the one cell step, in place
        row = head(h, logits)[0]
        np.exp(row - row.max(), out=e)
        cdf = e.cumsum(dtype=np.float64)
        char = min(int(cdf.searchsorted((1.0 - rng.random()) * cdf[-1])), e.size - 1)
    return (time.perf_counter() - start) / steps


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


def fresh_model(lm: LanguageModel, cell: str, hidden: int, layers: int) -> LanguageModel:
    """The trained model's vocabulary and metadata around new weights of another shape."""
    config = ModelConfig(model=cell, hidden_size=hidden, num_layers=layers,
                         vocab_size=len(lm.vocab))
    torch.manual_seed(0)
    record = dataclasses.replace(lm.record, model=config)
    return LanguageModel(CharRNN(config).eval(), lm.vocab, record)


def models(run_dir: Path) -> dict[str, LanguageModel]:
    """The measured models by label, each with every weight precision it is timed in."""
    found = {f"lstm 2x512 trained, {w}": load(run_dir, weights=w) for w in WEIGHTS}
    base, medium = found["lstm 2x512 trained, fp32"], SIZES["medium"]
    for cell in ("gru", "rnn"):
        found[f"{cell} 2x512, fp32"] = fresh_model(base, cell, 512, 2)
    found[f"medium (lstm {medium['num_layers']}x{medium['hidden_size']}), fp32"] = \
        fresh_model(base, "lstm", medium["hidden_size"], medium["num_layers"])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=600, help="batch-1 steps per timing")
    parser.add_argument("--train-time", default="90s", help="training budget of the LSTM")
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
        lms = models(run_dir)
        steps = {p: max(20, args.steps // rows) for p, rows in PATHS.items()}
        for lm in lms.values():  # products choose their routes before anything is timed
            for path in PATHS:
                path_seconds(lm, path, 20)
        times: dict[tuple[str, str], list[float]] = {}
        floors: dict[tuple[str, int], list[float]] = {}
        plain, lean = [], []
        medium_label = next(k for k in lms if k.startswith("medium"))
        for _ in range(args.rounds):
            for label, lm in lms.items():
                for path, rows in PATHS.items():
                    path_seconds(lm, path, steps[path])  # the same path first: see below
                    times.setdefault((label, path), []).append(
                        path_seconds(lm, path, steps[path]))
                    floors.setdefault((label, rows), []).append(
                        floor_seconds(lm.decoder.step_fn, rows))
            plain.append(plain_loop_seconds(lms["lstm 2x512 trained, fp32"].model, 200))
            lean_loop_seconds(lms[medium_label].decoder.step_fn, 50)  # (as the paths are)
            lean.append(lean_loop_seconds(lms[medium_label].decoder.step_fn, steps[
                "sample, batch 1"]))
        writing = {label: session_seconds(lms[label]) for label in
                   ("lstm 2x512 trained, fp32", medium_label)}
        first = statistics.median(first_char_seconds(run_dir) for _ in range(3))
        val = text[cut : cut + args.val_chars]
        bits = {w: lms[f"lstm 2x512 trained, {w}"].evaluate(val).bits_per_char
                for w in WEIGHTS}
    report(args, lms, times, floors, statistics.median(plain), bits, first, len(val))
    lean_step, floor = statistics.median(lean), statistics.median(floors[(medium_label, 1)])
    ours = statistics.median(times[(medium_label, "sample, batch 1")])
    print(f"leanest numpy batch-1 loop, {medium_label}: {lean_step * 1e6:.0f} us a step, "
          f"{lean_step / floor:.2f}x its floor (charrnn's batch-1 sample {ours / floor:.2f}x)")
    for label, (feed, suggest) in writing.items():
        goal = 0.1 if label.startswith("lstm") else 0.05
        print(f"writing, {label}: feed 1 character {feed * 1e3:.2f} ms; 5 suggestions of "
              f"40 characters {suggest * 1e3:.1f} ms (goal < {goal * 1e3:.0f} ms: "
              f"{'met' if suggest < goal else 'not met'})")


def report(args, lms, times, floors, plain, bits, first, val_chars) -> None:
    lstm = lms["lstm 2x512 trained, fp32"]
    print(f"torch {torch.__version__}, numpy {np.__version__}, {torch.get_num_threads()} "
          f"threads; vocabulary {len(lstm.vocab)}; LSTM trained {args.train_time} on "
          f"{SHARED.name if SHARED.exists() else 'a synthetic play'}; median of "
          f"{args.rounds} rounds")
    print(f"{'model, weights':<34} {'path':<18} {'chars/s':>9} {'us/step':>8} "
          f"{'floor us':>9} {'ratio':>6}")
    verdicts = []
    for (label, path), values in times.items():
        rows = PATHS[path]
        step, floor = statistics.median(values), statistics.median(floors[(label, rows)])
        chars = (rows if path == "--num-samples 64" else 1) / step
        ratio = step / floor
        print(f"{label:<34} {path:<18} {chars:>9,.0f} {step * 1e6:>8.0f} "
              f"{floor * 1e6:>9.0f} {ratio:>6.2f}")
        if label.endswith("fp32"):
            verdicts.append(ratio <= GOAL_RATIO)
    batch1 = 1 / statistics.median(times[("lstm 2x512 trained, fp32", "sample, batch 1")])
    print(f"plain nn.LSTM loop, batch 1, fp32: {1 / plain:,.0f} chars/s "
          f"(charrnn batch 1: {batch1 * plain:.2f}x)")
    print(f"goals: fp32 paths within {GOAL_RATIO:.0f}x of their floors: "
          f"{sum(verdicts)} of {len(verdicts)} met; lstm 2x512 batch 1 >= {GOAL_BATCH1:,} "
          f"chars/s: {'met' if batch1 >= GOAL_BATCH1 else 'not met'}")
    print(f"bits/char on {val_chars:,} validation chars: "
          + ", ".join(f"{w} {b:.4f}" for w, b in bits.items()))
    for label in ("lstm 2x512 trained, fp32", "lstm 2x512 trained, int8"):
        step = lms[label].decoder.step_fn
        chosen = {batch_class(rows): [p.chosen.get(batch_class(rows)) for p in step.products]
                  for rows in PATHS.values()}
        print(f"routes chosen, {label}: "
              + "; ".join(f"batch {k}: {', '.join(map(str, v))}" for k, v in chosen.items()))
    for what, counts in (("after running slower than timed", "rechecks"),
                         ("in their turn (every 65,536 steps)", "retimes")):
        found = {label: getattr(lm.decoder.step_fn, counts) for label, lm in lms.items()}
        print(f"routes timed again {what}: "
              + ("; ".join(f"{label}: {dict(n)}" for label, n in found.items() if n)
                 or "none"))
    print(f"time to first streamed character: {first:.2f} s (median of 3 CLI starts)")


if __name__ == "__main__":
    main()
