"""Only real words: every word a text holds is one of a word list (the words of the
model's corpus, `data/word_list.py`), or at most a given share of them are not.

The list is a trie over lowercased characters; the rule's state is the trie node of the
word in progress (ROOT between words, OUTSIDE once the word has left the list), and,
where new words are allowed, how many known and new words the text has finished. The
text's words are compared lowercased (capitals are the model's choice); a word counts
once it ends: at a non-word character or at the text's end.
"""

from __future__ import annotations

import math
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
        for node in range(len(parent) - 1, 0, -1):  # children come after their parents
            self.to_end[parent[node]] = min(self.to_end[parent[node]], self.to_end[node] + 1)
        self.shortest = min((len(w) for w in words), default=NEVER)

    def __len__(self) -> int:
        return len(self.ends)


@dataclass(frozen=True, eq=False)
class WordsOnly:
    """Every word of the text is in `trie`, or (`new_share` > 0) at most that share of
    the text's words are not. State: a node, or (node, known, new) where new words may
    come."""

    trie: Trie
    new_share: float = 0.0
    start: Hashable = field(default=ROOT)

    @classmethod
    def after(cls, trie: Trie, new_share: float, tail: str) -> WordsOnly:
        """The rule for a text that follows a prime ending in the word characters `tail`
        (the word in progress)."""
        node = ROOT
        for c in tail.lower():
            node = trie.child.get((node, c), OUTSIDE) if node != OUTSIDE else OUTSIDE
        return cls(trie, new_share, (node, 0, 0) if new_share else node)

    def _parts(self, state: Hashable) -> tuple[int, int, int]:
        return state if self.new_share else (state, 0, 0)  # type: ignore[return-value]

    def _made(self, node: int, known: int, new: int) -> Hashable:
        return (node, known, new) if self.new_share else node

    def step(self, state: Hashable, c: str) -> Hashable | None:
        node, known, new = self._parts(state)
        if is_word_char(c):
            if node != OUTSIDE:
                node = self.trie.child.get((node, c.lower()), OUTSIDE)
            return None if node == OUTSIDE and not self.new_share else \
                self._made(node, known, new)
        ended = self._ended(node, known, new)
        return None if ended is None else self._made(ROOT, *ended)

    def _ended(self, node: int, known: int, new: int) -> tuple[int, int] | None:
        """The counts once the word in progress ends (None: it may not end here)."""
        if node == ROOT:
            return known, new
        if node != OUTSIDE and self.trie.ends[node]:
            return known + 1, new
        return (known, new + 1) if self.new_share else None

    def accepts(self, state: Hashable) -> bool:
        ended = self._ended(*self._parts(state))
        return ended is not None and self._more_known(*ended) == 0

    def _more_known(self, known: int, new: int) -> int:
        """How many more known words bring the share of new ones within bounds."""
        if not new:
            return 0
        return max(0, math.ceil(new / self.new_share - (known + new) - 1e-9))

    def distance(self, state: Hashable) -> int:
        """The characters that finish the word in progress and write the known words the
        share still needs (each the shortest known word, and a character between)."""
        node, known, new = self._parts(state)
        if node == ROOT:
            return self._cost(known, new)
        ways = []
        if node != OUTSIDE and self.trie.to_end[node] < NEVER:  # finished as a known word
            ways.append(self.trie.to_end[node] + self._cost(known + 1, new))
        if self.new_share and (node == OUTSIDE or not self.trie.ends[node]):
            ways.append(self._cost(known, new + 1))  # ended where it is, as a new word
        return min(ways, default=NEVER)

    def _cost(self, known: int, new: int) -> int:
        more = self._more_known(known, new) if self.new_share else 0
        return more * (self.trie.shortest + 1) - 1 if more else 0
