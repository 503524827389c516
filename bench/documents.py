"""Names: makemore's benchmark, with charrnn's defaults for a list of short texts.

On ../shared/corpora/names.txt (32,033 names, one per line), split as makemore does: a
seeded random 1,000 names held out as the test set (torch.randperm with seed 3407,
makemore's default seed). For each budget it runs, in a fresh process and with nothing
else set,

    charrnn train train.txt --documents lines --time BUDGET

so validation (and with it the best checkpoint) comes from a split carved from the
training names alone. The test names are read once, at the end, by

    charrnn eval test.txt --checkpoint RUN

on the best checkpoint: the test loss in nats per symbol, each name's end symbol counted
(makemore's metric), printed beside makemore's own figures and beside the run's own
validation loss. Then it samples 1,000 names at temperature 1 from the best checkpoint
and counts how many are copies of a training name, of a test name, or new.

    python bench/documents.py                      # 2m and 10m
    python bench/documents.py --budgets 2m --extra --size large --dropout 0.3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
NAMES = ROOT.parent / "shared" / "corpora" / "names.txt"
SEED = 3407
REFERENCES = [  # measured on this 2-core machine, same split and metric (issue 14)
    ("makemore's default transformer, 10 min", 1.966),
    ("plain PyTorch LSTM 1 x 256, 90 s", 1.917),
    ("plain PyTorch LSTM 1 x 512, dropout 0.35, 5 min", 1.879),
    ("plain PyTorch LSTM 2 x 512, dropout 0.35, 10 min", 1.868),
]
GOALS = {"2m": 1.90, "10m": 1.84}


def split(folder: Path) -> tuple[Path, Path]:
    """train.txt and test.txt: 1,000 names held out as makemore holds them out."""
    words = [w.strip() for w in NAMES.read_text(encoding="utf-8").splitlines() if w.strip()]
    order = torch.randperm(len(words), generator=torch.Generator().manual_seed(SEED)).tolist()
    test = [words[i] for i in order[:1000]]
    train = [words[i] for i in order[1000:]]
    (folder / "train.txt").write_text("\n".join(train) + "\n", encoding="utf-8")
    (folder / "test.txt").write_text("\n".join(test) + "\n", encoding="utf-8")
    return folder / "train.txt", folder / "test.txt"


def run(train: Path, test: Path, budget: str, out: Path, extra: list[str]) -> dict:
    import charrnn
    from charrnn.model import checkpoint, runs

    cmd = [sys.executable, "-m", "charrnn", "train", str(train), "--documents", "lines",
           "--time", budget, "--out", str(out), *extra]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    test_loss = evaluate(test, out)  # the test names' one reading
    best = checkpoint.load(out / runs.BEST).meta
    latest = checkpoint.load(out / runs.LATEST).meta
    lm = charrnn.load(out)
    names = lm.samples(1000, 40, temperature=1.0, seed=1)
    tests = set(test.read_text(encoding="utf-8").split())
    trains = set(train.read_text(encoding="utf-8").split())
    marks = ["train" if n in trains else "test" if n in tests else "new" for n in names]
    model = best["model"]
    return {"budget": budget, "test": test_loss, "val": best["metrics"]["best_val_loss"],
            "best_step": best["step"], "steps": latest["step"],
            "train_loss": latest["metrics"]["train_loss"],
            "shape": f"{model['model']} {model['num_layers']}x{model['hidden_size']} "
                     f"dropout {model['dropout']}",
            "marks": {m: marks.count(m) for m in ("train", "test", "new")},
            "examples": names[:8]}


def evaluate(test: Path, out: Path) -> float:
    """`charrnn eval test.txt --json` on the run's best checkpoint: nats per symbol."""
    cmd = [sys.executable, "-m", "charrnn", "eval", str(test), "--checkpoint", str(out), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)["nats_per_char"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", nargs="+", default=["2m", "10m"])
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="flags added to every charrnn train command")
    args = parser.parse_args()
    if not NAMES.exists():
        raise SystemExit(f"needs {NAMES} (makemore's names.txt)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train, test = split(folder)
        print(f"names.txt: 1,000 test names by torch.randperm(seed {SEED}), "
              f"{len(train.read_text().split()):,} training names")
        for name, loss in REFERENCES:
            print(f"  {name:<52} {loss:.3f}")
        for budget in args.budgets:
            r = run(train, test, budget, folder / f"run-{budget}", args.extra)
            goal = GOALS.get(budget)
            verdict = f" (goal <= {goal}: {'met' if r['test'] <= goal else 'not met'})" \
                if goal else ""
            print(f"  {'charrnn defaults, ' + budget:<52} {r['test']:.3f}{verdict}")
            print(f"    test loss, read once; validation (from the training names) "
                  f"{r['val']:.3f}")
            print(f"    {r['shape']}, best at step {r['best_step']:,} of {r['steps']:,}, "
                  f"last training loss {r['train_loss']:.3f}; 1,000 samples: "
                  f"{r['marks']['new']} new, {r['marks']['train']} copies of training "
                  f"names, {r['marks']['test']} of test names; e.g. "
                  f"{', '.join(r['examples'])}")


if __name__ == "__main__":
    main()
