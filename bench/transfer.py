"""Fine-tuning from `english` against training from scratch, on small texts.

On small public-domain texts that are not among the base model's books (nor by their
authors; `corpora/transfer/SOURCES.md`), validation being the last 10% of each, it runs
in fresh processes, with nothing else set:

    charrnn train TEXT --val-frac 0.1 --time 2m --init-from english   # fine-tuned
    charrnn train TEXT --val-frac 0.1 --time 2m                       # from scratch
    charrnn train TEXT --val-frac 0.1 --time 10m                      # from scratch, longer

and prints each run's best validation loss (bits per character, the run's own choice of
checkpoint on its validation split) beside the others, the parent's zero-shot loss, how
much lower the fine-tuned loss is, and each goal met or not. Then, for each run,
`charrnn novelty` on 20 samples of 500 characters at temperature 1: the share of their
12- and 20-character substrings found in the training text and the longest copied span,
and the share of the words of 20 samples of 300 characters (temperature 0.8) that the
CMU dictionary holds (`english_words.py`). With `--bases A B`, a fine-tune from each,
the first compared with the others.

    python bench/transfer.py                              # prose and verse: the goals
    python bench/transfer.py --bases english english-small --long none   # two bases
    python bench/transfer.py --texts french russian --long none   # other alphabets
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from english_words import samples_of, word_share  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ROOT / "corpora" / "transfer"
GOALS = {"prose": 0.10, "verse": 0.15}  # the fine-tune's loss this much below 2m scratch
LN2 = 0.6931471805599453


def train(text: Path, out: Path, budget: str, extra: list[str]) -> dict:
    """One `charrnn train` run in its own process; its best checkpoint's figures."""
    from charrnn.model import checkpoint, runs

    cmd = [sys.executable, "-m", "charrnn", "train", str(text), "--val-frac", "0.1",
           "--time", budget, "--out", str(out), *extra]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    meta = checkpoint.load(out / runs.LATEST).meta
    metrics, parent = meta["metrics"], meta.get("parent") or {}
    return {"best": metrics["best_val_loss"] / LN2, "step": metrics["best_step"],
            "steps": meta["step"], "epochs": meta["epoch"],
            "zero_shot": parent["zero_shot_loss"] / LN2 if parent else None}


def novelty(out: Path) -> dict:
    cmd = [sys.executable, "-m", "charrnn", "novelty", "--checkpoint", str(out), "--json",
           "--num-samples", "20", "--length", "500", "--max-n", "20"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout)
    return {"12": found["generated"][11], "20": found["generated"][19],
            "longest": found["longest"]}


def english_words(out: Path) -> float:
    """The share of the run's samples' words in the CMU dictionary (english_words.py)."""
    import charrnn

    return word_share(samples_of(charrnn.load(out)))[0]


def compare(name: str, text: Path, folder: Path, short: str, long: str | None,
            bases: list[str]) -> None:
    chars = len(text.read_text(encoding="utf-8"))
    print(f"\n{name}: {text.name}, {chars:,} characters (validation: the last 10%)", flush=True)
    runs = {f"fine-tuned from {base}, {short}": (short, ["--init-from", base])
            for base in bases}
    runs[f"from scratch, {short}"] = (short, [])
    if long:
        runs[f"from scratch, {long}"] = (long, [])
    found = {}
    for label, (budget, extra) in runs.items():
        out = folder / f"{name}-{len(found)}"
        found[label] = {**train(text, out, budget, extra), **novelty(out),
                        "words": english_words(out)}
        r = found[label]
        zero = f"; zero-shot {r['zero_shot']:.4f}" if r["zero_shot"] is not None else ""
        print(f"  {label:36} best validation {r['best']:.4f} bits/char at step {r['step']:,} "
              f"of {r['steps']:,}{zero}; copied substrings: {r['12']:.1%} of 12-char, "
              f"{r['20']:.1%} of 20-char, longest {r['longest']}; words in the CMU "
              f"dictionary {r['words']:.1%}", flush=True)
    labels = list(runs)
    for other in labels[1 : len(bases)]:  # the first base against each other one
        first, second = found[labels[0]]["best"], found[other]["best"]
        print(f"  {labels[0]} vs {other}: {first:.4f} vs {second:.4f} "
              f"(goal: lower; {'met' if first < second else 'not met'})")
    tuned, scratch = found[labels[0]]["best"], found[labels[len(bases)]]["best"]
    lower = 1 - tuned / scratch
    goal = GOALS.get(name)
    said = f" (goal {goal:.0%}: {'met' if lower >= goal else 'not met'})" if goal else ""
    print(f"  fine-tuned vs {short} from scratch: {lower:.1%} lower{said}")
    if long:
        longer = found[labels[len(bases) + 1]]["best"]
        print(f"  fine-tuned {short} vs {long} from scratch: {tuned:.4f} vs {longer:.4f} "
              f"(goal: lower; {'met' if tuned < longer else 'not met'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", nargs="+", default=["prose", "verse"],
                        help="texts of corpora/transfer/ by name")
    parser.add_argument("--short", default="2m", help="the fine-tune's budget")
    parser.add_argument("--long", default="10m", help="the longer scratch run ('none': skip)")
    parser.add_argument("--bases", nargs="+", default=["english"],
                        help="models to fine-tune from, the first compared with the others "
                             "(e.g. english english-small)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.texts:
            compare(name, TEXTS / f"{name}.txt", Path(tmp), args.short,
                    None if args.long == "none" else args.long, args.bases)


if __name__ == "__main__":
    main()
