"""Rules about a whole text joined into one automaton over a model's characters, with
each state's distance to acceptance (the fewest characters that still meet every rule),
so a sampler can allow only the characters after which the text can still be finished
in the room it has left.

A rule is a machine: a start state, a step per character (None where the rule is broken
for good), and the states that accept. Small rules (words to include or exclude, banned
characters, a pattern, an acrostic) are joined and tabulated at once (`compile_rules`):
every reachable state, and distances by one breadth-first search backwards. A rule whose
states cannot all be listed (a word list's trie, a syllable count that holds the word in
progress) says itself how far each state is from acceptance on its own (`distance`,
never more than the truth); such rules are joined with the table lazily (`Product`):
states are made as the sampler reaches them, and a state's distance is found by A*
search, the rules' own distances being its heuristic. A search that weighs more than
MAX_SEARCH states gives up, and its state counts as unable to finish: the text stays
within the rules, at the cost of a continuation that was possible but too far to see.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from charrnn.config import is_word_char
from charrnn.errors import ConfigError

NEVER = np.iinfo(np.int32).max  # the distance of a state from which no text is accepted
MAX_STATES = 200_000  # a bound on the joined table (states x characters stay < ~100 MB)
MAX_SEARCH = 300  # the states one distance search may weigh before it gives up
MAX_WALKS = 1 << 16  # lines walked from a state and kept (`Product._walked`)


class Rule(Protocol):
    """One rule as a machine over characters; `step` gives None where the rule is broken
    for good. A rule too big to tabulate also has `distance(state)`: the fewest characters
    from `state` to a state it accepts, for this rule alone (a lower bound, NEVER: none);
    it may have `steps(state)`, the state after each of the model's characters at once."""

    start: Hashable

    def step(self, state: Hashable, c: str) -> Hashable | None: ...

    def accepts(self, state: Hashable) -> bool: ...


@dataclass(frozen=True)
class Table:
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

    def step(self, states: np.ndarray, text_ids: np.ndarray) -> np.ndarray:
        return self.next[states, text_ids].astype(np.int64)

    def accepts(self, states: np.ndarray) -> np.ndarray:
        return self.accepting[states]

    def start_distance(self, horizon: int) -> int:
        return int(self.distance[0])


def compile_rules(rules: Sequence[Rule], chars: Sequence[str]) -> Table:
    """The rules joined and tabulated over `chars` (the states reachable from the
    start), with each state's distance to acceptance: each rule tabulated alone (a rule
    that holds its own table, like a pattern's, as it is), then their product row by row
    over numpy arrays; more than MAX_STATES is one ConfigError (fewer or shorter words)."""
    tables = [_tabulated(rule, chars) for rule in rules]
    if not tables:
        return Table(np.zeros((1, len(chars)), dtype=np.int32), np.ones(1, dtype=bool),
                     np.zeros(1, dtype=np.int64))
    if len(tables) == 1:
        return tables[0]
    index = {(0,) * len(tables): 0}
    order, rows = list(index), []
    for state in order:  # (grows as states are found: breadth first)
        after = np.stack([t.next[s] for t, s in zip(tables, state, strict=True)])
        kept = np.flatnonzero((after >= 0).all(axis=0))
        found, where = np.unique(after[:, kept].T, axis=0, return_inverse=True)
        ids = []
        for combo in map(tuple, found.tolist()):
            if combo not in index:
                if len(index) >= MAX_STATES:
                    raise _too_many()
                index[combo] = len(order)
                order.append(combo)
            ids.append(index[combo])
        row = np.full(len(chars), -1, dtype=np.int32)
        row[kept] = np.asarray(ids, dtype=np.int32)[where.reshape(-1)]
        rows.append(row)
    parts = np.array(order)
    accepting = np.all([t.accepting[parts[:, i]] for i, t in enumerate(tables)], axis=0)
    table = np.stack(rows)
    return Table(table, accepting, _distances(table, accepting))


def _too_many() -> ConfigError:
    return ConfigError(f"these constraints need more than {MAX_STATES:,} states; ask for "
                       "fewer or shorter words")


def _tabulated(rule: Rule, chars: Sequence[str]) -> Table:
    """One rule's table: its own where it holds one (`next`, `accepting` over `chars`),
    else its states found breadth first."""
    if isinstance(getattr(rule, "next", None), np.ndarray):
        table, accepting = rule.next, rule.accepting
        return Table(table, accepting, _distances(table, accepting))
    index = {rule.start: 0}
    order, rows = [rule.start], []
    for state in order:
        row = np.full(len(chars), -1, dtype=np.int32)
        for i, c in enumerate(chars):
            after = rule.step(state, c)
            if after is None:
                continue
            if after not in index:
                if len(index) >= MAX_STATES:
                    raise _too_many()
                index[after] = len(order)
                order.append(after)
            row[i] = index[after]
        rows.append(row)
    table = np.stack(rows)
    accepting = np.array([rule.accepts(state) for state in order])
    return Table(table, accepting, _distances(table, accepting))


def _distances(table: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """The fewest steps from each state to an accepting one (NEVER: none), by relaxing
    every state over every character at once until nothing shortens."""
    distance = np.where(accepting, 0, NEVER).astype(np.int64)
    safe = np.maximum(table, 0)
    while True:
        via = np.where(table >= 0, distance[safe], NEVER).min(axis=1, initial=NEVER)
        shorter = np.minimum(distance, np.where(via < NEVER, via + 1, NEVER))
        if np.array_equal(shorter, distance):
            return distance
        distance = shorter


class Product:
    """A table joined with rules too big to tabulate, explored as it is reached: state
    ids are given to joined states (a tuple: the table's state, then each rule's) as
    they are met, and each state's successors are found once and kept.

    Whether a state can still be finished in the room left is decided by bounds: below,
    its heuristic (the largest of the rules' own distances) and what searches have shown;
    above, the length of a text found to finish it (a witness: each unmet rule's own
    completion written in turn, the table's and the rules' `completion`). Only where the
    room falls between them is the distance searched for (A*, bounded by the room).
    `horizon` is the longest room asked about (the text's length)."""

    def __init__(self, table: Table, rules: Sequence[Rule], chars: Sequence[str],
                 horizon: int):
        self.table, self.rules, self.chars, self.horizon = table, tuple(rules), chars, horizon
        self.states: list[tuple] = []
        self.index: dict[tuple, int] = {}
        self.rows: list[np.ndarray | None] = []  # successors per character, -1: broken
        self.exact: dict[int, int] = {}  # distances found
        self.lower: dict[int, int] = {}  # distances known to be at least this
        self.upper: dict[int, int] = {}  # lengths of texts found to finish a state
        self.gave_up: dict[int, int] = {}  # the most room a search from a state gave up in
        self.witness: dict[int, str] = {}  # the text found to finish a state (upper's)
        self._walks: dict[tuple, tuple | None] = {}  # (state, a line) -> the state after it
        self._heuristic: dict[int, int] = {}
        self._accepting: dict[int, bool] = {}
        self._table_rows = table.next.tolist()
        reach = np.where(table.next >= 0, table.distance[np.maximum(table.next, 0)], NEVER)
        # a character toward acceptance, a space where one will do (a line break would
        # start a verse's next line)
        first = np.array([c == " " for c in chars], dtype=bool)
        order = np.argsort(~first, kind="stable")
        self._table_best = order[np.argmin(reach[:, order], axis=1)].tolist()
        self._char_index = {c: i for i, c in enumerate(chars)}
        self._id((0, *(r.start for r in self.rules)))

    def _id(self, state: tuple) -> int:
        found = self.index.get(state)
        if found is None:
            found = self.index[state] = len(self.states)
            self.states.append(state)
            self.rows.append(None)
        return found

    def heuristic(self, s: int) -> int:
        h = self._heuristic.get(s)
        if h is None:
            state = self.states[s]
            h = self._heuristic[s] = max([int(self.table.distance[state[0]]), *(
                r.distance(p) for r, p in zip(self.rules, state[1:], strict=True))])
        return h

    def accepting(self, s: int) -> bool:
        found = self._accepting.get(s)
        if found is None:
            found = self._accepting[s] = self._accepts(self.states[s])
        return found

    def _accepts(self, state: tuple) -> bool:
        return bool(self.table.accepting[state[0]]) and all(
            r.accepts(p) for r, p in zip(self.rules, state[1:], strict=True))

    def successors(self, s: int) -> np.ndarray:
        """State ids after each character from `s` (-1: a rule is broken)."""
        row = self.rows[s]
        if row is not None:
            return row
        state = self.states[s]
        columns = [r.steps(p) if hasattr(r, "steps") else [r.step(p, c) for c in self.chars]
                   for r, p in zip(self.rules, state[1:], strict=True)]
        ids = []
        for i, table_next in enumerate(self._table_rows[state[0]]):
            after = (table_next, *(column[i] for column in columns))
            ids.append(-1 if table_next < 0 or None in after else self._id(after))
        row = self.rows[s] = np.array(ids, dtype=np.int32)
        text = self.witness.get(s)
        if text:  # the witness's next state finishes with the rest of it
            self._witnessed(int(row[self._char_index[text[0]]]), text[1:])
        return row

    # ---- can a state be finished within a bound? ----

    def within(self, s: int, bound: int) -> bool:
        """Whether some text of at most `bound` characters takes `s` to acceptance."""
        if s in self.exact:
            return self.exact[s] <= bound
        if max(self.lower.get(s, 0), self.heuristic(s)) > bound:
            return False
        if self._upper(s) <= bound:
            return True
        if self.gave_up.get(s, -1) >= bound:  # a search with as much room gave up
            return False
        return self._search(s, bound) <= bound

    def distance(self, s: int, bound: int) -> int:
        """The fewest characters from `s` to acceptance where that is at most `bound`,
        else a number above `bound` (NEVER where the search gave up)."""
        if s in self.exact:
            return self.exact[s]
        if max(self.lower.get(s, 0), self.heuristic(s)) > bound:
            return max(self.lower.get(s, 0), self.heuristic(s))
        return self._search(s, bound)

    def _upper(self, s: int) -> int:
        """The length of a text found to finish `s` (NEVER: none found): each rule that
        is unmet writes its own completion, in turn, the table's first or last. Every
        state on the text's way is given the rest of it as its own bound, so a state
        allowed by a witness always keeps one allowed next character (no text is left
        with nothing it may write)."""
        if s not in self.upper:
            state, best = self.states[s], None
            for table_first in (True, False):
                found = self._finish(state, table_first)
                if found is not None and (best is None or len(found) < len(best)):
                    best = found
                if best is not None and len(best) <= self.heuristic(s):
                    break
            if best is None:  # the word in progress ended the rules' way first
                best = self._finish_word_first(state)
            if best is None:
                self.upper[s] = NEVER
            else:
                self._witnessed(s, best)
        return self.upper[s]

    def _witnessed(self, s: int, text: str) -> None:
        """`s` finishes within `text` (which `_finish` stepped through: every character
        is allowed on its way). Each state on that way is given the rest of it as its
        own bound when it is met: as a successor of the state before it (`successors`
        passes the witness on), or here at once where that state's successors are known
        already; states never met are never made."""
        while s >= 0 and len(text) < self.upper.get(s, NEVER):
            self.upper[s], self.witness[s] = len(text), text
            row = self.rows[s]
            if not text or row is None:
                return
            s, text = int(row[self._char_index[text[0]]]), text[1:]

    def _finish_word_first(self, state: tuple) -> str | None:
        """A witness that first writes a rule's completion up to a character that ends a
        word (the first such, then each later one: a verse's words to include go where
        its lines have room), then goes on with the table first."""
        for k in range(1, len(self.rules) + 1):
            text, after = self._completion(k, state) or "", state
            for i, c in enumerate(text):
                after = self._stepped(after, c)
                if after is None:
                    break
                if not is_word_char(c):
                    rest = self._finish(after, table_first=True)
                    if rest is not None and i + 1 + len(rest) <= self.horizon:
                        return text[: i + 1] + rest
        return None

    def _finish(self, state: tuple, table_first: bool) -> str | None:
        written = []
        parts = range(len(self.rules) + 1)
        order = list(parts) if table_first else [*parts[1:], 0]
        for _ in range(2 * len(order)):
            unmet = next((k for k in order if not self._part_accepts(k, state)), None)
            if unmet is None:
                return "".join(written)
            text = self._completion(unmet, state)
            if text is None or sum(map(len, written)) + len(text) > self.horizon:
                return None
            state = self._walked(state, text)
            if state is None:
                return None
            written.append(text)
        return "".join(written) if self._accepts(state) else None

    def _walked(self, state: tuple, text: str) -> tuple | None:
        """The state after `text` from `state` (None: a rule is broken on the way). Each
        line after the first is looked up where it was walked before from the same
        state: witnesses from many states share their later lines (a verse's next lines'
        shortest words), and their states at a line's start are few."""
        for i, line in enumerate(text.splitlines(keepends=True)):
            key = (state, line)
            if i and key in self._walks:
                state = self._walks[key]
            else:
                for c in line:
                    state = self._stepped(state, c)
                    if state is None:
                        break
                if i and len(self._walks) < MAX_WALKS:
                    self._walks[key] = state
            if state is None:
                return None
        return state

    def _part_accepts(self, k: int, state: tuple) -> bool:
        if k == 0:
            return bool(self.table.accepting[state[0]])
        return self.rules[k - 1].accepts(state[k])

    def _completion(self, k: int, state: tuple) -> str | None:
        """A text that brings part k alone to acceptance (None: none known)."""
        if k:
            rule = self.rules[k - 1]
            return rule.completion(state[k]) if hasattr(rule, "completion") else None
        a, text = state[0], []
        if self.table.distance[a] >= NEVER:
            return None
        while not self.table.accepting[a]:
            i = self._table_best[a]
            text.append(self.chars[i])
            a = self._table_rows[a][i]
        return "".join(text)

    def _stepped(self, state: tuple, c: str) -> tuple | None:
        i = self._char_index.get(c)
        a = -1 if i is None else self._table_rows[state[0]][i]
        if a < 0:
            return None
        after = [r.step(p, c) for r, p in zip(self.rules, state[1:], strict=True)]
        return None if None in after else (a, *after)

    def _estimate(self, s: int) -> int:
        return self.exact.get(s, max(self.heuristic(s), self.lower.get(s, 0)))

    def _search(self, s: int, bound: int) -> int:
        """A* from `s`, the rules' own distances its heuristic, deepest first among equals,
        given up past `bound` (a lower bound kept) or MAX_SEARCH states weighed (NEVER kept). A
        state is queued at its parent's f and its own heuristic (the costly part) is only
        found once it comes first (the rules' distances are consistent: a character
        lowers them by at most one, so the parent's f bounds the child's from below)."""
        cost, parent = {s: 0}, {s: -1}
        frontier = [(self._estimate(s), 0, s, True)]  # (f, -g, state, whether f is its own)
        weighed = 0  # states whose heuristic was found (the costly part)
        while frontier:
            f, g, u, own = heapq.heappop(frontier)
            g = -g
            if g > cost[u]:
                continue
            weighed += 1
            if weighed > MAX_SEARCH:
                self.gave_up[s] = max(self.gave_up.get(s, -1), bound)
                return NEVER
            if not own:  # queued at its parent's f, a lower bound: its own heuristic now
                mine = g + self._estimate(u)
                if mine > f:
                    heapq.heappush(frontier, (mine, -g, u, True))
                    continue
            if f > bound:
                self.lower[s] = f
                return f
            if self.accepting(u) or (u in self.exact and g + self.exact[u] == f):
                self._found(u, f, cost, parent)
                return f
            for v in set(self.successors(u).tolist()) - {-1}:
                if g + 1 < cost.get(v, NEVER):
                    cost[v], parent[v] = g + 1, u
                    heapq.heappush(frontier, (max(f, g + 1), -(g + 1), v, False))
        self.exact[s] = NEVER
        return NEVER

    def _found(self, goal: int, total: int, cost: dict[int, int], parent: dict[int, int]
               ) -> None:
        """Every state on a shortest path to acceptance is that path's rest away from it."""
        u = goal
        while u != -1:
            self.exact[u] = total - cost[u]
            u = parent[u]

    # ---- what the guide asks ----

    def allowed(self, states: np.ndarray, room: int) -> np.ndarray:
        out = np.zeros((states.size, len(self.chars)), dtype=bool)
        for s in np.unique(states).tolist():
            row = self.successors(s)
            ok = np.zeros(row.size, dtype=bool)
            for v in set(row.tolist()) - {-1}:
                if self.within(v, room - 1):
                    ok |= row == v
            out[states == s] = ok
        return out

    def step(self, states: np.ndarray, text_ids: np.ndarray) -> np.ndarray:
        pairs = zip(states.tolist(), text_ids.tolist(), strict=True)
        return np.array([self.successors(s)[c] for s, c in pairs], dtype=np.int64)

    def accepts(self, states: np.ndarray) -> np.ndarray:
        return np.array([self.accepting(s) for s in states.tolist()], dtype=bool)

    def start_distance(self, horizon: int) -> int:
        """The fewest characters that meet every rule; where the search gave up, the
        length of the text found to meet them (NEVER: none found either)."""
        upper = self._upper(0)
        if upper <= self.heuristic(0):
            return upper
        found = self.distance(0, horizon)
        return upper if found >= NEVER else found


Automaton = Table | Product


def join(rules: Sequence[Rule], chars: Sequence[str], horizon: int) -> Automaton:
    """The rules as one automaton: the small ones tabulated, any with their own
    `distance` joined to that table lazily."""
    small = [r for r in rules if not hasattr(r, "distance")]
    large = [r for r in rules if hasattr(r, "distance")]
    table = compile_rules(small, chars)
    return Product(table, large, chars, horizon) if large else table
