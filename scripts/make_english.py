"""Make `english`, the model that ships with charrnn, from public-domain books.

The books go in `corpora/english/books.tar.xz` (not committed; Project Gutenberg texts,
the licence
header and footer stripped; `corpora/english/SOURCES.md` gives each one's origin). Every
book's sha256 is checked against the list below before anything is trained.

With `--v2` (the 46 books of `BOOKS_V2`): 42 are learned, two by other authors validate
the run (choosing its best checkpoint and the precision), and two more, by other authors
still, are read once for the card. `--ship` ships the run's best as `english`, in fp16
where that costs under 0.005 bits/char on the validation books, and keeps the english
shipped before as `english-small`, byte for byte. Without `--v2`: the 12-book recipe of
`english-small` (ten learned, two held out), which ships nothing now that
`english-small` is kept as it shipped.

    python scripts/make_english.py --v2 --shape 1x1024 --time 10h --out RUN   # the 46 books
    python scripts/make_english.py --v2 --shape 1x1024 --time 10h --resume --out RUN
    python scripts/make_english.py --v2 --shape 1x1024 --out RUN --ship-only --ship
    python scripts/make_english.py --time 65m    # the recipe of english-small (trains only)

The 12-book recipe writes its run to `checkpoints/english-base/`; `--v2` writes to
`--out`. What ships goes to `charrnn/model/shipped/` (weights and word list only) with
its card.
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
from charrnn.data import word_list
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

# (file, title, author, Gutenberg ebook, sha256 of the stripped text, role), the role
# "train", "validation" or "test": 42 books by 34 authors learned; two validation and two
# test books held out whole, by four authors with no other book here. The first twelve are
# BOOKS (the recipe of english-small); corpora/english/SOURCES.md gives each one's origin.
BOOKS_V2 = [
    *((*book, "train") for book in BOOKS[:-HELD_OUT]),
    *((*book, "validation") for book in BOOKS[-HELD_OUT:]),
    ("austen-emma.txt", "Emma", "Jane Austen", 158,
     "b1f407ebf45d923e2c2532a1000ce2ee7b4eb5008b63fa9898522b16c70c9c00", "train"),
    ("dickens-great-expectations.txt", "Great Expectations", "Charles Dickens", 1400,
     "99f080f099c7498383df6e1f9456b8ec58ae2b30c74a72ff18cd93d58cd03039", "train"),
    ("alcott-little-women.txt", "Little Women", "Louisa May Alcott", 514,
     "62f9b324fb7f13afb6ea0922aa965c3554ca7d3e8eff3a2a4e7314c76190f3a9", "train"),
    ("doyle-the-hound-of-the-baskervilles.txt", "The Hound of the Baskervilles",
     "Arthur Conan Doyle", 2852,
     "d77d470b28ae655ce9de81bc18989b7dbc8a99f388834ea8946f67e58b4fb839", "train"),
    ("wilde-the-importance-of-being-earnest.txt", "The Importance of Being Earnest", "Oscar Wilde",
     844, "11fc5425755ed45ff75af03f24461040a08d10e7509a363b93d9d258c0dd59d3", "train"),
    ("wilde-an-ideal-husband.txt", "An Ideal Husband", "Oscar Wilde", 885,
     "d155d8e3f0a3978a8b1d58e83f765c55c835da9e9c2f927c1f8f7fc39736fee4", "train"),
    ("twain-a-connecticut-yankee-in-king-arthurs-court.txt",
     "A Connecticut Yankee in King Arthur's Court", "Mark Twain", 86,
     "d7f7a86ea55ca06bbc469605e6f529f19442ada842ec1bb3fb428bd0f46a894a", "train"),
    ("bronte-wuthering-heights.txt", "Wuthering Heights", "Emily Brontë", 768,
     "3f56cc89f896981c0df9528efe5f2b10659b14c68b5a19e7887908e82eff7e99", "train"),
    ("eliot-middlemarch.txt", "Middlemarch", "George Eliot", 145,
     "24fee01e298e854cfefff4155f3fe1aa1531372cd2b1ab8ba9936233a12c7ab8", "train"),
    ("thackeray-vanity-fair.txt", "Vanity Fair", "William Makepeace Thackeray", 599,
     "5bfab6f0dda3cb74ab145fb8f6812cce8478f7fbf3239e28a473f6d6f8e7debe", "train"),
    ("hawthorne-the-scarlet-letter.txt", "The Scarlet Letter", "Nathaniel Hawthorne", 33,
     "68a57655bec10c2e2da575cbd2679cf8f8507c697e3f0d63340292722c241e7c", "train"),
    ("gaskell-north-and-south.txt", "North and South", "Elizabeth Gaskell", 4276,
     "01b77e2977d99e0c065fa05e1c56a821fc8cf1a2b035253db96c52607cb664f3", "train"),
    ("collins-the-moonstone.txt", "The Moonstone", "Wilkie Collins", 155,
     "fc33255ff3f88c0860821f81a646c91ec22424b4906ff7732df1e35aa2f3cee6", "train"),
    ("scott-ivanhoe.txt", "Ivanhoe", "Walter Scott", 82,
     "313d8635e34ffa2f5a37c4ebab9b36a5bb47eeb79ea446ee07721918671c259c", "train"),
    ("stowe-uncle-toms-cabin.txt", "Uncle Tom's Cabin", "Harriet Beecher Stowe", 203,
     "c65411ec0ece7788465046ff464e05f2612aa1ba642de47c9c7aa8bf8ea0387f", "train"),
    ("crane-the-red-badge-of-courage.txt", "The Red Badge of Courage", "Stephen Crane", 73,
     "38f7ea27d97f0e0872b3dc1c70078820cf717df40952341fc2fddc9a123a3f77", "train"),
    ("conrad-heart-of-darkness.txt", "Heart of Darkness", "Joseph Conrad", 219,
     "7175436c7de60753c755cb30a4858747c6ac93014b340b6d96f2093efafa2c2a", "train"),
    ("jerome-three-men-in-a-boat.txt", "Three Men in a Boat", "Jerome K. Jerome", 308,
     "38d4c71cb7ac7d7a82b3a62824f0d023c3499c98f8dff37753d024bf8af08029", "train"),
    ("chopin-the-awakening-and-selected-short-stories.txt",
     "The Awakening and Selected Short Stories", "Kate Chopin", 160,
     "4006e9ec0f8eb81aee8055d26d08e9c7d9a5f3e40532abf4ae4a3e34a60caa21", "train"),
    ("forster-a-room-with-a-view.txt", "A Room with a View", "E. M. Forster", 2641,
     "fab97ee034b97eb622d4828da529f31378a215be81fbbe6f08c19e27e5639ae1", "train"),
    ("kipling-the-jungle-book.txt", "The Jungle Book", "Rudyard Kipling", 236,
     "54d65e2c82e25493e89be7893663a352aa559550cde58c7f3f2c055bc31c32bc", "train"),
    ("carroll-alices-adventures-in-wonderland.txt", "Alice's Adventures in Wonderland",
     "Lewis Carroll", 11, "8848bba43e5c75c5a2b1e248b51edab248878cca60d916b6685a57f491ac86d3",
     "train"),
    ("carroll-through-the-looking-glass.txt", "Through the Looking-Glass", "Lewis Carroll", 12,
     "27494ad121d3438b377d7101fc4df3d173447de86449c2486b57daa9b676e1fa", "train"),
    ("barrie-peter-pan.txt", "Peter Pan", "J. M. Barrie", 16,
     "ded6538cd94222589e27613569496e216ce07116b40707d03070f5cf6b08d3ad", "train"),
    ("baum-the-wonderful-wizard-of-oz.txt", "The Wonderful Wizard of Oz", "L. Frank Baum", 55,
     "d82284521615a4d0eb6cfd06d366b8c60a3927940922b743f04e009eb81bbca6", "train"),
    ("burnett-the-secret-garden.txt", "The Secret Garden", "Frances Hodgson Burnett", 113,
     "9e21209f4f5aa6cbd8e6b362361e6528b661923ea62ff55039166f3152059dfc", "train"),
    ("grahame-the-wind-in-the-willows.txt", "The Wind in the Willows", "Kenneth Grahame", 289,
     "ee8ac23f97b081a0a85456c9c36a86387bde3a926fd165230b67d57851bc3c73", "train"),
    ("longfellow-the-song-of-hiawatha.txt", "The Song of Hiawatha", "Henry Wadsworth Longfellow",
     19, "bd3fd62adc26a65ea199ee6c10def8588bbf065dd36afa4cc189f754b67e6212", "train"),
    ("tennyson-idylls-of-the-king.txt", "Idylls of the King", "Alfred, Lord Tennyson", 610,
     "f7d60bd776f83dea91abdb7252fff0f441429397f0ed3ece68a5ecf62361f3eb", "train"),
    ("whitman-leaves-of-grass.txt", "Leaves of Grass", "Walt Whitman", 1322,
     "b21232a27d05c499c304d37c1b9ae70620c75a49e96b45d4ca9fbf846b710fe3", "train"),
    ("dickinson-poems.txt", "Poems: Three Series, Complete", "Emily Dickinson", 12242,
     "41394caa08cf7ae91e43357b0dbca8b3b328008f31c25310bb838b1a6b184e9c", "train"),
    ("coleridge-the-rime-of-the-ancient-mariner.txt", "The Rime of the Ancient Mariner",
     "Samuel Taylor Coleridge", 151,
     "ac49f0a800c2f08adbd37e37ebcc52ba22d5d003733de0f579262482e88fbc93", "train"),
    ("london-the-call-of-the-wild.txt", "The Call of the Wild", "Jack London", 215,
     "5e31d18f937e17f0efbbe4584a04633e5b8e0979fd66b49ed4e3b7d5b64025f5", "test"),
    ("hardy-far-from-the-madding-crowd.txt", "Far from the Madding Crowd", "Thomas Hardy", 107,
     "5c5c136e4824cded78fe5cee685722d468cc102d4cbeb966c2f0a637e8ff03be", "test"),
]
LN2 = 0.6931471805599453
SETTINGS = {"size": "large", "dropout": 0.1, "ema": 0.999, "eval_every": 1000,
            "val_max_chars": 200_000, "seed": 1}


def read_books(archive: Path, listed: list[tuple] = BOOKS) -> dict[str, str]:
    """Each listed book's text, checked against its sha256."""
    texts = {}
    with tarfile.open(archive, "r:xz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                texts[Path(member.name).name] = tar.extractfile(member).read()
    checked = {}
    for name, _, _, _, sha, *_ in listed:
        blob = texts.get(name)
        if blob is None or hashlib.sha256(blob).hexdigest() != sha:
            sys.exit(f"error: {name} is missing from {archive} or is not the listed text")
        checked[name] = blob.decode("utf-8")
    return checked


def write_corpus(books: dict[str, str], listed: list[tuple] | None = None
                 ) -> tuple[Path, Path]:
    """The learned books joined by blank lines, and the validation books, as files. With
    BOOKS_V2 (`listed`), the books by role: the test books are not written (they are
    read once, at the end, by `held_out_loss` on their own)."""
    WORK.mkdir(parents=True, exist_ok=True)
    if listed is None:
        names = [b[0] for b in BOOKS]
        joined = {"english.txt": names[:-HELD_OUT], "held-out.txt": names[-HELD_OUT:]}
    else:
        joined = {"english.txt": [b[0] for b in listed if b[-1] == "train"],
                  "held-out.txt": [b[0] for b in listed if b[-1] == "validation"]}
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


FP16_LOSS_BOUND = 0.005  # bits/char fp16 weights may cost on the validation books to ship


def ship_v2(run: Path, corpus: Path, validation: Path, books: dict[str, str]) -> None:
    """The BOOKS_V2 run's best weights as `shipped/english`: in fp16 where that costs
    less than FP16_LOSS_BOUND on the validation books (measured here), else fp32. The
    english shipped before keeps loading as `english-small`. The test books are read
    once, at the end, for the card."""
    found = checkpoint.load(runs.resolve(run))
    weights = {k: v.float() for k, v in checkpoint.weights_of(found.tensors).items()}
    meta = {k: v for k, v in found.meta.items() if k not in ("format", "version",
                                                            "tensors_sha256")}
    meta["corpus"] = {**meta["corpus"], "name": "english", "source": "english books"}
    meta["validation"] = "validation books"
    words = word_list.to_tensor(word_list.words_of([corpus.read_text(encoding="utf-8")]))
    WORK.mkdir(parents=True, exist_ok=True)
    trial = {}
    for precision in ("fp32", "fp16"):
        stored = {k: (v.half() if precision == "fp16" else v) for k, v in weights.items()}
        trial[precision] = WORK / f"english-{precision}{checkpoint.SUFFIX}"
        checkpoint.save(trial[precision], {**{checkpoint.MODEL + k: v
                                              for k, v in stored.items()},
                                           word_list.TENSOR: words}, meta)
    val = {p: held_out_loss(path, validation)[0] for p, path in trial.items()}
    chosen = "fp16" if val["fp16"] - val["fp32"] < FP16_LOSS_BOUND else "fp32"
    print(f"validation books: fp32 {val['fp32']:.4f}, fp16 {val['fp16']:.4f} bits/char; "
          f"shipping {chosen}")
    keep_as_small()
    target = shipped.FOLDER / f"english{checkpoint.SUFFIX}"
    shutil.copy(trial[chosen], target)
    test = WORK / "test.txt"
    test.write_text("\n\n".join(books[b[0]].rstrip("\n") for b in BOOKS_V2 if b[-1] == "test")
                    + "\n", encoding="utf-8")
    bits, chars, dropped = held_out_loss(target, test)  # the test books, read once
    meta["vocab_size"] = len(meta["vocab"]["counts"])
    card_path = shipped.card("english")
    before = card_path.read_text(encoding="utf-8") if card_path.exists() else ""
    card_path.write_text(
        card_v2(meta, val, chosen, bits, chars, dropped, target.stat().st_size)
        + measured_since(before), encoding="utf-8")
    print(f"shipped {target} ({target.stat().st_size / 1e6:.1f} MB, {chosen}); test books "
          f"{bits:.4f} bits/char")


def keep_as_small() -> None:
    """The english shipped now moves to `english-small` (its card with it, headed by a
    note), so whoever fine-tuned from it still loads it by name and finds it by checksum
    (`shipped.name_of`). Only once: where `english-small` is there already, the english
    now shipped is an earlier build of the 46-book run and is simply replaced (a later
    base, should one come, would keep this one under a name of its own)."""
    old, small = shipped.path_of("english"), shipped.FOLDER / f"english-small{checkpoint.SUFFIX}"
    if old is None or small.exists():
        return
    shutil.copy(old, small)
    text = shipped.card("english").read_text(encoding="utf-8")
    shipped.card("english-small").write_text(as_small_card(text), encoding="utf-8")


def as_small_card(text: str) -> str:
    """The 12-book model's card, `english`'s until the 46-book model shipped, as the card
    of `english-small`."""
    for before, after in (
            ("# english: the model that ships with charrnn",
             "# english-small: the model that shipped as `english` before\n\n"
             "Kept for the runs fine-tuned from it; `english` is now the larger model of "
             "more books."),
            ("It is what `charrnn sample\n--checkpoint english` writes before you train "
             "anything, and what `charrnn train MY.txt\n--init-from english` starts from.",
             "It is what `charrnn sample\n--checkpoint english-small` writes, and what "
             "`charrnn train MY.txt\n--init-from english-small` starts from."),
            ("Reduced precision was not needed: fp32 fits the package's 8 MB limit.",
             "Shipped in fp32.")):
        text = text.replace(before, after, 1)
    return text


MEASURED_SINCE = "\n## Measured since it shipped\n"


def measured_since(card: str) -> str:
    """The card's section of figures the benchmarks measured after shipping (fine-tunes,
    words of samples), kept when the same run ships again; '' where it has none."""
    at = card.find(MEASURED_SINCE)
    return card[at:] if at >= 0 else ""


def card_v2(meta: dict, val: dict[str, float], chosen: str, bits: float, chars: int,
            dropped: int, size: int) -> str:
    model, train = meta["model"], meta["train"]
    rows = "\n".join(f"| {title} | {author} | {number} | {role} | `{sha}` |"
                     for _, title, author, number, sha, role in BOOKS_V2)
    learned = sum(1 for b in BOOKS_V2 if b[-1] == "train")
    authors = len({b[2] for b in BOOKS_V2 if b[-1] == "train"})
    best = meta["metrics"]["best_val_loss"] / LN2
    return f"""# english: the model that ships with charrnn

A general model of 19th- and early 20th-century English (prose, some verse and
dialogue-heavy books, British and American), made by `scripts/make_english.py --v2` from
public-domain books (Project Gutenberg texts, licence header and footer stripped; origins
in `corpora/english/SOURCES.md`). It is what `charrnn sample --checkpoint english` writes
before you train anything, and what `charrnn train MY.txt --init-from english` starts
from. The model that shipped before it loads as `english-small`.

## What it read

| book | author | Gutenberg # | role | sha256 of the stripped text |
|---|---|---|---|---|
{rows}

{learned} books by {authors} authors learned ({meta['corpus']['symbols']:,} characters); the
validation books choose the checkpoint and the precision; the test books, by other
authors still, are read once, for the figure below.

## How it was trained

- {model['model'].upper()}, {model['num_layers']} x {model['hidden_size']}, embedding
  {model['embed_size']}, dropout {model['dropout']}; {meta['vocab_size']} characters.
- AdamW, lr {train['lr']} ({train['lr_schedule']} to {train['min_lr_frac']} of it),
  weight decay {train['weight_decay']}, weight average {train['ema']}, batch
  {train['batch_size']} x {train['seq_len']}, seed {train['seed']}.
- {meta['step']:,} steps in {meta['elapsed_seconds'] / 3600:.1f} hours (a run resumed across
  sessions) on {torch.get_num_threads()} CPU threads ({platform.machine()}); the best
  checkpoint (step {meta['metrics']['best_step']:,}) ships, weights only, in {chosen}
  ({size / 1e6:.1f} MB).

## How well it does

- Validation books while training (their first 200,000 characters): best
  **{best:.4f}** bits per character.
- All of the validation books: fp32 {val['fp32']:.4f}, fp16 {val['fp16']:.4f} bits per
  character ({chosen} ships: fp16 where it costs under {FP16_LOSS_BOUND} bits/char).
- All of the test books ({chars:,} characters; {dropped} character(s) the learned books
  never hold left out): **{bits:.4f}** bits per character.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time", default="60m", help="training budget (the whole run's)")
    parser.add_argument("--resume", action="store_true", help="continue the run")
    parser.add_argument("--ship-only", action="store_true",
                        help="ship the run's best (with --v2: together with --ship)")
    parser.add_argument("--books", type=Path, default=ARCHIVE)
    parser.add_argument("--v2", action="store_true",
                        help="the 46-book list (BOOKS_V2): train on its learned books, "
                             "validate on its validation books, into --out; shipped only "
                             "with --ship")
    parser.add_argument("--shape", default=None, help="LAYERSxUNITS, e.g. 2x768")
    parser.add_argument("--out", type=Path, default=RUN)
    parser.add_argument("--ship", action="store_true",
                        help="with --v2: ship the run's best as english (the old one as "
                             "english-small)")
    args = parser.parse_args()
    charrnn.tune_for_speed()
    listed = BOOKS_V2 if args.v2 else BOOKS
    corpus, held_out = write_corpus(read_books(args.books, listed),
                                    listed if args.v2 else None)
    settings = dict(SETTINGS)
    if args.shape:
        layers, units = (int(n) for n in args.shape.lower().split("x"))
        settings.update(num_layers=layers, hidden_size=units)
    if not args.ship_only:
        result = charrnn.train(corpus, val_file=held_out, out=args.out, time=args.time,
                               resume=args.resume, overwrite=not args.resume,
                               reporter=Lines(), **settings)
        print(f"trained {result.steps} steps; best validation "
              f"{result.best_val_loss / LN2:.4f} bits/char at step {result.best_step}")
    if args.v2 and args.ship:
        ship_v2(args.out, corpus, held_out, read_books(args.books, listed))
        shutil.rmtree(WORK, ignore_errors=True)
    elif not args.v2:  # its weights would replace english-small and orphan its children
        print(f"not shipped: the 12-book recipe's model ships as english-small, kept as it "
              f"shipped (runs fine-tuned from it find it by checksum); the run is in "
              f"{args.out}")


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
