"""A folder of two authors: classification, label-steered samples, per-source loss.

Two public-domain novels that neither shipped base read, nor any book by their authors
(`--pair unread`, the default: an English children's book and a translated Russian
novel, L. M. Montgomery's Anne of Green Gables and Dostoyevsky's The Brothers Karamazov
in Constance Garnett's translation; `corpora/folders/SOURCES.md`), or the pair measured
before 12-07, which both bases read (`--pair read`: Austen's Pride and Prejudice,
Dickens's A Tale of Two Cities; `corpora/english/SOURCES.md`). The first 300,000
characters of each, cut into 30 files of 10,000 in a folder per author, are the training
folder; the next 100,000 give the validation paragraphs, and the rest of each book the
test paragraphs (paragraphs of at least 200 characters). With `--label-from dirname` a
model learns both for 5 minutes on this machine (each `--label-input` asked for, with any
`--set` options), and a model of each author alone learns its folder for the same time,
with the same options. Every setting is compared on the validation paragraphs; the test
paragraphs are read once, at the end, by the model the validation paragraphs chose
(`--no-test` leaves them unread):

- classify: each paragraph assigned the label with the highest posterior; the share
  assigned to its author (goal >= 97%);
- steered samples: 40 samples of 300 characters per label (temperature 0.8); the share
  that score higher under their own label than under the other (goal >= 95%);
- per-source loss: each source's validation loss (its held-out files, the same ones
  for the folder and for the author alone) beside the author-alone model's; the folder
  model's must be within 3% (goal);
- and, for scale, the two author-alone models as a classifier of the validation
  paragraphs (a paragraph to the author whose model finds it likelier): what this kind
  of classifier reaches with twice the folder model's training.

    python bench/folders.py                            # corpora/folders/books.tar.xz
    python bench/folders.py --books DIR                # DIR holds the two novels' .txt
    python bench/folders.py --label-input vector adapter --no-alone
    python bench/folders.py --set init_from=english seed=2 --no-alone --no-test
    python bench/folders.py --pair read --set documents=files --no-alone --no-test
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# pair -> (the archive it is read from by default, author -> (book's file, its sha256))
PAIRS = {
    "unread": (ROOT / "corpora" / "folders" / "books.tar.xz", {
        "montgomery": ("montgomery-anne-of-green-gables.txt",
                       "bf2b6394e363f19d3cf8f354c96cdeb38c5d857fec629937d15c802a8cf93bfe"),
        "dostoyevsky": ("dostoevsky-the-brothers-karamazov.txt",
                        "15f5f15190203107ab849adca0da91dfd28306ad923d22dcf50ee4976600c326")}),
    "read": (ROOT / "corpora" / "english" / "books.tar.xz", {
        "austen": ("austen-pride-and-prejudice.txt",
                   "d02c06ecdee0120842aa1274288a07fe68d5316d1e8285853eaf4fc65a0b39a0"),
        "dickens": ("dickens-a-tale-of-two-cities.txt",
                    "5faf3c53a19a8d78a8a30e2740d2b03c2e7306adf86cdf434509e0381badea32")}),
}
TRAIN_CHARS, FILE_CHARS, TEST_FROM = 300_000, 10_000, 400_000  # validation: between
LN2 = 0.6931471805599453


def book_texts(books: Path, listed: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Each author's novel, from a folder of .txt files or a books archive, checked
    against its sha256."""
    blobs = {}
    try:
        if books.is_dir():
            blobs = {name: (books / name).read_bytes() for name, _ in listed.values()}
        else:
            with tarfile.open(books) as archive:
                blobs = {name: archive.extractfile(name).read() for name, _ in listed.values()}
    except (OSError, KeyError) as err:
        sys.exit(f"error: {books} lacks a book of the pair ({err})")
    for name, sha in listed.values():
        if hashlib.sha256(blobs[name]).hexdigest() != sha:
            sys.exit(f"error: {name} in {books} is not the listed text (sha256)")
    return {author: blobs[name].decode("utf-8") for author, (name, _) in listed.items()}


def write_folder(texts: dict[str, str], root: Path) -> None:
    for author, text in texts.items():
        (root / author).mkdir(parents=True)
        for i in range(TRAIN_CHARS // FILE_CHARS):
            piece = text[i * FILE_CHARS : (i + 1) * FILE_CHARS]
            (root / author / f"part{i:02d}.txt").write_text(piece, encoding="utf-8")


def paragraphs(text: str) -> list[str]:
    """A text's paragraphs (separated by blank lines) of at least 200 characters."""
    found = [p.strip() for p in re.split(r"\n\s*\n", text)]
    return [p for p in found if len(p) >= 200]


def train(paths: list[str], out: Path, minutes: float, **options) -> dict:
    import charrnn

    result = charrnn.train(paths, out=out, time=f"{minutes}m", **options)
    from charrnn.model import checkpoint, runs

    meta = checkpoint.load(out / runs.BEST).meta
    return {"result": result, "by_source": meta.get("val_by_source") or {}}


def measure(lm, tests: dict[str, list[str]], samples: int) -> dict:
    """Classification accuracy on `tests` (author -> paragraphs), and the share of
    steered samples that score higher under their own label."""
    right = total = skipped = 0
    for author, paras in tests.items():
        for p in paras:
            if lm.vocab.unknown(p):
                skipped += 1
                continue
            total += 1
            right += lm.classify(p).label == author
    steered = count = 0
    for label in lm.labels:
        other = next(x for x in lm.labels if x != label)
        for text in lm.samples(samples, 300, temperature=0.8, seed=7, label=label):
            if text:
                count += 1
                steered += lm.logprob(text, label=label) > lm.logprob(text, label=other)
    return {"accuracy": right / total, "tested": total, "skipped": skipped,
            "steered": steered / count, "samples": count}


def pair_accuracy(models: dict, tests: dict[str, list[str]]) -> tuple[int, int]:
    """(right, scored): each paragraph given to the author whose own model finds it the
    likelier, for paragraphs every model can read."""
    right = total = 0
    for author, paras in tests.items():
        for p in paras:
            if any(lm.vocab.unknown(p) for lm in models.values()):
                continue
            scores = {name: lm.logprob(p) for name, lm in models.items()}
            total += 1
            right += max(scores, key=scores.get) == author
    return right, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pair", choices=sorted(PAIRS), default="unread",
                        help="the two novels (see above)")
    parser.add_argument("--books", type=Path, default=None,
                        help="a folder or archive holding the pair's books (default: "
                             "the pair's archive under corpora/)")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--label-input", nargs="+", default=["vector"],
                        choices=["vector", "prefix", "adapter"])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--no-alone", action="store_true",
                        help="skip the author-alone models (and the per-source goal)")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                        help="training options for the folder model, e.g. documents=files")
    parser.add_argument("--no-test", action="store_true",
                        help="compare on the validation paragraphs only")
    args = parser.parse_args()
    archive, listed = PAIRS[args.pair]
    books = args.books or archive
    if not books.exists():
        sys.exit(f"{books} not found: build it as {archive.parent / 'SOURCES.md'} says, "
                 "or pass --books with a folder holding "
                 + ", ".join(name for name, _ in listed.values()))
    import charrnn

    texts = book_texts(books, listed)
    valid = {a: paragraphs(t[TRAIN_CHARS:TEST_FROM]) for a, t in texts.items()}
    tests = {a: paragraphs(t[TEST_FROM:]) for a, t in texts.items()}
    options = dict(_option(text) for text in args.set)
    work = Path(tempfile.mkdtemp(prefix="charrnn-folders-"))
    write_folder(texts, work / "folder")
    print(f"folder: {len(texts)} authors x {TRAIN_CHARS // FILE_CHARS} files of "
          f"{FILE_CHARS:,} characters; paragraphs (validation, test): "
          + ", ".join(f"{a} {len(valid[a])}, {len(tests[a])}" for a in texts)
          + (f"; options {options}" if options else ""), flush=True)
    alone = {}
    if not args.no_alone:
        for author in texts:
            run = train([str(work / "folder" / author)], work / f"alone-{author}",
                        args.minutes, **options)  # the same options, without labels
            alone[author] = run["by_source"].get(author, run["result"].best_val_loss)
            print(f"{author} alone: best validation {alone[author] / LN2:.4f} bits/char "
                  f"({run['result'].steps} steps)", flush=True)
        right, total = pair_accuracy({a: charrnn.load(work / f"alone-{a}") for a in texts},
                                     valid)
        print(f"the two alone models as a classifier (twice the training): {right / total:.1%}"
              f" of {total} validation paragraphs", flush=True)
    goals_met, chosen = True, None
    for how in args.label_input:
        out = work / f"folder-{how}"
        run = train([str(work / "folder")], out, args.minutes, label_from="dirname",
                    label_input=how, **options)
        lm = charrnn.load(out)
        found = measure(lm, valid, args.samples)
        print(f"\nlabel input {how}: {run['result'].steps} steps, best validation "
              f"{run['result'].best_val_loss / LN2:.4f} bits/char")
        print(f"  validation paragraphs: classify {found['accuracy']:.1%} of "
              f"{found['tested']} right; steered samples {found['steered']:.1%} of "
              f"{found['samples']}")
        if chosen is None or found["accuracy"] > chosen[1]:
            chosen = (how, found["accuracy"], lm)
        for author, loss in sorted(run["by_source"].items()):
            line = f"  {author}: validation {loss / LN2:.4f} bits/char"
            if author in alone:
                gap = loss / alone[author] - 1
                line += (f", alone {alone[author] / LN2:.4f}: {gap:+.1%} "
                         f"(goal within 3%: {'met' if gap <= 0.03 else 'missed'})")
                goals_met &= gap <= 0.03
            print(line, flush=True)
    if args.no_test:
        return
    how, _, lm = chosen
    found = measure(lm, tests, args.samples)
    print(f"\ntest set, read once, by the model the validation paragraphs chose ({how}):")
    print(f"  classify: {found['accuracy']:.1%} of {found['tested']} paragraphs right "
          f"(goal >= 97%; {found['skipped']} skipped: characters the model never saw)")
    print(f"  steered samples: {found['steered']:.1%} of {found['samples']} score higher "
          "under their own label (goal >= 95%)")
    goals_met &= found["accuracy"] >= 0.97 and found["steered"] >= 0.95
    print(f"\ngoals {'met' if goals_met else 'missed'}")


def _option(text: str) -> tuple[str, object]:
    """NAME=VALUE, the value read as a number where it is one."""
    name, _, value = text.partition("=")
    for kind in (int, float):
        try:
            return name, kind(value)
        except ValueError:
            pass
    return name, value

if __name__ == "__main__":
    main()
