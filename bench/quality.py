"""Validation loss reached in a wall-clock budget with default settings.

Runs `charrnn train CORPUS --time BUDGET --val-frac 0.1` (nothing else set: the size and
its settings are chosen for the budget) for each budget, one after another on an
otherwise idle machine, and prints the best validation loss, the parameter count, the
size chosen and the exact command. `--plot FILE` draws all runs' curves on one figure.

    python bench/quality.py                                  # 158s, 10m and 30m
    python bench/quality.py --budgets 158s --plot curves.png
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpora" / "tinyshakespeare.txt"
TARGETS = {"158s": 1.52, "10m": 1.42}  # nats/char, from the issue tracker


def run(corpus: Path, budget: str, out: Path) -> dict:
    from charrnn.model import checkpoint, runs
    from charrnn.model.runs import describe

    cmd = [sys.executable, "-m", "charrnn", "train", str(corpus), "--time", budget,
           "--val-frac", "0.1", "--out", str(out)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    best = checkpoint.load(out / runs.BEST).meta
    latest = checkpoint.load(out / runs.LATEST).meta
    model = best["model"]
    shape = f"{model['model']} {model['num_layers']}x{model['hidden_size']}"
    return {"budget": budget, "best": best["metrics"]["best_val_loss"],
            "steps": latest["step"], "elapsed": latest["elapsed_seconds"], "shape": shape,
            "params": describe(out)["parameters"],
            "command": f"charrnn train {corpus.name} --time {budget} --val-frac 0.1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=SHARED)
    parser.add_argument("--budgets", nargs="+", default=["158s", "10m", "30m"])
    parser.add_argument("--plot", type=Path, help="also draw the runs' curves to this PNG")
    args = parser.parse_args()
    if not args.corpus.exists():
        sys.exit(f"corpus not found: {args.corpus}")
    import torch

    from charrnn.units import bits

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; corpus {args.corpus}")
    print(f"{'budget':>7} {'best val nats/char':>19} {'bpc':>6} {'target':>7} {'steps':>6} "
          f"{'time':>6} {'model':>11} {'params':>10}  command")
    tmp = Path(tempfile.mkdtemp())
    try:
        runs = []
        for budget in args.budgets:
            out = tmp / f"time-{budget}"
            r = run(args.corpus, budget, out)
            runs.append(out)
            target = TARGETS.get(budget)
            verdict = "-" if target is None else (
                f"{'<=' if r['best'] <= target else '>'}{target}")
            print(f"{r['budget']:>7} {r['best']:>19.4f} {bits(r['best']):>6.3f} {verdict:>7} "
                  f"{r['steps']:>6} {r['elapsed']:>5.0f}s {r['shape']:>11} {r['params']:>10,}"
                  f"  {r['command']}", flush=True)
        if args.plot:
            from charrnn.interface.plot import plot_runs

            plot_runs(runs, args.plot, title=f"{args.corpus.name}, 2-core CPU, default "
                                             "settings per budget")
            print(f"plot: {args.plot}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
