"""Many small files: how quickly a folder of 10,000 becomes a corpus, and in what memory.

A folder of 10,000 files of about 500 characters (100 folders of 100; 5 MB in all) and
one file of the same text are each prepared into the corpus cache in a fresh process,
cold (an empty cache) and then warm (the cache found), and the folder once more after
one of its files is edited. For each it prints the seconds and the peak resident memory
of the process, beside the single file's, so the ratio is read in one run:

    python bench/many_files.py              # 10,000 files
    python bench/many_files.py --files 2000
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

WORDS = ("the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was",
         "with", "be", "by", "on", "not", "he", "I", "this", "are", "or", "his", "from",
         "at", "which", "but", "have", "an", "they", "you", "were", "her", "she", "there",
         "one", "all", "we", "their")

PREPARE = """
import json, resource, sys, time
from charrnn.config import DataConfig
started = time.perf_counter()
if sys.argv[1] == "folder":
    from charrnn.data.collection import prepare_files
    corpus = prepare_files([sys.argv[2]], DataConfig())
else:
    from charrnn.data.cache import prepare
    corpus = prepare(sys.argv[2], DataConfig())
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "cached": corpus.cached, "symbols": corpus.ids.numel(),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_corpus(root: Path, files: int) -> Path:
    rng = random.Random(0)
    folder = root / "folder"
    texts = []
    for i in range(files):
        text = " ".join(rng.choice(WORDS) for _ in range(100)) + ".\n"
        path = folder / f"part{i // 100:03d}" / f"{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        texts.append(text)
    (root / "one.txt").write_text("".join(texts), encoding="utf-8")
    return folder


def run(kind: str, path: Path, cache: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PREPARE, kind, str(path)], capture_output=True,
                          text=True, env={"CHARRNN_CACHE": str(cache), "PATH": ""})
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="charrnn-many-"))
    folder = write_corpus(root, args.files)
    rows = [("one file, cold", run("file", root / "one.txt", root / "cache-one")),
            ("one file, warm", run("file", root / "one.txt", root / "cache-one")),
            (f"{args.files:,} files, cold", run("folder", folder, root / "cache-many")),
            (f"{args.files:,} files, warm", run("folder", folder, root / "cache-many"))]
    first = sorted(folder.glob("*/*.txt"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "edited.\n", encoding="utf-8")
    rows.append(("one file edited", run("folder", folder, root / "cache-many")))
    one_cold, one_warm = rows[0][1], rows[1][1]
    print(f"{'':>22} {'seconds':>8} {'x one file':>10} {'peak MB':>8} {'x one file':>10}")
    for name, found in rows:
        base = one_warm if "warm" in name or "edited" in name else one_cold
        print(f"{name:>22} {found['seconds']:8.2f} {found['seconds'] / base['seconds']:10.1f} "
              f"{found['peak_mb']:8.0f} {found['peak_mb'] / base['peak_mb']:10.2f}")
    print(f"symbols: {rows[2][1]['symbols']:,} (the folder: each file's text, its end symbol)")


if __name__ == "__main__":
    main()
