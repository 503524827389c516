"""What a text must and must not hold, as one automaton over the model's characters.

A character model writes one character at a time, so any rule about the whole text
that an automaton can check (a word that must appear, one that must not, a banned
character) can be kept exactly while sampling: before each draw, only the characters
after which the rule can still be met in the room left are allowed. Each rule is a small
machine (a start state, a step per character, which states accept); `automaton.join`
makes them one automaton over the model's characters, once per request, with each
state's distance to acceptance (the fewest characters that still meet every rule), so a
text never runs out of room for a word it must hold.

Words are whole words: a word character is a letter, a digit or an apostrophe, and an
occurrence counts only between non-word characters (or the text's ends).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from charrnn.config import Constraints, is_word_char
from charrnn.data.vocab import Vocab
from charrnn.decoding.automaton import NEVER, Automaton, Rule, join
from charrnn.decoding.known_words import Trie, WordsOnly
from charrnn.errors import ConfigError

# the states of a word's machine besides "read the word's first j characters" (int j)
BOUNDARY, INSIDE, MET = "boundary", "inside", "met"


@dataclass(frozen=True)
class WordSeen:
    """Whether `word` has appeared as a whole word (`accepts` the met states); `start`
    is INSIDE where the text follows a prime that ends inside a word."""

    word: str
    ignore_case: bool = False
    start: Hashable = BOUNDARY

    def same(self, c: str, j: int) -> bool:
        w = self.word[j]
        return c.lower() == w.lower() if self.ignore_case else c == w

    def step(self, state: Hashable, c: str) -> Hashable:
        if state == MET:
            return MET
        if not is_word_char(c):  # a boundary: the word is met if it was just completed
            return MET if state == len(self.word) else BOUNDARY
        if state == BOUNDARY:
            return 1 if self.same(c, 0) else INSIDE
        if state == INSIDE or state == len(self.word) or not self.same(c, state):
            return INSIDE
        return state + 1

    def accepts(self, state: Hashable) -> bool:
        return state == MET or state == len(self.word)  # (the text may end on the word)


@dataclass(frozen=True)
class Include:
    """Every word appears; `in_order`: each after the one before it."""

    words: tuple[WordSeen, ...]
    in_order: bool = False

    @property
    def start(self) -> Hashable:
        return (0, self.words[0].start) if self.in_order else tuple(w.start for w in self.words)

    def step(self, state: Hashable, c: str) -> Hashable:
        if not self.in_order:
            return tuple(w.step(s, c) for w, s in zip(self.words, state, strict=True))
        k, s = state
        if k == len(self.words):
            return state
        s = self.words[k].step(s, c)
        if s == MET:  # the next word may start after this boundary
            return k + 1, BOUNDARY
        return k, s

    def accepts(self, state: Hashable) -> bool:
        if not self.in_order:
            return all(w.accepts(s) for w, s in zip(self.words, state, strict=True))
        k, s = state
        return k == len(self.words) or (k == len(self.words) - 1 and self.words[k].accepts(s))


@dataclass(frozen=True)
class Exclude:
    """No word of a list appears: the state is the word read since the last boundary
    while it is the start of some listed word (0 once it is none), so a list of
    thousands is one small machine."""

    words: frozenset[str]
    prefixes: frozenset[str]
    ignore_case: bool = False
    start: Hashable = ""

    @classmethod
    def of(cls, words: Sequence[str], ignore_case: bool, start: Hashable) -> Exclude:
        listed = frozenset(w.lower() if ignore_case else w for w in words)
        return cls(listed, frozenset(w[:i] for w in listed for i in range(1, len(w) + 1)),
                   ignore_case, "" if start == BOUNDARY else 0)

    def step(self, state: Hashable, c: str) -> Hashable | None:
        if not is_word_char(c):
            return None if state in self.words else ""
        if state == 0:  # inside a word no listed word starts
            return 0
        read = state + (c.lower() if self.ignore_case else c)
        return read if read in self.prefixes else 0

    def accepts(self, state: Hashable) -> bool:
        return state not in self.words


@dataclass(frozen=True)
class BanChars:
    """None of `chars` appears."""

    chars: frozenset[str]
    start: Hashable = 0

    def step(self, state: Hashable, c: str) -> Hashable | None:
        return None if c in self.chars else 0

    def accepts(self, state: Hashable) -> bool:
        return True


def rules_of(constraints: Constraints, chars: Sequence[str], tail: str,
             known: Trie | None) -> list[Rule]:
    """The rules, for a text that follows a prime ending in the word characters `tail`
    (the word in progress, "" where the prime ends between words); `known` is the word
    list words_only keeps to."""
    start = INSIDE if tail else BOUNDARY
    seen = [WordSeen(w, constraints.ignore_case, start) for w in constraints.include]
    rules: list[Rule] = ([Include(tuple(seen), in_order=True)] if constraints.in_order and seen
                         else list(seen))  # (each word its own small table)
    if constraints.exclude:
        rules.append(Exclude.of(constraints.exclude, constraints.ignore_case, start))
    if constraints.ban_chars:
        banned = constraints.ban_chars
        if constraints.ignore_case:
            banned += banned.lower() + banned.upper()
        rules.append(BanChars(frozenset(banned)))
    if constraints.pattern:  # (its library, and the dictionary, load only when asked for)
        from charrnn.decoding.pattern import pattern_rule
        rules.append(pattern_rule(constraints.pattern, tuple(chars)))
    if constraints.syllables or constraints.rhyme or constraints.acrostic:
        from charrnn.decoding.verse import verse_rules
        rules.extend(verse_rules(constraints.syllables, constraints.rhyme,
                                 constraints.acrostic, tuple(chars)))
    if constraints.words_only:
        if known is None:
            raise ConfigError("words_only needs the words of the model's corpus: this "
                              "checkpoint keeps none and its corpus is not there",
                              field="words_only")
        rules.append(WordsOnly.after(known, chars, constraints.new_words, tail))
    return rules


def automaton_for(constraints: Constraints, chars: Sequence[str], length: int,
                  tail: str = "", known: Trie | None = None) -> Automaton:
    """The automaton over a model's text characters, refused in one line where no text
    of `length` characters can meet it (a word's character the model never saw, words
    that do not fit, a pattern the model's characters cannot match)."""
    constraints.validate()
    present = set(chars)
    for word in constraints.include:
        missing = sorted({c for c in word if c not in present and not (
            constraints.ignore_case and {c.lower(), c.upper()} & present)})
        if missing:
            raise ConfigError(f"include: {word!r} has character(s) the model never saw: "
                              f"{', '.join(map(repr, missing))}", field="include")
        if constraints.words_only and known is not None and not constraints.new_words \
                and not _listed(known, word):
            raise ConfigError(f"include: {word!r} is not a word of the model's corpus, "
                              "and words_only allows no other", field="include")
    automaton = join(rules_of(constraints, chars, tail, known), chars, length)
    needed = automaton.start_distance(length)
    if needed >= NEVER:
        raise ConfigError("no text of any length can meet these constraints together",
                          field=_first_field(constraints))
    if needed > length:
        raise ConfigError(f"no text of {length} characters can meet these constraints "
                          f"(it needs at least {needed} characters); ask for a longer "
                          "length or fewer words", field=_first_field(constraints))
    return automaton


def _listed(known: Trie, word: str) -> bool:
    node = 0
    for c in word.lower():
        node = known.child.get((node, c), -1)
        if node < 0:
            return False
    return known.ends[node]


def _first_field(constraints: Constraints) -> str:
    """The field a request that nothing can meet is told about: the first it sets."""
    for name in ("include", "pattern", "syllables", "rhyme", "acrostic", "words_only",
                 "exclude", "ban_chars"):
        if getattr(constraints, name):
            return name
    return "include"


class Guide:
    """One request's rows kept to an automaton while they are drawn: the logits of
    characters that would break it (or leave too little room) are -inf before each
    draw. The end symbol is allowed only where the text may end; labels never."""

    def __init__(self, automaton: Automaton, rows: int, text_size: int):
        self.automaton, self.text_size = automaton, text_size
        self.states = np.zeros(rows, dtype=np.int64)
        self._last: tuple[int, np.ndarray, np.ndarray] | None = None  # room, states, allowed

    def _allowed(self, room: int) -> np.ndarray:
        """The automaton's allowed characters for the rows now (kept for the next ask:
        `advance` asks what `masked` asks next)."""
        last = self._last
        if last is not None and last[0] == room and np.array_equal(last[1], self.states):
            return last[2]
        allowed = self.automaton.allowed(self.states, room)
        self._last = (room, self.states, allowed)
        return allowed

    def masked(self, logprobs: np.ndarray, room: int) -> np.ndarray:
        """`logprobs` with what the rows may not write next at -inf, `room` characters
        being left."""
        allowed = np.zeros(logprobs.shape, dtype=bool)
        allowed[:, : self.text_size] = self._allowed(room)
        end = slice(self.text_size, self.text_size + 1)  # the end symbol, where there is one
        allowed[:, end] = self.automaton.accepts(self.states)[:, None]
        return np.where(allowed, logprobs, -np.inf).astype(logprobs.dtype, copy=False)

    def step(self, ids: np.ndarray) -> None:
        """Step each row by its drawn id (the end symbol leaves a row where it is)."""
        text = np.minimum(ids, self.text_size - 1)
        self.states = np.where(ids < self.text_size, self.automaton.step(self.states, text),
                               self.states)

    def advance(self, ids: np.ndarray, room: int) -> np.ndarray | None:
        """Step each row by its drawn id; which rows can go on (None: all): a row whose
        text may end and that nothing more can keep within `room` ends there."""
        self.step(ids)
        if room <= 0:
            return None
        going = self._allowed(room).any(axis=1)
        return None if going.all() else going

    def fresh(self, rows: int | None = None) -> Guide:
        """The same automaton for `rows` rows (default: as many), each at the start."""
        return Guide(self.automaton, self.states.size if rows is None else rows,
                     self.text_size)

    def accepted(self) -> np.ndarray:
        """Which rows' texts meet every rule if they end now (a stop string may end
        only those)."""
        return self.automaton.accepts(self.states)

    def shrink(self, keep: np.ndarray) -> None:
        """Only the rows `keep` selects (a mask, or indices: beams reordered) go on."""
        self.states = self.states[keep]


def guide_for(constraints: Constraints | None, vocab: Vocab, rows: int, length: int,
              prime: str, known: Trie | None = None) -> Guide | None:
    """`rows` kept to `constraints` (None where there are none) after `prime` (a text
    that follows a prime ending inside a word starts inside it); `known`: the word list
    of the model's corpus, for words_only. A byte-level model is refused in one line.
    Every check happens here, before anything is drawn."""
    if not constraints:
        return None
    if vocab.level != "char":
        raise ConfigError("constraints need a character-level model; this one reads bytes",
                          field=_first_field(constraints))
    automaton = automaton_for(constraints, vocab.chars, length, word_tail(prime), known)
    return Guide(automaton, rows, vocab.text_size)


def word_tail(text: str) -> str:
    """The word characters `text` ends in (the word in progress)."""
    i = len(text)
    while i and is_word_char(text[i - 1]):
        i -= 1
    return text[i:]
