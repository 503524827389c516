"""Make `english`, the model that ships with charrnn, from public-domain books.

The books go in `corpora/english/books.tar.xz` (not committed; Project Gutenberg texts,
the licence
header and footer stripped; `corpora/english/SOURCES.md` gives each one's origin). Every
book's sha256 is checked against the list below before anything is trained. Ten books
are learned; two, by authors not among the ten, are held out whole: the run validates on
them (choosing its best checkpoint) and the card states the loss on all of their text.

    python scripts/make_english.py --time 60m            # train, then ship
    python scripts/make_english.py --time 90m --resume   # go on (the budget is the whole run's)
    python scripts/make_english.py --ship-only           # ship the run's best as it is

It writes the run to `checkpoints/english-base/`, and ships its best checkpoint (weights
only) as `charrnn/model/shipped/english.safetensors` with its card `english.md`.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import shutil
import sys
import tarfile
from pathlib import Path

import torch

import charrnn
from charrnn.model import checkpoint, runs, shipped

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT / "corpora" / "english" / "books.tar.xz"
RUN = ROOT / "checkpoints" / "english-base"
WORK = ROOT / "checkpoints" / "english-books"

# (file, title, author, Gutenberg ebook, sha256 of the stripped text); the last two are held out
BOOKS = [
    ("austen-pride-and-prejudice.txt", "Pride and Prejudice", "Jane Austen", 1342,
     "d02c06ecdee0120842aa1274288a07fe68d5316d1e8285853eaf4fc65a0b39a0"),
    ("bronte-jane-eyre.txt", "Jane Eyre", "Charlotte Brontë", 1260,
     "27ede6c44cb4cc667a09ff824ae2b4b836d6cd4bd3b4d98cd8031611272993d2"),
    ("dickens-a-tale-of-two-cities.txt", "A Tale of Two Cities", "Charles Dickens", 98,
     "5faf3c53a19a8d78a8a30e2740d2b03c2e7306adf86cdf434509e0381badea32"),
    ("doyle-the-adventures-of-sherlock-holmes.txt", "The Adventures of Sherlock Holmes",
     "Arthur Conan Doyle", 1661,
     "efc28bcd78eb3e5a903117fb117819208c6745849ea4862ad7e6ed6b216aa69d"),
    ("melville-moby-dick.txt", "Moby Dick", "Herman Melville", 2701,
     "0c5d752a93303520e05972895180669d0b09ddf6f9d453f8da538d76269b6ab0"),
    ("shelley-frankenstein.txt", "Frankenstein", "Mary Shelley", 84,
     "441c63b01d9a10f357a6285fd89ad0ea74d2e2331f07c8a6cea2ea9663ca16f7"),
    ("stoker-dracula.txt", "Dracula", "Bram Stoker", 345,
     "f8e495da429078d571224e1e684c32310122c8d2cf545a33965d073605368c83"),
    ("twain-adventures-of-huckleberry-finn.txt", "Adventures of Huckleberry Finn",
     "Mark Twain", 76, "6e4dedb6df6d9a3abbdc1da1358c04161ca802f4f0802b6325aad5bfba4f40dd"),
    ("twain-the-adventures-of-tom-sawyer.txt", "The Adventures of Tom Sawyer", "Mark Twain",
     74, "13f5328ae466575fdf615f01a9c59764a0c42c041c7d739c1c0abeec2b62dc24"),
    ("wilde-the-picture-of-dorian-gray.txt", "The Picture of Dorian Gray", "Oscar Wilde",
     174, "c1b1b7971a4d17fd000d452e24180583c9b1070b8424ed0f63ee967d8397288b"),
    ("stevenson-treasure-island.txt", "Treasure Island", "Robert Louis Stevenson", 120,
     "9d3923a2e2ef3429e1d1f7481c452688e0212ac1984629d1771957e83e4a4e60"),
    ("wells-the-war-of-the-worlds.txt", "The War of the Worlds", "H. G. Wells", 36,
     "b3392949b56cdfdd67a320492e707a26a9f8deca8c075f5f1ff8ecb752ddf273"),
]
HELD_OUT = 2
LN2 = 0.6931471805599453
SETTINGS = {"size": "large", "dropout": 0.1, "ema": 0.999, "eval_every": 1000,
            "val_max_chars": 200_000, "seed": 1}


def read_books(archive: Path) -> dict[str, str]:
    """Each book's text, checked against its sha256."""
    texts = {}
    with tarfile.open(archive, "r:xz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                texts[Path(member.name).name] = tar.extractfile(member).read()
    checked = {}
    for name, *_, sha in BOOKS:
        blob = texts.get(name)
        if blob is None or hashlib.sha256(blob).hexdigest() != sha:
            sys.exit(f"error: {name} is missing from {archive} or is not the listed text")
        checked[name] = blob.decode("utf-8")
    return checked


def write_corpus(books: dict[str, str]) -> tuple[Path, Path]:
    """The ten learned books joined by blank lines, and the two held out, as files."""
    WORK.mkdir(parents=True, exist_ok=True)
    names = [b[0] for b in BOOKS]
    joined = {"english.txt": names[:-HELD_OUT], "held-out.txt": names[-HELD_OUT:]}
    for file, members in joined.items():
        text = "\n\n".join(books[n].rstrip("\n") for n in members) + "\n"
        (WORK / file).write_text(text, encoding="utf-8")
    return WORK / "english.txt", WORK / "held-out.txt"


def held_out_loss(path: Path, held_out: Path) -> tuple[float, int, int]:
    """Bits per character of the shipped weights on all of the held-out books (their
    few characters the learned books never hold left out), and how many were."""
    lm = charrnn.load(path)
    text = held_out.read_text(encoding="utf-8")
    known = "".join(c for c in text if c in lm.vocab.index)
    return lm.evaluate(known).bits_per_char, len(known), len(text) - len(known)


def card(meta: dict, bits: float, chars: int, dropped: int, size: int) -> str:
    model, train = meta["model"], meta["train"]
    roles = ["learned"] * (len(BOOKS) - HELD_OUT) + ["held out"] * HELD_OUT
    rows = "\n".join(f"| {title} | {author} | {number} | {role} | `{sha}` |"
                     for (_, title, author, number, sha), role in zip(BOOKS, roles, strict=True))
    best = meta["metrics"]["best_val_loss"] / LN2
    return f"""# english: the model that ships with charrnn

A general model of 19th-century English prose, made by `scripts/make_english.py` from
twelve public-domain books (Project Gutenberg texts, licence header and footer stripped;
origins, paths and commits in `corpora/english/SOURCES.md`). It is what `charrnn sample
--checkpoint english` writes before you train anything, and what `charrnn train MY.txt
--init-from english` starts from.

## What it read

| book | author | Gutenberg # | role | sha256 of the stripped text |
|---|---|---|---|---|
{rows}

{len(BOOKS) - HELD_OUT} books learned ({meta['corpus']['symbols']:,} characters); the last
two, by authors not among them, held out whole.

## How it was trained

- {model['model'].upper()}, {model['num_layers']} x {model['hidden_size']}, embedding
  {model['embed_size']}, dropout {model['dropout']}; {meta['vocab_size']} characters.
- AdamW, lr {train['lr']} ({train['lr_schedule']} to {train['min_lr_frac']} of it),
  weight decay {train['weight_decay']}, weight average {train['ema']}, batch
  {train['batch_size']} x {train['seq_len']}, seed {train['seed']}.
- {meta['step']:,} steps ({meta['epoch']} epochs begun) in {meta['elapsed_seconds'] / 60:.0f}
  minutes on {torch.get_num_threads()} CPU threads ({platform.machine()}); the best checkpoint
  (step {meta['metrics']['best_step']:,}) is the one shipped, weights only, in fp32
  ({size / 1e6:.1f} MB).

## How well it does

- Validation while training (the first 200,000 characters of the held-out books): best
  **{best:.4f}** bits per character.
- All of the held-out books ({chars:,} characters; {dropped} character(s) the learned books
  never hold left out): **{bits:.4f}** bits per character.

Reduced precision was not needed: fp32 fits the package's 8 MB limit.
"""


def ship(held_out: Path) -> None:
    best = runs.resolve(RUN)
    found = checkpoint.load(best)
    shipped.FOLDER.mkdir(parents=True, exist_ok=True)
    target = shipped.FOLDER / f"english{checkpoint.SUFFIX}"
    weights = checkpoint.weights_of(found.tensors)
    meta = {k: v for k, v in found.meta.items() if k not in ("format", "version",
                                                            "tensors_sha256")}
    meta["corpus"] = {**meta["corpus"], "name": "english", "source": "english books"}
    meta["validation"] = "held-out books"
    checkpoint.save(target, {checkpoint.MODEL + k: v for k, v in weights.items()}, meta)
    bits, chars, dropped = held_out_loss(target, held_out)
    meta["vocab_size"] = len(meta["vocab"]["counts"])
    shipped.card("english").write_text(card(meta, bits, chars, dropped, target.stat().st_size),
                                       encoding="utf-8")
    print(f"shipped {target} ({target.stat().st_size / 1e6:.1f} MB); held-out books "
          f"{bits:.4f} bits/char")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time", default="60m", help="training budget (the whole run's)")
    parser.add_argument("--resume", action="store_true", help="continue the run")
    parser.add_argument("--ship-only", action="store_true", help="ship the run's best")
    parser.add_argument("--books", type=Path, default=ARCHIVE)
    args = parser.parse_args()
    charrnn.tune_for_speed()
    corpus, held_out = write_corpus(read_books(args.books))
    if not args.ship_only:
        result = charrnn.train(corpus, val_file=held_out, out=RUN, time=args.time,
                               resume=args.resume, overwrite=not args.resume,
                               reporter=Lines(), **SETTINGS)
        print(f"trained {result.steps} steps; best validation "
              f"{result.best_val_loss / LN2:.4f} bits/char at step {result.best_step}")
    ship(held_out)
    shutil.rmtree(WORK, ignore_errors=True)


class Lines:
    """Progress as plain lines, for a run in the background with its output in a file."""

    def on_start(self, info) -> None:
        print(f"training {info.parameters:,} parameters on {info.train_chars:,} characters; "
              f"validation {info.val_chars:,}", flush=True)

    def on_step(self, stats) -> None:
        if stats.step % 500 == 0:
            print(f"step {stats.step}: train {stats.loss / LN2:.3f} bits/char, "
                  f"{stats.chars_per_sec:,.0f} chars/s, {stats.elapsed / 60:.1f} min", flush=True)

    def on_eval(self, step: int, val_loss: float, improved: bool) -> None:
        print(f"step {step}: validation {val_loss / LN2:.4f} bits/char"
              + (" (best)" if improved else ""), flush=True)

    def on_message(self, text: str) -> None:
        print(f"note: {text}", flush=True)

    def on_end(self, result) -> None: ...


if __name__ == "__main__":
    main()
