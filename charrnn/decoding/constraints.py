"""What a text must and must not hold, as one automaton over the model's characters.

A character model writes one character at a time, so any rule about the whole text
that an automaton can check (a word that must appear, one that must not, a banned
character) can be kept exactly while sampling: before each draw, only the characters
after which the rule can still be met in the room left are allowed. Each rule is a small
machine (a start state, a step per character, which states accept); `compile_rules`
joins them into one table over the model's characters, once per request, with each
state's distance to acceptance (the fewest characters that still meet every rule), so a
text never runs out of room for a word it must hold.

Words are whole words: a word character is a letter, a digit or an apostrophe, and an
occurrence counts only between non-word characters (or the text's ends).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from charrnn.config import Constraints, is_word_char
from charrnn.data.vocab import Vocab
from charrnn.errors import ConfigError

NEVER = np.iinfo(np.int32).max  # the distance of a state from which no text is accepted
MAX_STATES = 200_000  # a bound on the joined table (states x characters stay < ~100 MB)


class Rule(Protocol):
    """One rule as a machine over characters; `step` gives None where the rule is broken
    for good."""

    start: Hashable

    def step(self, state: Hashable, c: str) -> Hashable | None: ...

    def accepts(self, state: Hashable) -> bool: ...


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
        return (0, BOUNDARY) if self.in_order else tuple(w.start for w in self.words)

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


@dataclass(frozen=True)
class Automaton:
    """Rules compiled over a model's text characters: `next[s, c]` (-1: broken for
    good), `accepting[s]`, and `distance[s]`, the fewest characters from s to a state
    that accepts (NEVER: none). State 0 is the start."""

    next: np.ndarray  # (states, characters) int32
    accepting: np.ndarray  # (states,) bool
    distance: np.ndarray  # (states,) int64

    def allowed(self, states: np.ndarray, room: int) -> np.ndarray:
        """(rows, characters) which characters each row may write next, `room`
        characters being left in all (this one included): those after which every rule
        can still be met in time."""
        after = self.next[states]
        reach = np.where(after >= 0, self.distance[np.maximum(after, 0)], NEVER)
        return reach <= room - 1


def compile_rules(rules: Sequence[Rule], chars: Sequence[str]) -> Automaton:
    """The rules joined and tabulated over `chars` (the states reachable from the
    start), with each state's distance to acceptance; more than MAX_STATES is one
    ConfigError (fewer or shorter words)."""
    start = tuple(r.start for r in rules)
    index = {start: 0}
    order, rows = [start], []
    queue = deque([start])
    while queue:
        state = queue.popleft()
        row = np.full(len(chars), -1, dtype=np.int32)
        for i, c in enumerate(chars):
            after = tuple(r.step(s, c) for r, s in zip(rules, state, strict=True))
            if any(s is None for s in after):
                continue
            if after not in index:
                if len(index) >= MAX_STATES:
                    raise ConfigError(f"these constraints need more than {MAX_STATES:,} "
                                      "states; ask for fewer or shorter words")
                index[after] = len(order)
                order.append(after)
                queue.append(after)
            row[i] = index[after]
        rows.append(row)
    table = np.stack(rows)
    accepting = np.array([all(r.accepts(s) for r, s in zip(rules, state, strict=True))
                          for state in order])
    return Automaton(table, accepting, _distances(table, accepting))


def _distances(table: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """Breadth-first from the accepting states along reversed transitions."""
    distance = np.full(len(accepting), NEVER, dtype=np.int64)
    before: list[list[int]] = [[] for _ in range(len(accepting))]
    for s, targets in enumerate(table):
        for t in set(targets[targets >= 0].tolist()):
            before[t].append(s)
    queue = deque(np.flatnonzero(accepting).tolist())
    distance[accepting] = 0
    while queue:
        t = queue.popleft()
        for s in before[t]:
            if distance[s] == NEVER:
                distance[s] = distance[t] + 1
                queue.append(s)
    return distance


def rules_of(constraints: Constraints, after_word: bool) -> list[Rule]:
    """The rules, for a text that starts inside a word (`after_word`) or not."""
    start = INSIDE if after_word else BOUNDARY
    seen = [WordSeen(w, constraints.ignore_case, start) for w in constraints.include]
    rules: list[Rule] = [Include(tuple(seen), constraints.in_order)] if seen else []
    if constraints.exclude:
        rules.append(Exclude.of(constraints.exclude, constraints.ignore_case, start))
    if constraints.ban_chars:
        rules.append(BanChars(frozenset(constraints.ban_chars)))
    return rules


def automaton_for(constraints: Constraints, chars: Sequence[str], length: int,
                  after_word: bool) -> Automaton:
    """The automaton over a model's text characters, refused in one line where no text
    of `length` characters can meet it (a word's character the model never saw, or
    words that do not fit)."""
    constraints.validate()
    known = set(chars)
    for word in constraints.include:
        missing = sorted({c for c in word if c not in known and not (
            constraints.ignore_case and {c.lower(), c.upper()} & known)})
        if missing:
            raise ConfigError(f"include: {word!r} has character(s) the model never saw: "
                              f"{', '.join(map(repr, missing))}", field="include")
    automaton = compile_rules(rules_of(constraints, after_word), chars)
    if automaton.distance[0] > length:
        raise ConfigError(f"no text of {length} characters can meet these constraints "
                          f"(it needs at least {_needed(automaton)}); ask for a longer "
                          "length or fewer words", field="include")
    return automaton


def _needed(automaton: Automaton) -> str:
    d = int(automaton.distance[0])
    return "more characters than any length" if d == NEVER else f"{d} characters"


class Guide:
    """One request's rows kept to an automaton while they are drawn: the logits of
    characters that would break it (or leave too little room) are -inf before each
    draw. The end symbol is allowed only where the text may end; labels never."""

    def __init__(self, automaton: Automaton, rows: int, text_size: int):
        self.automaton, self.text_size = automaton, text_size
        self.states = np.zeros(rows, dtype=np.int64)

    def masked(self, logprobs: np.ndarray, room: int) -> np.ndarray:
        """`logprobs` with what the rows may not write next at -inf, `room` characters
        being left."""
        allowed = np.zeros(logprobs.shape, dtype=bool)
        allowed[:, : self.text_size] = self.automaton.allowed(self.states, room)
        end = slice(self.text_size, self.text_size + 1)  # the end symbol, where there is one
        allowed[:, end] = self.automaton.accepting[self.states, None]
        return np.where(allowed, logprobs, -np.inf).astype(logprobs.dtype, copy=False)

    def advance(self, ids: np.ndarray, room: int) -> np.ndarray | None:
        """Step each row by its drawn id; which rows can go on (None: all): a row whose
        text may end and that nothing more can keep within `room` ends there."""
        text = np.minimum(ids, self.text_size - 1)
        self.states = np.where(ids < self.text_size, self.automaton.next[self.states, text],
                               self.states)
        if room <= 0:
            return None
        going = self.automaton.allowed(self.states, room).any(axis=1)
        return None if going.all() else going

    def fresh(self) -> Guide:
        """The same automaton for as many rows, each at the start again."""
        return Guide(self.automaton, self.states.size, self.text_size)

    def accepted(self) -> np.ndarray:
        """Which rows' texts meet every rule if they end now (a stop string may end
        only those)."""
        return self.automaton.accepting[self.states]

    def shrink(self, keep: np.ndarray) -> None:
        """Only the rows `keep` selects (a mask, or indices: beams reordered) go on."""
        self.states = self.states[keep]


def guide_for(constraints: Constraints | None, vocab: Vocab, rows: int, length: int,
              prime: str) -> Guide | None:
    """`rows` kept to `constraints` (None where there are none) after `prime` (a text
    that follows a prime ending inside a word starts inside it); a byte-level model is
    refused in one line. Every check happens here, before anything is drawn."""
    if not constraints:
        return None
    if vocab.level != "char":
        raise ConfigError("constraints need a character-level model; this one reads bytes",
                          field="include")
    automaton = automaton_for(constraints, vocab.chars, length,
                              after_word=bool(prime) and is_word_char(prime[-1]))
    return Guide(automaton, rows, vocab.text_size)
