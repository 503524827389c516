"""Validation loss reached in a wall-clock budget with default settings.

Runs `charrnn train CORPUS --time BUDGET --val-frac 0.1` (nothing else set) for each
budget, one after another on an otherwise idle machine, and prints the best validation
loss, the parameter count and the exact command.

    python bench/quality.py                      # 5m on ../shared/corpora/tinyshakespeare.txt
    python bench/quality.py --budgets 3m 10m 30m
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpora" / "tinyshakespeare.txt"


def run(corpus: Path, budget: str) -> dict:
    from charrnn import checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "charrnn", "train", str(corpus), "--time", budget,
               "--val-frac", "0.1", "--out", str(out)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        meta = checkpoint.load(out / checkpoint.BEST).meta
        lm_meta = checkpoint.load(out / checkpoint.LATEST).meta
    shown = f"charrnn train {corpus.name} --time {budget} --val-frac 0.1"
    return {"budget": budget, "best": meta["metrics"]["best_val_loss"],
            "final": lm_meta["metrics"]["val_loss"], "steps": lm_meta["step"],
            "elapsed": lm_meta["elapsed_seconds"], "model": meta["model"], "command": shown}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=SHARED)
    parser.add_argument("--budgets", nargs="+", default=["5m"])
    args = parser.parse_args()
    if not args.corpus.exists():
        sys.exit(f"corpus not found: {args.corpus}")
    import torch

    from charrnn.config import ModelConfig
    from charrnn.evaluate import bits
    from charrnn.model import CharRNN

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; corpus {args.corpus}")
    print(f"{'budget':>7} {'best val nats/char':>19} {'bpc':>6} {'steps':>6} {'time':>7}"
          f" {'params':>10}  command")
    for budget in args.budgets:
        r = run(args.corpus, budget)
        params = CharRNN(ModelConfig.from_dict(r["model"])).num_parameters
        print(f"{r['budget']:>7} {r['best']:>19.4f} {bits(r['best']):>6.3f} {r['steps']:>6}"
              f" {r['elapsed']:>6.0f}s {params:>10,}  {r['command']}", flush=True)


if __name__ == "__main__":
    main()
