"""Verse forms as rules over characters: lines of so many syllables (`Syllables`), line
ends that rhyme (`Rhyme`), lines that spell a word (`Acrostic`).

What a verse is, for all three:

- The text is lines separated by "\\n", exactly N of them (N: the number of syllable
  counts, of scheme letters, of the acrostic word's letters). It is accepted once its
  N-th line is complete: ended by "\\n", or by the end of the text. Nothing may follow
  the N-th "\\n". The verse starts where the text starts.
- Words are runs of word characters (`charrnn.config.is_word_char`: letters, digits,
  apostrophes), read lowercased; everything else separates them. A word longer than
  MAX_WORD_CHARS characters breaks the Syllables and Rhyme rules (it is no English word,
  and the bound keeps their states small).
- **Syllables**: the words of line i say exactly counts[i] syllables
  (`charrnn.decoding.pronunciation.syllables`: the CMU dictionary, else a rule). A line
  breaks as soon as a finished word takes it over its count, or once its count is reached
  and another word starts; a "\\n" that ends it short breaks it.
- **Rhyme**: lines that share a letter of the scheme end in words (a line's last word,
  whatever follows it on the line) that rhyme (the same rhyming part in the dictionary)
  and differ from each other (lowercased: "Night" and "night" are one word); the end word
  of such a line must be in the dictionary. A letter used once constrains nothing.
- **Acrostic**: line i starts with the word's i-th letter, in either case.
- **Gaps** (with every form): between words, and before a line's first word or after
  its last, stand at most MAX_GAP characters, each a space, an apostrophe or a
  punctuation mark of GAP_CHARS (no tabs, no asterisks, no runs of blanks); a word is
  letters (and apostrophes after its first), no digits: a verse is words, not padding
  that says no syllable or numbers that say many.

The forms compose with each other and with every other rule: each is a machine
(`start`, `step`, `accepts`). Syllables and Rhyme hold the word in progress, so their
states cannot all be listed; each has `distance(state)`, a lower bound on the characters
still needed (one character between words; any word the dictionary or the rule allows,
and the digits the model writes), which the joining engine searches with, and
`completion(state)`, a text that finishes the verse (an upper bound: the engine's
witness). Where more than one form is asked for, `verse_rules` joins them into one
`Verse` rule, whose distance also bounds what they need together (a line's words must
start with its letter, say its count and end in its rhyme) and whose completion meets
them all; the Acrostic alone is small and tabulated by the engine.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from charrnn.config import MAX_LINES, MAX_SYLLABLES, is_word_char
from charrnn.decoding.automaton import NEVER
from charrnn.decoding.pronunciation import (
    ALL_DIGITS,
    lexicon,
    prefix_span,
    rhyming_part,
    rule_count,
    rule_reach,
    rule_state,
    shortest_word,
)
from charrnn.decoding.pronunciation import syllables as syllables_of
from charrnn.errors import ConfigError

MAX_WORD_CHARS = 40  # a longer word breaks Syllables and Rhyme
MAX_GAP = 3  # characters between two words of a verse (", " or "!) ")
GAP_CHARS = frozenset(" ,.;:!?-\"()\u2014\u2013\u201c\u201d\u2018\u2019\u2026")
ENGLISH_VOWELS = "aeiou"  # a model that never writes one of these writes no English words


# ---- Syllables ----


@functools.cache
def fewest_chars(count: int, digits: str = ALL_DIGITS) -> int:
    """The fewest characters of words saying `count` syllables, one character between
    words (0 for none), with the ASCII digits `digits`: the shortest word of that count,
    or the best split in two."""
    if count <= 0:
        return 0
    best = shortest_word(count, digits)
    for first in range(1, count):
        best = min(best, fewest_chars(first, digits) + 1 + fewest_chars(count - first, digits))
    return best


def _then(count: int, digits: str) -> int:
    """The fewest characters after a finished word for `count` more syllables on its
    line: none for none, else a separator and the words."""
    return 0 if count == 0 else 1 + fewest_chars(count, digits)


@functools.lru_cache(maxsize=1 << 15)
def _known_extensions(word: str) -> dict[int, int]:
    """For each syllable count, the fewest characters to add to `word` (at least one)
    to make a dictionary word of that count."""
    found: dict[int, int] = {}
    sounds = lexicon().sounds
    for longer in lexicon().prefixed(word):
        if len(longer) > len(word):
            count = sounds[longer][0]
            found[count] = min(found.get(count, NEVER), len(longer) - len(word))
    return found


@functools.lru_cache(maxsize=1 << 16)
def _word_options(word: str, digits: str) -> dict[int, int]:
    """For each syllable count the word in progress may end with, a lower bound on the
    characters still to write for it: the word as it is, a dictionary word it starts, or
    any longer word as the rule counts it (one the dictionary knows is counted both ways,
    so the bound stays below the truth)."""
    found = dict(_rule_options(*rule_state(word), digits))
    for count, extra in _known_extensions(word).items():
        found[count] = min(found.get(count, NEVER), extra)
    found[syllables_of(word)] = 0
    return found


@functools.lru_cache(maxsize=1 << 12)
def _rule_options(state: tuple, said: int, digits: str) -> dict[int, int]:
    """For each syllable count, the fewest characters that make a word in rule `state`
    (having said `said`) a longer word the rule counts so (a few states: kept)."""
    found: dict[int, int] = {}
    for (added, sounded), extra in rule_reach(state, digits).items():
        count = max(said + added, int(sounded))
        found[count] = min(found.get(count, NEVER), extra)
    return found


@functools.lru_cache(maxsize=1 << 16)
def _word_then(word: str, need: int, digits: str) -> int:
    """A lower bound on the characters that finish `word` (already written) and then
    the words of `need` more syllables on its line, `word`'s own included."""
    best = min((extra + _then(need - count, digits)
                for count, extra in _word_options(word, digits).items() if count <= need),
               default=NEVER)
    return max(best, fewest_chars(need, digits) - len(word)) if best < NEVER else NEVER


@dataclass(frozen=True)
class Syllables:
    """Line i's words say exactly counts[i] syllables. State: (line, syllables of its
    finished words, the word in progress lowercased); line == len(counts) once the last
    line has ended with "\\n". `digits`: the ASCII digits the model may write (the
    densest syllables: "7" says two), which only tighten `distance`."""

    counts: tuple[int, ...]
    digits: str = ALL_DIGITS
    after: tuple[int, ...] = field(init=False, repr=False, compare=False)
    start = (0, 0, "")

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", tuple(self.counts))
        after, total = [], 0  # after[i]: the fewest characters of the lines after line i
        for count in reversed(self.counts):
            after.append(total)
            total += 1 + fewest_chars(count, self.digits)
        object.__setattr__(self, "after", tuple(reversed(after)))

    def step(self, state: Hashable, c: str) -> Hashable | None:
        line, said, word = state
        if line == len(self.counts):
            return None  # nothing after the last line
        if is_word_char(c):
            if len(word) >= MAX_WORD_CHARS or (said == self.counts[line] and c.isalnum()):
                return None  # too long a word, or one more word on a full line
            return line, said, word + c.lower()
        if word:
            said += syllables_of(word)
            if said > self.counts[line]:
                return None
        if c != "\n":
            return line, said, ""
        if said != self.counts[line]:
            return None
        return line + 1, 0, ""

    def accepts(self, state: Hashable) -> bool:
        line, said, word = state
        last = len(self.counts) - 1
        return line > last or (line == last and said + syllables_of(word) == self.counts[last])

    def distance(self, state: Hashable) -> int:
        line, said, word = state
        if line == len(self.counts):
            return 0
        need = self.counts[line] - said
        here = (_word_then(word, need, self.digits) if word
                else fewest_chars(need, self.digits))
        return NEVER if here >= NEVER else here + self.after[line]

    def completion(self, state: Hashable) -> str | None:
        """A text that finishes the verse from `state` (None: none found)."""
        return complete(Verse(self, None, None), (state, None, None))


# ---- Rhyme ----


@functools.lru_cache(maxsize=1 << 16)
def _part(word: str) -> str | None:
    return rhyming_part(word)


@functools.lru_cache(maxsize=1 << 14)
def _shortest(part: str, taken: tuple[str, ...], many: int) -> tuple[tuple[str, ...], int, int]:
    """The `many` + 1 shortest words rhyming by `part` but not in `taken`, the
    characters of the first `many` and of all (NEVER: too few)."""
    firsts: list[str] = []
    for word in lexicon().rhymes[part]:
        if len(firsts) > many:
            break
        if word not in taken:
            firsts.append(word)
    lengths = [len(w) for w in firsts]
    return (tuple(firsts), sum(lengths[:many]) if len(firsts) >= many else NEVER,
            sum(lengths) if len(firsts) > many else NEVER)


def _others(word: str, taken: tuple[str, ...], many: int) -> int:
    """The fewest characters of `many` more words rhyming with `word`, different from
    it and from `taken` (NEVER: too few)."""
    if many == 0:
        return 0
    firsts, some, more = _shortest(_part(word), taken, many)
    if word not in firsts[:many]:
        return some
    return NEVER if more >= NEVER else more - len(word)


@functools.cache
def _fewest_group(size: int, many: int) -> int:
    """The fewest characters of `many` different words of one rhyming part that has at
    least `size` words (NEVER: none)."""
    best = NEVER
    for words in lexicon().rhymes.values():
        if len(words) >= max(size, many):
            best = min(best, sum(map(len, words[:many])))
    return best


@functools.cache
def _alphabetical(part: str) -> tuple[str, ...]:
    return tuple(sorted(lexicon().rhymes[part]))


@functools.cache
def _first_line_costs(size: int, many: int) -> list[np.ndarray]:
    """For each dictionary word (alphabetical), the fewest characters of it and of
    `many` more words that rhyme with it, where its rhyming part has at least `size`
    words (NEVER: not so); kept as a sparse table (level j: minima of 2**j in a row) so
    the least over the words of a prefix is two look-ups."""
    sounds, rhymes = lexicon().sounds, lexicon().rhymes
    costs = np.full(len(lexicon().words), NEVER, dtype=np.int64)
    others: dict[str, tuple[tuple[str, ...], int, int]] = {}
    for i, word in enumerate(lexicon().words):
        part = sounds[word][1]
        if part is not None and len(rhymes[part]) >= size:
            if part not in others:
                others[part] = _shortest(part, (), many)
            firsts, some, more = others[part]
            costs[i] = more if word in firsts[:many] else min(len(word) + some, NEVER)
    levels = [costs]
    while 2 ** len(levels) <= costs.size:
        half = 2 ** (len(levels) - 1)
        levels.append(np.minimum(levels[-1][:-half], levels[-1][half:]))
    return levels


def _least(levels: list[np.ndarray], start: int, stop: int) -> int:
    """The least of levels[0][start:stop] (NEVER where empty)."""
    if stop <= start:
        return NEVER
    j = (stop - start).bit_length() - 1
    return int(min(levels[j][start], levels[j][stop - 2 ** j]))


@functools.lru_cache(maxsize=1 << 15)
def _finish(word: str, part: str | None, taken: tuple[str, ...], size: int,
            many: int) -> int:
    """The fewest characters that make `word` (as it is, or longer) a word that ends its
    line, and then `many` more words that rhyme with it for the group's lines to come:
    words rhyming by `part` and not in `taken`, or (part None: the group's first line)
    words of a rhyming part with at least `size` words (NEVER: none)."""
    if part is None:
        best = _least(_first_line_costs(size, many), *prefix_span(lexicon().words, word))
    else:
        firsts, some, more = _shortest(part, taken, many)
        words = _alphabetical(part)
        start, stop = prefix_span(words, word)
        best = min((more if w in firsts[:many] else len(w) + some
                    for w in words[start:stop] if w not in taken), default=NEVER)
    return NEVER if best >= NEVER else best - len(word)


@dataclass(frozen=True)
class Rhyme:
    """Lines that share a letter of `scheme` end in different words that rhyme. State:
    (line, the line's last finished word, the word in progress, the end words of the
    lines before), words lowercased; lines whose letter is used once keep "" for all."""

    scheme: str
    groups: dict[str, tuple[int, ...]] = field(init=False, repr=False, compare=False)
    start = (0, "", "", ())

    def __post_init__(self) -> None:
        groups: dict[str, tuple[int, ...]] = {}
        for i, letter in enumerate(self.scheme):
            groups[letter] = (*groups.get(letter, ()), i)
        object.__setattr__(self, "groups", {k: v for k, v in groups.items() if len(v) > 1})

    def _bound(self, line: int) -> tuple[int, ...]:
        """The lines of `line`'s letter, () where it constrains nothing."""
        return self.groups.get(self.scheme[line], ())

    def _fixed(self, line: int, ends: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
        """The rhyming part that `line`'s group has taken from its lines before `line`
        (None: none yet), and their end words."""
        taken = tuple(ends[j] for j in self._bound(line) if j < line)
        return (_part(taken[0]) if taken else None), taken

    def fits(self, line: int, word: str, ends: tuple[str, ...]) -> bool:
        """Whether `word` may end `line`, after lines that ended in `ends`."""
        group = self._bound(line)
        if not group:
            return True
        part = _part(word) if word else None
        if part is None:
            return False
        fixed, taken = self._fixed(line, ends)
        if taken:
            return part == fixed and word not in taken
        return len(lexicon().rhymes[part]) >= len(group)

    def _next(self, line: int, end: str, ends: tuple[str, ...]) -> Hashable:
        if line + 1 == len(self.scheme):
            return len(self.scheme), "", "", ()
        return line + 1, "", "", (*ends, end if self._bound(line) else "")

    def step(self, state: Hashable, c: str) -> Hashable | None:
        line, last, word, ends = state
        if line == len(self.scheme):
            return None  # nothing after the last line
        if not self._bound(line):
            return self._next(line, "", ends) if c == "\n" else state
        if is_word_char(c):
            if len(word) >= MAX_WORD_CHARS:
                return None
            return line, last, word + c.lower(), ends
        last = word or last
        if c != "\n":
            return line, last, "", ends
        return self._next(line, last, ends) if self.fits(line, last, ends) else None

    def accepts(self, state: Hashable) -> bool:
        line, last, word, ends = state
        return line == len(self.scheme) or (
            line == len(self.scheme) - 1 and self.fits(line, word or last, ends))

    def distance(self, state: Hashable) -> int:
        line, last, word, ends = state
        if line == len(self.scheme):
            return 0
        total = len(self.scheme) - 1 - line  # the "\n" that end this line and the next
        for group in self.groups.values():
            later = sum(j > line for j in group)
            if line in group:
                total += self._group_from_here(line, last, word, ends, later)
            elif later:  # its lines to come: as many more words of its rhyming part
                taken = tuple(ends[j] for j in group if j < line)
                total += (_shortest(_part(taken[0]), taken, later)[1] if taken
                          else _fewest_group(len(group), later))
        return min(total, NEVER)

    def _group_from_here(self, line: int, last: str, word: str, ends: tuple[str, ...],
                         later: int) -> int:
        """The fewest characters of the words that end `line` and the `later` lines of
        its group: the word in progress made one, or a new word after it."""
        fixed, taken = self._fixed(line, ends)
        fresh = (_shortest(fixed, taken, later + 1)[1] if taken
                 else _fewest_group(len(self._bound(line)), later + 1))
        if word:
            return min(_finish(word, fixed, taken, len(self._bound(line)), later), 1 + fresh)
        if last and self.fits(line, last, ends):
            return min(_others(last, taken, later), fresh)
        return fresh

    def completion(self, state: Hashable) -> str | None:
        """A text that finishes the verse from `state` (None: none found)."""
        return complete(Verse(None, self, None), (None, state, None))


# ---- Acrostic ----


@dataclass(frozen=True)
class Acrostic:
    """Line i starts with word[i], in either case. State: (line, whether nothing of it
    is written yet)."""

    word: str
    start = (0, True)

    def step(self, state: Hashable, c: str) -> Hashable | None:
        line, fresh = state
        if line == len(self.word):
            return None  # nothing after the last line
        if fresh:
            return (line, False) if c.lower() == self.word[line].lower() else None
        if c != "\n":
            return state
        return (line + 1, line + 1 < len(self.word))

    def accepts(self, state: Hashable) -> bool:
        line, fresh = state
        return line == len(self.word) or (line == len(self.word) - 1 and not fresh)


# ---- Gaps: what stands between a verse's words ----


@dataclass(frozen=True)
class Gaps:
    """Between words (and at a line's ends) at most MAX_GAP characters of GAP_CHARS; a
    line break starts afresh. A word is letters (and apostrophes after its first): an
    apostrophe outside a word counts as a gap's (a run of them would be a word of no
    syllable), and digits are no verse's ("100" would say five syllables).
    State: "word" inside a word, else the gap's characters so far."""

    start = 0

    def step(self, state: Hashable, c: str) -> Hashable | None:
        if c == "\n":
            return 0
        if c.isdigit():
            return None
        if is_word_char(c) and (c != "'" or state == "word"):
            return "word"
        gap = 0 if state == "word" else state
        return gap + 1 if (c in GAP_CHARS or c == "'") and gap < MAX_GAP else None

    def accepts(self, state: Hashable) -> bool:
        return True


# ---- Verse: the forms together ----


@functools.lru_cache(maxsize=1 << 12)
def _end_lengths(part: str | None, taken: tuple[str, ...], size: int) -> dict[int, int]:
    """For each syllable count, the fewest characters of a word that may end a rhyming
    line: of rhyming part `part`, not in `taken` (part None: of any rhyming part with at
    least `size` words)."""
    sounds, rhymes = lexicon().sounds, lexicon().rhymes
    if part is None:
        words = (w for p, ws in rhymes.items() if len(ws) >= size for w in ws)
    else:
        words = (w for w in rhymes[part] if w not in taken)
    found: dict[int, int] = {}
    for word in words:
        count = sounds[word][0]
        found[count] = min(found.get(count, NEVER), len(word))
    return found


@functools.lru_cache(maxsize=1 << 14)
def _ending_in(part: str | None, taken: tuple[str, ...], size: int, need: int,
               digits: str) -> int:
    """The fewest characters of words saying `need` syllables whose last may end a
    rhyming line (`_end_lengths`), NEVER where none can."""
    return min((length + (_then(need - count, digits))
                for count, length in _end_lengths(part, taken, size).items()
                if count <= need), default=NEVER)


@functools.lru_cache(maxsize=1 << 15)
def _finish_saying(word: str, part: str | None, taken: tuple[str, ...], size: int,
                   need: int) -> int:
    """The fewest characters that make `word` a word that may end a rhyming line (as
    `_end_lengths`) and says `need` syllables (NEVER: none)."""
    sounds, rhymes = lexicon().sounds, lexicon().rhymes
    if part is None:
        start, stop = prefix_span(lexicon().words, word)
        words = (w for w in lexicon().words[start:stop] if sounds[w][1] is not None
                 and len(rhymes[sounds[w][1]]) >= size)
    else:
        listed = _alphabetical(part)
        start, stop = prefix_span(listed, word)
        words = (w for w in listed[start:stop] if w not in taken)
    return min((len(w) - len(word) for w in words if sounds[w][0] == need), default=NEVER)


@functools.cache
def _start_lengths(letter: str, digits: str) -> dict[int, int]:
    """For each syllable count, the fewest characters of a word that starts with
    `letter` (a dictionary word, or any word as the rule counts it)."""
    found = {count: len(word) for count, word in _first_words(letter)}
    state, said = rule_state(letter)
    found[rule_count(state, said)] = 1
    for (added, sounded), extra in rule_reach(state, digits).items():
        count = max(said + added, int(sounded))
        found[count] = min(found.get(count, NEVER), 1 + extra)
    return found


@functools.lru_cache(maxsize=1 << 14)
def _line_least(count: int, letter: str | None, ending: tuple | None, digits: str) -> int:
    """The fewest characters of a whole line of words saying `count` syllables, the
    first starting with `letter` (None: any), the last one that may end a rhyming line
    as `ending` (`_end_lengths`'s arguments; None: any)."""
    if letter is None:
        return fewest_chars(count, digits) if ending is None else _ending_in(
            *ending, count, digits)
    starts, best = _start_lengths(letter, digits), NEVER
    if ending is None:
        for said, length in starts.items():
            if said <= count:
                best = min(best, length + _then(count - said, digits))
        return best
    alone = _finish_saying(letter, *ending, count)  # one word, both first and last
    best = NEVER if alone >= NEVER else alone + 1
    for said, length in starts.items():
        if said < count:
            best = min(best, length + 1 + _ending_in(*ending, count - said, digits))
    return best


@dataclass(frozen=True)
class Verse:
    """Several verse forms kept as one rule (what `verse_rules` gives where more than one
    is asked for), so that its distance is the largest of theirs and its completion
    meets them all at once. State: each form's state, None for a form not asked for.
    `letters`: the acrostic's letters in the case the model writes."""

    syllables: Syllables | None
    rhyme: Rhyme | None
    acrostic: Acrostic | None
    letters: str = ""

    @property
    def forms(self) -> tuple:
        return self.syllables, self.rhyme, self.acrostic

    @property
    def start(self) -> Hashable:
        return tuple(None if form is None else form.start for form in self.forms)

    def step(self, state: Hashable, c: str) -> Hashable | None:
        after = []
        for form, part in zip(self.forms, state, strict=True):
            if form is not None:
                part = form.step(part, c)
                if part is None:
                    return None
            after.append(part)
        return tuple(after)

    def accepts(self, state: Hashable) -> bool:
        return all(form is None or form.accepts(part)
                   for form, part in zip(self.forms, state, strict=True))

    def distance(self, state: Hashable) -> int:
        syllables, rhyme, acrostic = state
        found = [0]
        if self.syllables is not None:
            found.append(self.syllables.distance(syllables))
        if self.rhyme is not None:
            found.append(self.rhyme.distance(rhyme))
        if self.acrostic is not None:  # each line to come: its letter, and a "\n" before
            line, fresh = acrostic
            lines = len(self.acrostic.word)
            found.append(0 if line == lines else int(fresh) + 2 * (lines - 1 - line))
        if self.syllables is not None and max(found) < NEVER and (
                self.rhyme is not None or self.acrostic is not None):
            found.append(self._lines_left(syllables, rhyme, acrostic))
        return max(found)

    def _lines_left(self, syllables: Hashable, rhyme: Hashable, acrostic: Hashable) -> int:
        """A lower bound on the characters of the lines left, each line's count said by
        words that start with its acrostic letter and end in a word of its rhyme: the
        line in progress (its word made the end word, or ended and followed by words
        that end in one), then each line to come."""
        line, said, word = syllables
        counts, digits = self.syllables.counts, self.syllables.digits
        if line == len(counts):
            return 0
        last, ends = (rhyme[1], rhyme[3]) if rhyme else ("", ())
        need, ending = counts[line] - said, self._endings(line, ends)
        if acrostic and acrostic[1]:  # nothing of the line written yet
            here = _line_least(need, self.letters[line].lower(), ending, digits)
        elif ending is None:
            here = _word_then(word, need, digits) if word else fewest_chars(need, digits)
        elif word:
            here = min([_finish_saying(word, *ending, need), *(
                extra + 1 + _ending_in(*ending, need - count, digits)
                for count, extra in _word_options(word, digits).items() if count < need)])
        elif need == 0:
            here = 0 if last and self.rhyme.fits(line, last, ends) else NEVER
        else:
            here = _ending_in(*ending, need, digits)
        for j in range(line + 1, len(counts)):
            letter = self.letters[j].lower() if self.acrostic else None
            here += 1 + _line_least(counts[j], letter, self._endings(j, ends), digits)
        return min(here, NEVER)

    def _endings(self, line: int, ends: tuple[str, ...]) -> tuple | None:
        """What may end `line` as (rhyming part or None, words taken, group size), None
        where it constrains nothing; a group not yet begun may take any rhyming part."""
        group = self.rhyme._bound(line) if self.rhyme else ()
        if not group:
            return None
        taken = tuple(ends[j] for j in group if j < min(line, len(ends)))
        return (_part(taken[0]) if taken else None), taken, len(group)

    def completion(self, state: Hashable) -> str | None:
        """A text that finishes the verse from `state` (None: none found)."""
        return complete(self, state)


# ---- completions: a text that finishes a verse (the engine's witness, an upper bound) ----

WITNESS_ENDS = 16  # the end words a completion compares for a line, shortest first
POOL_PARTS, POOL_WORDS = 20, 200  # a group's first end word: from the largest rhyming parts


@functools.cache
def _first_words(letter: str) -> tuple[tuple[int, str], ...]:
    """(syllables, the shortest dictionary word of that many that starts with `letter`),
    fewest syllables first."""
    found: dict[int, str] = {}
    sounds = lexicon().sounds
    for word in lexicon().prefixed(letter):
        count = sounds[word][0]
        if count and (count not in found or len(word) < len(found[count])):
            found[count] = word
    return tuple(sorted(found.items()))


@functools.cache
def _pool(size: int) -> tuple[str, ...]:
    """Words that may end the first line of a rhyming group of `size` lines, shortest
    first: the shortest of the largest rhyming parts (the others can follow)."""
    rhymes = lexicon().rhymes
    parts = sorted((p for p in rhymes if len(rhymes[p]) >= size), key=lambda p: -len(rhymes[p]))
    words = (w for p in parts[:POOL_PARTS] for w in rhymes[p][:POOL_WORDS])
    return tuple(sorted(words, key=lambda w: (len(w), w)))


@functools.cache
def _padding(count: int) -> tuple[str, ...]:
    """Dictionary words saying `count` syllables in all, in the fewest characters (a
    space between them)."""
    if count <= 0:
        return ()
    known = lexicon().shortest
    options = [(known[count],)] if count in known else []
    options += [_padding(first) + _padding(count - first) for first in range(1, count)]
    return min(options, key=lambda words: sum(map(len, words)) + len(words))


def _line_words(need: int | None, letter: str | None,
                rhyming: tuple[str | None, int, tuple[str, ...]] | None) -> list[str] | None:
    """Words for the rest of a line, as few characters as found: `need` syllables in all
    (None: any), the first starting with `letter` (None: any), the last (where `rhyming`
    is (the group's rhyming part or None, the group's size, its end words taken)) a word
    of that part not taken (the best among the first WITNESS_ENDS that fit). Kept for
    each question: the search asks the same ones from many states."""
    found = (_line_words_any_end(need, letter) if rhyming is None
             else _line_words_rhyming(need, letter, *rhyming))
    return None if found is None else list(found)


@functools.lru_cache(maxsize=1 << 12)
def _line_words_any_end(need: int | None, letter: str | None) -> tuple[str, ...] | None:
    return _line_words_ending(need, letter, None)


@functools.lru_cache(maxsize=1 << 12)
def _line_words_rhyming(need: int | None, letter: str | None, fixed: str | None, size: int,
                        taken: tuple[str, ...]) -> tuple[str, ...] | None:
    pool = lexicon().rhymes[fixed] if fixed else _pool(size)
    return _line_words_ending(need, letter, (w for w in pool if w not in taken))


def _line_words_ending(need: int | None, letter: str | None, ends: Iterable[str] | None
                       ) -> tuple[str, ...] | None:
    firsts = [(0, "")] if letter is None else _first_words(letter)
    best: tuple[str, ...] | None = None
    fitting = 0
    for end in [""] if ends is None else ends:
        said = syllables_of(end) if end else 0
        if need is not None and said > need:
            continue
        found = [(end,)] if letter and end.startswith(letter) and need in (None, said) else []
        for count, first in firsts:
            if (need is None or count + said <= need) and (first or end or need):
                pad = () if need is None else _padding(need - count - said)
                found.append(tuple(w for w in (first, *pad, end) if w))
        for words in found:
            if best is None or len(" ".join(words)) < len(" ".join(best)):
                best = words
        fitting += bool(found)
        if fitting == WITNESS_ENDS:
            break
    return best


@functools.lru_cache(maxsize=1 << 12)
def _fitting_extension(word: str, most: int) -> str | None:
    """The shortest dictionary word that starts with `word` (longer) and says at most
    `most` syllables, None where there is none."""
    sounds = lexicon().sounds
    fitting = [w for w in lexicon().prefixed(word) if len(w) > len(word)
               and 0 < sounds[w][0] <= most and all(is_word_char(c) for c in w)]
    return min(fitting, key=lambda w: (len(w), w), default=None)


def complete(verse: Verse, state: Hashable) -> str | None:
    """A text that takes `verse` from `state` to acceptance: the word in progress ended
    as it is, then on each line what it still needs (a word that starts with its acrostic
    letter, the shortest dictionary words for its syllables, an unused word of its rhyme
    at its end, as few characters as found).
    None where that does not work (the search then looks further)."""
    (sy, rh, ac), (ss, rs, acs) = verse.forms, state
    line = next(part[0] for part in state if part is not None)
    lines = next(len(f.counts if f is sy else f.scheme if f is rh else f.word)
                 for f in verse.forms if f is not None)
    word = ss[2] if sy else rs[2] if rh else ""
    said, last = (ss[1] if sy else 0), (rs[1] if rh else "")
    ends, fresh = (list(rs[3]) if rh and line < lines else []), (acs[1] if ac else False)
    out = []
    if sy and line < lines and said + syllables_of(word) > sy.counts[line]:
        longer = _fitting_extension(word, sy.counts[line] - said)  # "w" (3) -> "we" (1)
        if longer is None:
            return None
        out.append(longer[len(word):])
        word = longer
    for j in range(line, lines):
        need = None if sy is None else sy.counts[j] - said - syllables_of(word)
        if need is not None and need < 0:
            return None
        letter = verse.letters[j].lower() if ac and fresh else None
        group = rh._bound(j) if rh else ()
        end = word or last
        rhyming = None  # (part, size, taken) where this line's end word is still to find
        if group:
            fixed, taken = rh._fixed(j, tuple(ends))
            ready = bool(end) and rh.fits(j, end, tuple(ends))
            if not (ready and not need and not letter):
                rhyming = (fixed, len(group), taken)
        if need or letter or rhyming is not None:
            if need == 0:
                return None  # a full line that cannot end as it is
            words = _line_words(need, letter, rhyming)
            if words is None:
                return None
            if letter:
                words[0] = verse.letters[j] + words[0][1:]
            end = words[-1].lower()
            out.append(("" if fresh and ac else " ") + " ".join(words))
        if group:
            ends.append(end)
        elif rh:
            ends.append("")
        if j < lines - 1:
            out.append("\n")
        word, said, last, fresh = "", 0, "", True
    return "".join(out)


# ---- a request, checked ----


def parse_syllables(text: str) -> tuple[int, ...]:
    """"5,7,5" -> (5, 7, 5); what is not numbers between commas is one ConfigError."""
    parts = text.split(",") if text.strip() else []
    if len(parts) > MAX_LINES or not all(p.strip().isdigit() for p in parts):
        raise ConfigError(f"syllables takes up to {MAX_LINES} counts between commas "
                          f"(5,7,5), not {text[:80]!r}", field="syllables")
    return tuple(int(p) for p in parts)


def verse_rules(syllables: Sequence[int] = (), rhyme: str = "", acrostic: str = "",
                chars: Sequence[str] = ()) -> list:
    """The rule of a verse form over a model's characters `chars`: the one form asked
    for (Syllables, Rhyme or Acrostic), or a Verse that joins them; a request no text can
    meet is one ConfigError naming its field. The dictionary is read here, before any
    draw."""
    syllables = _checked_counts(syllables)
    rhyme, acrostic = _checked_letters("rhyme", rhyme), _checked_letters("acrostic", acrostic)
    forms = [(name, size) for name, size in (("syllables", len(syllables)),
             ("rhyme", len(rhyme)), ("acrostic", len(acrostic))) if size]
    if not forms:
        return []
    for name, size in forms[1:]:
        if size != forms[0][1]:
            raise ConfigError(f"{name} has {size} lines but `{forms[0][0]}` has "
                              f"{forms[0][1]}; give every verse form one per line", field=name)
    known = set(chars)
    _check_model(forms, syllables, rhyme, acrostic, known)
    if syllables or rhyme:
        lexicon()
    verse = Verse(Syllables(syllables, "") if syllables else None,  # (Gaps: no digits)
                  Rhyme(rhyme) if rhyme else None, Acrostic(acrostic) if acrostic else None,
                  "".join(c.lower() if c.lower() in known else c.upper() for c in acrostic))
    if len(forms) > 1:
        return [verse, Gaps()]
    return [*(form for form in verse.forms if form is not None), Gaps()]


def _checked_counts(counts: Sequence[int]) -> tuple[int, ...]:
    ok = (isinstance(counts, (tuple, list)) and len(counts) <= MAX_LINES
          and all(isinstance(n, int) and not isinstance(n, bool) for n in counts))
    if not ok or not all(1 <= n <= MAX_SYLLABLES for n in counts):
        shown = ",".join(map(str, counts)) if ok else repr(counts)[:80]
        raise ConfigError(f"syllables takes 1 to {MAX_LINES} lines of 1 to {MAX_SYLLABLES} "
                          f"syllables, not {shown}", field="syllables")
    return tuple(counts)


def _checked_letters(name: str, letters: str) -> str:
    """A rhyme scheme (letters A-Z, either case, read uppercased) or an acrostic word
    (any letters), of at most MAX_LINES letters."""
    if name == "rhyme":
        ok = isinstance(letters, str) and all("A" <= c <= "Z" for c in letters.upper())
        what = "letters A-Z, one per line (ABAB)"
    else:
        ok = isinstance(letters, str) and all(c.isalpha() for c in letters)
        what = "a word of letters, one per line"
    if not ok or len(letters) > MAX_LINES:
        raise ConfigError(f"{name} takes {what}, at most {MAX_LINES}, not {letters!r:.80}",
                          field=name)
    return letters.upper() if name == "rhyme" else letters


def _check_model(forms: list[tuple[str, int]], syllables: tuple[int, ...], rhyme: str,
                 acrostic: str, known: set[str]) -> None:
    """What the model must be able to write: "\\n" (more than one line), the lowercase
    vowels (syllables, rhyme), each acrostic letter in one case or the other."""
    first, lines = forms[0]
    if lines > 1 and "\n" not in known:
        raise ConfigError(f"{first}: this model never writes a line break, so it cannot "
                          "write verse lines", field=first)
    english = "syllables" if syllables else "rhyme" if rhyme else None
    missing = [v for v in ENGLISH_VOWELS if v not in known]
    if english and missing:
        raise ConfigError(f"{english}: this model never writes the lowercase vowel(s) "
                          f"{', '.join(missing)}, so it writes no English words to count",
                          field=english)
    for i, letter in enumerate(acrostic):
        if letter.lower() not in known and letter.upper() not in known:
            raise ConfigError(f"acrostic: this model never writes {letter.upper()!r} or "
                              f"{letter.lower()!r} (letter {i + 1} of {acrostic!r})",
                              field="acrostic")
