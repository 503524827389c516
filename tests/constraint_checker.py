"""What each constraint promises, read off a finished text by plain regular expressions
and the pronouncing dictionary, apart from the engine that keeps them (used by the
property test and by bench/constraints.py)."""

from __future__ import annotations

import re

from charrnn import Constraints
from charrnn.decoding.pronunciation import rhyming_part, syllables

WORD = r"(?:[^\W_]|')"  # a letter, a digit or an apostrophe
GAP = " ,.;:!?-\"()\u2014\u2013\u201c\u201d\u2018\u2019\u2026"  # what a verse has between words


def words_in(text: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in re.finditer(rf"{WORD}+", text)]


def fault(text: str, c: Constraints, listed: frozenset[str] | None = None,
          tail: str = "") -> str | None:
    """Why `text` breaks `c` (None: it meets it). `tail`: the word characters the prime
    ends in, which the text's first characters continue (that word counts as the text's
    for words_only, not for the word lists); `listed`: the words_only list."""
    finished = words_in(tail + text)  # (the word the prime ends inside, finished here)
    found = finished[1:] if tail and finished else finished  # the text's own words
    same = (lambda a, b: a.lower() == b.lower()) if c.ignore_case else (lambda a, b: a == b)
    last = -1
    for word in c.include:
        at = [i for i, w in found if same(w, word) and (not c.in_order or i > last)]
        if not at:
            return f"lacks {word!r}"
        last = at[0]
    if any(same(w, x) for _, w in found for x in c.exclude):
        return "holds an excluded word"
    banned = set(c.ban_chars)
    if c.ignore_case:
        banned |= set(c.ban_chars.lower() + c.ban_chars.upper())
    if banned & set(text):
        return "holds a banned character"
    if c.pattern and not re.fullmatch(c.pattern, text):
        return "does not match the pattern"
    if c.words_only:
        new = known = 0
        for _, w in finished:
            if w.lower() in listed:
                known += 1
            else:
                new += 1
                if new > c.new_words * (known + new) + 1e-9:
                    return f"new word {w!r} beyond the share"
    return verse_fault(text, c)


def verse_fault(text: str, c: Constraints) -> str | None:
    wanted = len(c.syllables or c.rhyme or c.acrostic)
    if not wanted:
        return None
    lines = text.split("\n")
    if len(lines) == wanted + 1 and lines[-1] == "":
        lines = lines[:-1]
    if len(lines) != wanted:
        return f"{len(lines)} lines, not {wanted}"
    ends: dict[str, list[str]] = {}
    for i, line in enumerate(lines):
        gaps = re.split(r"[^\W\d_]" + WORD + "*", line)  # a word starts with a letter
        if any(len(gap) > 3 or set(gap) - set(GAP + "'") for gap in gaps) or \
                re.search(r"\d", line):
            return f"line {i + 1} has more than words and short gaps between them"
        words = [w.lower() for _, w in words_in(line)]
        if c.syllables and sum(syllables(w) for w in words) != c.syllables[i]:
            return f"line {i + 1} has not {c.syllables[i]} syllables"
        if c.acrostic and (not line or line[0].lower() != c.acrostic[i].lower()):
            return f"line {i + 1} does not start with {c.acrostic[i]!r}"
        if c.rhyme and c.rhyme.count(c.rhyme[i]) > 1:
            if not words or rhyming_part(words[-1]) is None:
                return f"line {i + 1} ends in no rhyming word"
            ends.setdefault(c.rhyme[i], []).append(words[-1])
    for letter, words in ends.items():
        if len({rhyming_part(w) for w in words}) > 1:
            return f"the lines of {letter} do not rhyme"
        if len(set(words)) < len(words):
            return f"the lines of {letter} repeat a word"
    return None
