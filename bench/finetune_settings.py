"""Choosing the fine-tuning settings: each candidate, fine-tuned from `english`, on texts
that are not the ones `bench/transfer.py` reports on.

The tuning texts are two pieces of Tiny Shakespeare (../shared/corpora/), which is not
among the base model's books: its last 130,000 characters and its last 35,000, the sizes
of the transfer goals' prose and verse. Each candidate runs, in a fresh process,

    charrnn train PIECE --val-frac 0.1 --time 2m --init-from english --SETTING VALUE ...

and the table gives each one's best validation loss (bits per character, on the last
10% of the piece: a split of the tuning text itself) beside the candidates' median.
Nothing here reads the transfer texts.

    python bench/finetune_settings.py --candidates "lr=0.002" "lr=0.004,dropout=0.1"
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from transfer import train  # noqa: E402  (one run of `charrnn train`, its best figures)

ROOT = Path(__file__).resolve().parents[1]
SHAKESPEARE = ROOT.parent / "shared" / "corpora" / "tinyshakespeare.txt"
PIECES = {"130k": 130_000, "35k": 35_000}


def flags(candidate: str) -> list[str]:
    """"lr=0.002,dropout=0.1" -> ["--lr", "0.002", "--dropout", "0.1"]."""
    found = []
    for pair in filter(None, candidate.split(",")):
        name, _, value = pair.partition("=")
        found += [f"--{name.strip().replace('_', '-')}", value.strip()]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", nargs="+", default=[""],
                        help="settings over the preset, e.g. lr=0.002,dropout=0.1 ('' = preset)")
    parser.add_argument("--time", default="2m")
    args = parser.parse_args()
    if not SHAKESPEARE.is_file():
        sys.exit(f"needs {SHAKESPEARE}")
    text = SHAKESPEARE.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        pieces = {}
        for name, size in PIECES.items():
            pieces[name] = Path(tmp) / f"piece-{name}.txt"
            pieces[name].write_text(text[-size:], encoding="utf-8")
        results = {}
        for candidate in args.candidates:
            for name, piece in pieces.items():
                out = Path(tmp) / f"run-{len(results)}"
                found = train(piece, out, args.time, ["--init-from", "english",
                                                      *flags(candidate)])
                results[(candidate, name)] = found
                print(f"{candidate or 'preset':32} {name:5} best {found['best']:.4f} bits/char "
                      f"at step {found['step']:,} of {found['steps']:,} (zero-shot "
                      f"{found['zero_shot']:.4f})", flush=True)
        for name in pieces:
            median = statistics.median(r["best"] for (_, n), r in results.items() if n == name)
            print(f"{name}: median of the candidates {median:.4f} bits/char")


if __name__ == "__main__":
    main()
