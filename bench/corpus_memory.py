"""Corpus cache preparation speed and memory: a generated 1 GB corpus beside a 10 MB one.

For each size, in fresh processes (so each peak is its own): preparing the memory-mapped
id cache (throughput in MB/s and peak RSS), then the first 100 training steps with the
default model reading from that cache (peak RSS). The two training peaks should differ by
less than 100 MB, and stay under 1 GB: memory must not grow with the corpus.

    python bench/corpus_memory.py                 # 10 MB and 1 GB, in a temporary folder
    python bench/corpus_memory.py --sizes-mb 10 100 --level byte
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"

_PREPARE = """
import json, resource, sys, time
from charrnn.data.cache import prepare
from charrnn.config import DataConfig
start = time.perf_counter()
corpus = prepare(sys.argv[1], DataConfig(level=sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - start, "symbols": corpus.ids.numel(),
                  "cached": corpus.cached,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_TRAIN = """
import json, resource, sys, time
from charrnn.data.cache import prepare
from charrnn.config import DataConfig, ModelConfig, TrainConfig
from charrnn.training.loop import train_model
corpus = prepare(sys.argv[1], DataConfig(level=sys.argv[2]))
assert corpus.cached
start = time.perf_counter()
result = train_model(corpus, ModelConfig(), TrainConfig(steps=100, eval_every=100), sys.argv[3])
print(json.dumps({"seconds": time.perf_counter() - start, "val_loss": result.val_loss,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_corpus(path: Path, size_bytes: int) -> None:
    """Tiny Shakespeare repeated (or a synthetic play without it) up to size_bytes."""
    seed = SHARED.read_bytes() if SHARED.exists() else (
        "".join(f"SPEAKER {i % 7}:\nline {i} of a play, with words and é and 😀.\n\n"
                for i in range(20_000)).encode())
    with open(path, "wb") as handle:
        written = 0
        while written < size_bytes:
            part = seed[: size_bytes - written]
            handle.write(part)
            written += len(part)


def measure(script: str, *args: str, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                         text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"benchmark step failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--level", choices=["char", "byte"], default="char")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where to write the corpora and caches (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        env = {**os.environ, "CHARRNN_CACHE": str(Path(tmp) / "cache")}
        print(f"level {args.level}; corpora built from "
              f"{SHARED.name if SHARED.exists() else 'a synthetic play'}")
        print(f"{'corpus':>8} {'prepare s':>10} {'MB/s':>7} {'prep RSS MB':>12} "
              f"{'reopen s':>9} {'100 steps s':>12} {'train RSS MB':>13}")
        train_rss = []
        for size in args.sizes_mb:
            path = Path(tmp) / f"corpus-{size}mb.txt"
            make_corpus(path, size * 1_000_000)
            prep = measure(_PREPARE, str(path), args.level, env=env)
            again = measure(_PREPARE, str(path), args.level, env=env)
            trained = measure(_TRAIN, str(path), args.level, str(Path(tmp) / f"run{size}"),
                              env=env)
            train_rss.append(trained["rss_mb"])
            print(f"{size:>6}MB {prep['seconds']:>10.1f} {size / prep['seconds']:>7.0f} "
                  f"{prep['rss_mb']:>12.0f} {again['seconds']:>9.2f} "
                  f"{trained['seconds']:>12.1f} {trained['rss_mb']:>13.0f}", flush=True)
            path.unlink()
        spread = max(train_rss) - min(train_rss)
        print(f"training peak RSS spread across sizes: {spread:.0f} MB "
              f"({'within' if spread < 100 else 'NOT within'} 100 MB); largest "
              f"{max(train_rss):.0f} MB ({'under' if max(train_rss) < 1024 else 'NOT under'}"
              f" 1 GB)")


if __name__ == "__main__":
    main()
