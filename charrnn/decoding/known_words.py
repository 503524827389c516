"""Only real words: every word a text holds is one of a word list (the words of the
model's corpus, `data/word_list.py`), or at most a given share of them are not.

The list is a trie over lowercased characters; the rule's state is the trie node of the
word in progress (ROOT between words, OUTSIDE once the word has left the list), and,
where new words are allowed, how many known and new words the text has finished. The
text's words are compared lowercased (capitals are the model's choice); a word counts
once it ends: at a non-word character or at the text's end.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from charrnn.config import is_word_char
from charrnn.decoding.automaton import NEVER

ROOT, OUTSIDE = 0, -1
MAX_SHARE = 0.5  # the most new words --new-words may allow


class Trie:
    """The words as a trie: `child[(node, char)]`, whether a word ends at a node, and
    how many characters still lead from each node to a word's end."""

    def __init__(self, words: Sequence[str]):
        self.child: dict[tuple[int, str], int] = {}
        parent, ends = [ROOT], [False]
        for word in words:
            node = ROOT
            for c in word:
                nxt = self.child.get((node, c))
                if nxt is None:
                    nxt = self.child[node, c] = len(parent)
                    parent.append(node)
                    ends.append(False)
                node = nxt
            ends[node] = True
        self.ends = ends
        self.to_end = [0 if e else NEVER for e in ends]
        self.toward: list[str] = [""] * len(ends)  # a child's character on a shortest way
        letter = {node: c for (_, c), node in self.child.items()}
        for node in range(len(parent) - 1, 0, -1):  # children come after their parents
            up = parent[node]
            if self.to_end[node] + 1 < self.to_end[up]:
                self.to_end[up], self.toward[up] = self.to_end[node] + 1, letter[node]
        self.shortest = min((len(w) for w in words), default=NEVER)

    def __len__(self) -> int:
        return len(self.ends)


@functools.lru_cache(maxsize=4)
def trie_of(words: tuple[str, ...]) -> Trie:
    """One trie per word list, shared by every model object that holds the list (the
    server's batcher and its side decoder read one)."""
    return Trie(words)


@dataclass(frozen=True, eq=False)
class WordsOnly:
    """Every word of the text is in `trie`; with `new_share` > 0, a word that is not may
    end where, counting it, at most that share of the text's words so far are new (so
    new words are spread through the text, the first after 1/share - 1 known ones).
    State: a node, or (node, known, new) where new words may come."""

    trie: Trie
    chars: tuple[str, ...]  # the model's, in order: `steps` gives one state per character
    new_share: float = 0.0
    start: Hashable = field(default=ROOT)

    @classmethod
    def after(cls, trie: Trie, chars: Sequence[str], new_share: float, tail: str
              ) -> WordsOnly:
        """The rule for a text that follows a prime ending in the word characters `tail`
        (the word in progress)."""
        node = ROOT
        for c in tail.lower():
            node = trie.child.get((node, c), OUTSIDE) if node != OUTSIDE else OUTSIDE
        return cls(trie, tuple(chars), new_share, (node, 0, 0) if new_share else node)

    def _parts(self, state: Hashable) -> tuple[int, int, int]:
        return state if self.new_share else (state, 0, 0)  # type: ignore[return-value]

    def _made(self, node: int, known: int, new: int) -> Hashable:
        return (node, known, new) if self.new_share else node

    def step(self, state: Hashable, c: str) -> Hashable | None:
        """The state after `c` alone (the joined rules' witnesses step one character at a
        time, so this must not build the whole row `steps` gives)."""
        node, known, new = self._parts(state)
        if not is_word_char(c):
            return self._boundary(node, known, new)
        return self._inside(node, known, new, c.lower())

    def steps(self, state: Hashable) -> list[Hashable | None]:
        """The state after each of `chars` (None: broken), at once."""
        node, known, new = self._parts(state)
        boundary = self._boundary(node, known, new)
        return [self._inside(node, known, new, lower) if word else boundary
                for lower, word in _classes(self.chars)]

    def _boundary(self, node: int, known: int, new: int) -> Hashable | None:
        """The state after a non-word character: the word in progress ends (None: it may
        not end here)."""
        ended = self._ended(node, known, new)
        return None if ended is None else self._made(ROOT, *ended)

    def _inside(self, node: int, known: int, new: int, lower: str) -> Hashable | None:
        """The state after the word character `lower`: down the trie, or outside it
        (None where no new words are allowed)."""
        after = OUTSIDE if node == OUTSIDE else self.trie.child.get((node, lower), OUTSIDE)
        if after == OUTSIDE:
            return self._made(OUTSIDE, known, new) if self.new_share else None
        return self._made(after, known, new)

    def _ended(self, node: int, known: int, new: int) -> tuple[int, int] | None:
        """The counts once the word in progress ends (None: it may not end here)."""
        if node == ROOT:
            return known, new
        if node != OUTSIDE and self.trie.ends[node]:
            return known + 1, new
        if self.new_share and new + 1 <= self.new_share * (known + new + 1) + 1e-9:
            return known, new + 1
        return None

    def accepts(self, state: Hashable) -> bool:
        return self._ended(*self._parts(state)) is not None

    def completion(self, state: Hashable) -> str | None:
        """The shortest characters that finish the word in progress as a known word
        ("" where it may end here)."""
        node, known, new = self._parts(state)
        if self._ended(node, known, new) is not None:
            return ""
        if node == OUTSIDE or self.trie.to_end[node] >= NEVER:
            return None
        text, written = [], _writers(self.chars)
        while not self.trie.ends[node]:
            c = self.trie.toward[node]
            if c not in written:
                return None
            text.append(written[c])
            node = self.trie.child[node, c]
        return "".join(text)

    def distance(self, state: Hashable) -> int:
        """The characters that finish the word in progress (none where it may end here)."""
        node, known, new = self._parts(state)
        if self._ended(node, known, new) is not None:
            return 0
        return NEVER if node == OUTSIDE else self.trie.to_end[node]


@functools.lru_cache(maxsize=8)
def _writers(chars: tuple[str, ...]) -> dict[str, str]:
    """For each lowercased character, a model character that writes it (itself first)."""
    found = {c.lower(): c for c in reversed(chars)}
    found.update({c: c for c in chars if c.lower() == c})
    return found


@functools.lru_cache(maxsize=8)
def _classes(chars: tuple[str, ...]) -> tuple[tuple[str, bool], ...]:
    """Each character lowercased, and whether it is a word character."""
    return tuple((c.lower(), is_word_char(c)) for c in chars)
