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
search, the rules' own distances being its heuristic. A search that visits more than
MAX_SEARCH states gives up, and its state counts as unable to finish: the text stays
within the rules, at the cost of a continuation that was possible but too far to see.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from charrnn.errors import ConfigError

NEVER = np.iinfo(np.int32).max  # the distance of a state from which no text is accepted
MAX_STATES = 200_000  # a bound on the joined table (states x characters stay < ~100 MB)
MAX_SEARCH = 20_000  # the states one distance search may visit before it gives up


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
    they are met, each state's successors and its successors' distances are found once
    and kept. `horizon` is the longest room asked about (the text's length): a distance
    beyond it is not searched for."""

    def __init__(self, table: Table, rules: Sequence[Rule], chars: Sequence[str],
                 horizon: int):
        self.table, self.rules, self.chars, self.horizon = table, tuple(rules), chars, horizon
        self.states: list[tuple] = []
        self.index: dict[tuple, int] = {}
        self.rows: list[np.ndarray | None] = []  # successors per character, -1: broken
        self.reach: list[np.ndarray | None] = []  # the successors' distances
        self.heuristic: list[int] = []
        self.accepting: list[bool] = []
        self.exact: dict[int, int] = {}  # distances found
        self.lower: dict[int, int] = {}  # distances known to be at least this
        self._table_rows = table.next.tolist()
        self._id((0, *(r.start for r in self.rules)))

    def _id(self, state: tuple) -> int:
        found = self.index.get(state)
        if found is not None:
            return found
        s = self.index[state] = len(self.states)
        self.states.append(state)
        self.rows.append(None)
        self.reach.append(None)
        parts = list(zip(self.rules, state[1:], strict=True))
        self.heuristic.append(max([int(self.table.distance[state[0]]),
                                   *(r.distance(p) for r, p in parts)]))
        self.accepting.append(bool(self.table.accepting[state[0]])
                              and all(r.accepts(p) for r, p in parts))
        return s

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
        return row

    def distance(self, s: int, bound: int) -> int:
        """The fewest characters from `s` to acceptance where that is at most `bound`,
        else a number above `bound` (A* search; NEVER where it gave up)."""
        if s in self.exact:
            return self.exact[s]
        if self.lower.get(s, self.heuristic[s]) > bound:
            return max(self.lower.get(s, 0), self.heuristic[s])
        return self._search(s, bound)

    def _estimate(self, s: int) -> int:
        return self.exact.get(s, max(self.heuristic[s], self.lower.get(s, 0)))

    def _search(self, s: int, bound: int) -> int:
        cost, parent = {s: 0}, {s: -1}
        frontier = [(self._estimate(s), 0, s)]  # (f, -g, state): deepest first among equals
        visited = 0
        while frontier:
            f, g, u = heapq.heappop(frontier)
            g = -g
            if g > cost[u]:
                continue
            if f > bound:
                self.lower[s] = f
                return f
            if self.accepting[u] or (u in self.exact and g + self.exact[u] == f):
                self._found(u, f, cost, parent)
                return f
            visited += 1
            if visited > MAX_SEARCH:
                self.exact[s] = NEVER
                return NEVER
            for v in set(self.successors(u).tolist()) - {-1}:
                if g + 1 < cost.get(v, NEVER):
                    cost[v], parent[v] = g + 1, u
                    heapq.heappush(frontier, (g + 1 + self._estimate(v), -(g + 1), v))
        self.exact[s] = NEVER
        return NEVER

    def _found(self, goal: int, total: int, cost: dict[int, int], parent: dict[int, int]
               ) -> None:
        """Every state on a shortest path to acceptance is that path's rest away from it."""
        u = goal
        while u != -1:
            self.exact[u] = total - cost[u]
            u = parent[u]

    def _reach(self, s: int) -> np.ndarray:
        reach = self.reach[s]
        if reach is None:
            row = self.successors(s)
            reach = np.full(row.size, NEVER, dtype=np.int64)
            for v in set(row.tolist()) - {-1}:
                reach[row == v] = self.distance(v, self.horizon)
            self.reach[s] = reach
        return reach

    def allowed(self, states: np.ndarray, room: int) -> np.ndarray:
        out = np.zeros((states.size, len(self.chars)), dtype=bool)
        for s in np.unique(states).tolist():
            out[states == s] = self._reach(s) <= room - 1
        return out

    def step(self, states: np.ndarray, text_ids: np.ndarray) -> np.ndarray:
        pairs = zip(states.tolist(), text_ids.tolist(), strict=True)
        return np.array([self.successors(s)[c] for s, c in pairs], dtype=np.int64)

    def accepts(self, states: np.ndarray) -> np.ndarray:
        return np.array([self.accepting[s] for s in states.tolist()], dtype=bool)

    def start_distance(self, horizon: int) -> int:
        return self.distance(0, horizon)


Automaton = Table | Product


def join(rules: Sequence[Rule], chars: Sequence[str], horizon: int) -> Automaton:
    """The rules as one automaton: the small ones tabulated, any with their own
    `distance` joined to that table lazily."""
    small = [r for r in rules if not hasattr(r, "distance")]
    large = [r for r in rules if hasattr(r, "distance")]
    table = compile_rules(small, chars)
    return Product(table, large, chars, horizon) if large else table
