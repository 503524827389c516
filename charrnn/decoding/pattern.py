"""A regular expression the whole text must match, as a rule over the model's characters.

`pattern_rule(pattern, chars)` gives a `PatternRule`: a deterministic automaton (DFA)
over `chars`, kept as a table `next[state, char]` (-1 where no text going that way can
match: dead states are pruned) and `accepting[state]`, built once and cached. It is a
rule as `charrnn.decoding.automaton` joins them (`start`, `step`, `accepts`).

Syntax and meanings are Python's (`re`), restricted to what an automaton can express,
judged as `re.fullmatch` judges the whole text:
- works: characters and escapes (`\\n`, `\\x41`, `\\u00e9`, `\\N{...}`), classes and
  ranges, `\\w \\d \\s \\W \\D \\S` (Unicode, as in Python), `.` (any character but a
  newline; with `(?s)` a newline too), `* + ? {m} {m,} {,n} {m,n}` and their lazy forms
  (the same texts match either way), alternatives, groups (plain, `(?:...)`, named),
  the flags `i`, `s`, `m`, `u` for the whole pattern or a group (`(?i:...)`,
  `(?-i:...)`), comments `(?#...)`; `^` or `\\A` first and `$` or `\\Z` last (they add
  nothing: the whole text matches anyway).
- refused, in one line naming it: lookahead and lookbehind, backreferences (`\\1`,
  `(?P=name)`), conditional groups, word boundaries (`\\b`, `\\B`), atomic groups and
  possessive quantifiers, anchors anywhere else, the flags `a`, `L` and `x`.

Why interegular, and what is built here (`python bench/pattern_libraries.py` prints the
figures; these are from one run). outlines-core compiles fastest but judged 1,391 of
36,000 strings unlike `re.fullmatch`: it keeps the first alternative that matches
(`the|then` never writes "then"), stops lazy repeats at their shortest, reads
`[a-c--b]` as a set difference and refuses `{,n}`. regex's partial matching has every
Python feature but no automaton: 30 µs to 1.4 ms a generated character, testing each
character against the whole text so far, where a table row takes a few µs; and where
the model's characters cannot finish a match it still offers characters, at every step.
interegular reads Python's syntax and judged every string right, but its `\\w \\d \\s`
are ASCII, `[]a]` and negative lookahead go wrong, `(?-i:(...))` loses its `-i`, and
its FSM builder is quadratic in its states with no bound (`[ab]*a[ab]{12}`, 8,193
states, takes 9 to 13 s). So interegular reads the pattern's structure (groups,
alternatives, repeats); every single-character part (a character, an escape, a class,
`.`) is replaced by the characters it matches, asked of `re` itself under the flags in
force there; and the DFA is built here: a Thompson automaton, its size checked against
MAX_PATTERN_POSITIONS before it is made, then subset construction over the classes of
characters the pattern tells apart, stopped at MAX_PATTERN_STATES (the same 8,193
states: 0.3 s; a pattern past the bound is refused in under a second).
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from charrnn.config import MAX_PATTERN
from charrnn.errors import ConfigError

MAX_PATTERN_STATES = 20_000  # DFA states (a table of 20,000 x 65 characters is 5 MB)
MAX_PATTERN_POSITIONS = 100_000  # states of the automaton the DFA is made from
CACHE_SIZE = 16  # built rules kept (at most 16 x 5 MB of tables)


@dataclass(frozen=True, eq=False)
class PatternRule:
    """`pattern` as a DFA over `chars`: `next[s, i]` is the state after `chars[i]` from
    state s (-1: no text going that way can match, dead states being pruned), and
    `accepting[s]` whether the text so far matches. State 0 is the start."""

    pattern: str
    chars: tuple[str, ...]
    next: np.ndarray = field(repr=False)  # (states, characters) int32
    accepting: np.ndarray = field(repr=False)  # (states,) bool
    index: dict[str, int] = field(repr=False)  # chars[i] -> i
    start: Hashable = 0

    @property
    def states(self) -> int:
        return len(self.accepting)

    def step(self, state: Hashable, c: str) -> Hashable | None:
        i = self.index.get(c)
        if i is None:
            return None
        after = int(self.next[state, i])
        return None if after < 0 else after

    def accepts(self, state: Hashable) -> bool:
        return bool(self.accepting[state])


def pattern_rule(pattern: str, chars: Sequence[str]) -> PatternRule:
    """The rule that the whole text matches `pattern`, over the model's `chars`; built
    once per (pattern, chars) and cached. What cannot be built is one ConfigError with
    field "pattern"."""
    _check_length(pattern)
    return _cached(pattern, tuple(chars))


@functools.lru_cache(maxsize=CACHE_SIZE)
def _cached(pattern: str, chars: tuple[str, ...]) -> PatternRule:
    return build_pattern_rule(pattern, chars)


def build_pattern_rule(pattern: str, chars: Sequence[str]) -> PatternRule:
    """`pattern_rule` without the cache (the benchmark times it)."""
    _check_length(pattern)
    chars = tuple(chars)
    tree, parts = _parsed(pattern, chars)
    nfa = _Nfa(chars, parts)
    start, end = nfa.build(tree)
    by_class, accepting, class_of = _determinised(nfa, start, end, len(chars))
    live = _productive(by_class, accepting)
    if not live[0]:
        raise _refused("no text of the model's characters can match it"
                       + _needs(nfa, start, end, len(chars)))
    by_class, accepting = _pruned(by_class, accepting, live)
    table = np.ascontiguousarray(by_class[:, class_of])
    table.setflags(write=False)
    accepting.setflags(write=False)
    return PatternRule(pattern, chars, table, accepting, {c: i for i, c in enumerate(chars)})


def _refused(why: str) -> ConfigError:
    return ConfigError(f"pattern: {why}", field="pattern")


def _check_length(pattern: object) -> None:
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        raise _refused(f"takes a regular expression of at most {MAX_PATTERN:,} characters")


# ---- reading: Python's checks, then the pattern rewritten for interegular's parser ----

def _parsed(pattern: str, chars: tuple[str, ...]):
    """interegular's tree of the pattern, each single-character part in it a stand-in
    character, and what each stand-in matches."""
    import interegular

    try:
        flags = re.compile(pattern).flags
    except (re.error, RecursionError, OverflowError) as e:
        raise _refused(f"not a valid regular expression: {e}") from None
    rewriter = _Rewriter(pattern, chars, flags)
    try:
        tree = interegular.parse_pattern(rewriter.rewrite())
    except RecursionError:
        raise _refused("groups nested too deeply") from None
    except ConfigError:  # the rewriter's own, already one line
        raise
    except Exception as e:  # interegular's Unsupported, InvalidSyntax, ...
        why = str(e) or type(e).__name__
        raise _refused(f"cannot be made an automaton: {why}") from None
    return tree, rewriter.parts


_ESCAPED = {"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_QUANTIFIER = re.compile(r"\{[0-9]*(,[0-9]*)?\}")
_FLAGS = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])")
_ASCII = tuple(chr(i) for i in range(128))


class _Rewriter:
    """The pattern as interegular should read it: its structure (groups, alternatives,
    repeats) kept, and every single-character part (a character, an escape, a class,
    `.`) replaced by a stand-in character (from the private use area) for the characters
    it matches, asked of `re` itself with the flags in force there, among the model's
    characters, ASCII and the characters the part names (those only to say what a
    pattern that cannot match needs). So every meaning is Python's, and interegular
    sees neither flags nor long classes. Anchors at the ends go; what an automaton
    cannot do is refused by name."""

    def __init__(self, pattern: str, chars: tuple[str, ...], flags: int):
        self.p, self.i, self.out = pattern, 0, []
        self.candidates = tuple(dict.fromkeys(chars + _ASCII))
        private = itertools.chain(range(0xE000, 0xF900), range(0xF0000, 0x10FFFE))
        self.stand_ins = (chr(c) for c in private if chr(c) not in chars)
        self.parts: dict[str, tuple[str, ...]] = {}  # stand-in -> the characters it matches
        # the flags in force in each open group (the whole pattern's as Python reads them)
        self.scopes = [("i" if flags & re.IGNORECASE else "") + ("s" if flags & re.DOTALL else "")]
        self.seen: dict[tuple[str, str], str] = {}
        self.at_first = True  # nothing read yet but flags for the whole pattern

    def rewrite(self) -> str:
        while self.i < len(self.p):
            self.token()
        return "".join(self.out)

    def emit(self, text: str, flags_only: bool = False) -> None:
        self.out.append(text)
        self.at_first = self.at_first and flags_only

    def matching(self, source: str, named: tuple[str, ...] = ()) -> str:
        """The stand-in for the single-character regex `source` under the flags in
        force."""
        flags = self.scopes[-1]
        key = (flags, source)
        if key not in self.seen:
            test = re.compile(f"(?{flags}){source}" if flags else source)
            stand_in = self.seen[key] = next(self.stand_ins)
            self.parts[stand_in] = tuple(c for c in dict.fromkeys(self.candidates + named)
                                         if test.fullmatch(c))
        return self.seen[key]

    def token(self) -> None:
        p, i = self.p, self.i
        c = p[i]
        if c == "[":
            self.char_class()
        elif c == "(":
            self.group()
        elif c == ")":
            self.i += 1
            self.scopes.pop()
            self.emit(c)
        elif c == "\\":
            self.escape_outside()
        elif c in "*+?":
            self.i += 1
            self.emit(c)
            self.after_quantifier()
        elif c == "{" and (m := _QUANTIFIER.match(p, i)) and m.group() != "{}":
            self.i = m.end()
            self.emit(m.group())
            self.after_quantifier()
        elif c in "^$":
            self.anchor(start=c == "^", width=1)
        elif c == "|":
            self.i += 1
            self.emit(c)
        else:  # `.` or a character that stands for itself
            self.i += 1
            self.emit(self.matching(c if c == "." else re.escape(c), (c,)))

    def after_quantifier(self) -> None:
        if self.p.startswith("?", self.i):  # lazy: the same texts match
            self.i += 1
        elif self.p.startswith("+", self.i):
            raise _refused("possessive quantifiers (such as *+) are not supported")

    def anchor(self, start: bool, width: int) -> None:
        past = self.i + width
        if self.at_first if start else past == len(self.p):
            self.i = past
            return
        raise _refused("anchors (^, $, \\A, \\Z) work only at the pattern's ends")

    def group(self) -> None:
        p, i = self.p, self.i
        if not p.startswith("(?", i):
            self.i += 1
            self.scopes.append(self.scopes[-1])
            self.emit("(")
            return
        ahead = p[i + 2: i + 4]
        if ahead.startswith(("=", "!", "<=", "<!")):
            raise _refused("lookahead and lookbehind ((?=...), (?!...), (?<=...), "
                           "(?<!...)) are not supported")
        if ahead.startswith("P="):
            raise _refused("backreferences ((?P=name)) are not supported")
        if ahead.startswith("("):
            raise _refused("conditional groups ((?(...)...)) are not supported")
        if ahead.startswith(">"):
            raise _refused("atomic groups ((?>...)) are not supported")
        if ahead.startswith("#"):  # a comment
            self.i = p.index(")", i) + 1
            return
        if ahead.startswith((":", "P<")):  # a group that does not capture, or a named one
            self.i = i + 3 if ahead.startswith(":") else p.index(">", i) + 1
            self.scopes.append(self.scopes[-1])
            self.emit("(?:")
            return
        m = _FLAGS.match(p, i)
        added, removed, close = m.group(1), m.group(2) or "", m.group(3)
        unsupported = sorted(set(added + removed) - set("imsu"))
        if unsupported:
            raise _refused(f"the flag(s) {', '.join(unsupported)} are not supported "
                           "(only i, m and s)")
        self.i = m.end()
        if close == ")":  # flags for the whole pattern: already in scopes[0]
            return
        flags = {*self.scopes[-1], *added} - set(removed)
        self.scopes.append("".join(sorted(flags & {"i", "s"})))
        self.emit("(?:")

    def escape_outside(self) -> None:
        p, i = self.p, self.i
        d = p[i + 1]
        if d == "A":
            return self.anchor(start=True, width=2)
        if d == "Z":
            return self.anchor(start=False, width=2)
        if d in "bB":
            raise _refused(f"word boundaries (\\{d}) are not supported")
        if d in "123456789" and not re.match(r"[0-3][0-7]{2}", p[i + 1: i + 4]):
            raise _refused(f"backreferences (\\{re.match(r'[0-9]+', p[i + 1:]).group()}) "
                           "are not supported")
        if d in "wWdDsS":
            self.i += 2
            return self.emit(self.matching(p[i: i + 2]))
        c, self.i = self.escaped(i, in_class=False)
        self.emit(self.matching(p[i: self.i], (c,)))

    def escaped(self, i: int, in_class: bool) -> tuple[str, int]:
        """The character the escape at p[i] names, and where it ends (re has checked
        it: a \\w-like class or an anchor never gets here)."""
        p = self.p
        d = p[i + 1]
        if d in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[d]
            return chr(int(p[i + 2: i + 2 + width], 16)), i + 2 + width
        if d == "N":
            close = p.index("}", i)
            return unicodedata.lookup(p[i + 3: close]), close + 1
        if d in "0123456789":  # an octal escape: \0, \0oo, \ooo, and in a class \o or \oo
            digits = re.match(r"0[0-7]{0,2}|[0-7]{1,3}", p[i + 1: i + 4]).group()
            return chr(int(digits, 8)), i + 1 + len(digits)
        if in_class and d == "b":
            return "\b", i + 2
        return _ESCAPED.get(d, d), i + 2

    def char_class(self) -> None:
        """A class, found to its end (the characters it names, and its ranges' ends,
        kept to say what a pattern that cannot match needs)."""
        p, start = self.p, self.i
        self.i += 1 + p.startswith("^", self.i + 1)
        named: list[str] = []
        first = True
        while first or p[self.i] != "]":
            first = False
            if p[self.i] == "\\" and p[self.i + 1] in "wWdDsS":
                self.i += 2
                continue
            named.append(self.class_char())
            if p[self.i] == "-" and p[self.i + 1] != "]":
                self.i += 1
                named.append(self.class_char())
        self.i += 1
        self.emit(self.matching(p[start: self.i], tuple(named)))

    def class_char(self) -> str:
        if self.p[self.i] == "\\":
            c, self.i = self.escaped(self.i, in_class=True)
            return c
        self.i += 1
        return self.p[self.i - 1]


# ---- the automaton: Thompson's construction from the tree, then subset construction ----


class _Nfa:
    """An automaton with empty moves: `moves[s]` is a list of (mask, target), the mask a
    bit per character of `alphabet` (the model's characters, then others the pattern
    names); `empty[s]` the targets of s's empty moves."""

    def __init__(self, chars: tuple[str, ...], parts: dict[str, tuple[str, ...]]):
        known = set(chars)
        others = sorted({c for found in parts.values() for c in found if c not in known})
        self.alphabet = chars + tuple(others[:256])
        bit = {c: 1 << i for i, c in enumerate(self.alphabet)}
        self.masks = {s: sum(bit.get(c, 0) for c in found) for s, found in parts.items()}
        self.everything = (1 << len(self.alphabet)) - 1
        self.moves: list[list[tuple[int, int]]] = []
        self.empty: list[list[int]] = []

    def state(self) -> int:
        self.moves.append([])
        self.empty.append([])
        return len(self.moves) - 1

    def build(self, tree) -> tuple[int, int]:
        size = _size(tree)
        if size > MAX_PATTERN_POSITIONS:
            raise _refused(f"needs an automaton of {size:,} positions, more than "
                           f"{MAX_PATTERN_POSITIONS:,}; use smaller repeat counts")
        return self.fragment(tree)

    def fragment(self, node) -> tuple[int, int]:
        """(start, end) of the states that match `node`."""
        kind = type(node).__name__
        if kind == "Pattern":
            start, end = self.state(), self.state()
            for option in node.options:
                a, b = self.fragment(option)
                self.empty[start].append(a)
                self.empty[b].append(end)
            return start, end
        if kind == "_Concatenation":
            start = end = self.state()
            for part in node.parts:
                a, b = self.fragment(part)
                self.empty[end].append(a)
                end = b
            return start, end
        if kind == "_Repeated":
            return self.repeated(node)
        if kind == "_CharGroup":  # stand-ins (only ever one: the pattern has no classes)
            start, end = self.state(), self.state()
            mask = 0
            for c in node.chars:
                mask |= self.masks[c]
            self.moves[start].append((self.everything & ~mask if node.negated else mask, end))
            return start, end
        if kind == "__EmptyCls":
            start = self.state()
            return start, start
        raise _refused(f"cannot be made an automaton (it holds {kind.strip('_')})")

    def repeated(self, node) -> tuple[int, int]:
        start = end = self.state()
        for _ in range(node.min):
            a, b = self.fragment(node.base)
            self.empty[end].append(a)
            end = b
        if node.max is None:  # a loop: any number more
            loop = self.state()
            a, b = self.fragment(node.base)
            self.empty[end].append(loop)
            self.empty[loop].append(a)
            self.empty[b].append(loop)
            return start, loop
        if node.max == node.min:
            return start, end
        final = self.state()  # each optional copy may be the last (short closures)
        for _ in range(node.max - node.min):
            a, b = self.fragment(node.base)
            self.empty[end] += [a, final]
            end = b
        self.empty[end].append(final)
        return start, final

    def closure(self, states) -> frozenset[int]:
        seen = set(states)
        stack = list(seen)
        while stack:
            for t in self.empty[stack.pop()]:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        return frozenset(seen)


def _size(node) -> int:
    """How many states `_Nfa.fragment` makes for `node`."""
    kind = type(node).__name__
    if kind == "Pattern":
        return 2 + sum(_size(o) for o in node.options)
    if kind == "_Concatenation":
        return 1 + sum(_size(p) for p in node.parts)
    if kind == "_Repeated":
        copies = node.min + 1 if node.max is None else node.max
        return 2 + copies * (_size(node.base) + 1)
    return 2


def _determinised(nfa: _Nfa, start: int, end: int,
                  size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Subset construction over the first `size` characters of the alphabet (the
    model's), by classes of characters no move tells apart: the (states, classes) int32
    table (-1: no move), which states accept, and each character's class; more than
    MAX_PATTERN_STATES states is refused."""
    masks = sorted({m for moves in nfa.moves for m, _ in moves})
    signature = [tuple(m >> i & 1 for m in masks) for i in range(size)]
    classes = {s: k for k, s in enumerate(dict.fromkeys(signature))}
    class_of = np.array([classes[s] for s in signature], dtype=np.int64)
    members = {m: [k for s, k in classes.items() if s[j]] for j, m in enumerate(masks)}
    first = nfa.closure([start])
    index, sets, rows = {first: 0}, [first], []
    while len(rows) < len(sets):
        targets: dict[int, set[int]] = {}
        for s in sets[len(rows)]:
            for m, t in nfa.moves[s]:
                for k in members[m]:
                    targets.setdefault(k, set()).add(t)
        row = np.full(len(classes), -1, dtype=np.int32)
        for k, reached in targets.items():
            after = nfa.closure(reached)
            if after not in index:
                if len(sets) >= MAX_PATTERN_STATES:
                    raise _refused(f"needs more than {MAX_PATTERN_STATES:,} automaton states "
                                   "over the model's characters; simplify it (a repeat "
                                   "after an open-ended one multiplies states)")
                index[after] = len(sets)
                sets.append(after)
            row[k] = index[after]
        rows.append(row)
    accepting = np.array([end in s for s in sets], dtype=bool)
    return np.stack(rows), accepting, class_of


def _productive(table: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """Which states some text leads from to an accepting state (backwards breadth-first)."""
    before: list[list[int]] = [[] for _ in range(len(accepting))]
    for s, row in enumerate(table.tolist()):
        for t in set(row):
            if t >= 0:
                before[t].append(s)
    live = accepting.copy()
    queue = deque(np.flatnonzero(live).tolist())
    while queue:
        for s in before[queue.popleft()]:
            if not live[s]:
                live[s] = True
                queue.append(s)
    return live


def _pruned(table: np.ndarray, accepting: np.ndarray,
            live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Only the live states (the start, state 0, among them), renumbered."""
    renumber = np.where(live, np.cumsum(live) - 1, -1).astype(np.int32)
    table = np.where(table >= 0, renumber[np.maximum(table, 0)], -1)[live]
    return np.ascontiguousarray(table, dtype=np.int32), accepting[live]


def _needs(nfa: _Nfa, start: int, end: int, size: int) -> str:
    """Which characters the model lacks that a match needs (the fewest on any path of
    the automaton, by a 0-1 breadth-first search), said as a clause; "" if none would do."""
    model = (1 << size) - 1
    cost = {start: 0}
    came: dict[int, tuple[int, str | None]] = {}
    queue = deque([start])
    while queue:
        s = queue.popleft()
        steps = [(t, 0, None) for t in nfa.empty[s]]
        for m, t in nfa.moves[s]:
            if m & model:
                steps.append((t, 0, None))
            elif m:
                steps.append((t, 1, nfa.alphabet[(m & -m).bit_length() - 1]))
        for t, extra, c in steps:
            if cost[s] + extra < cost.get(t, 1 << 30):
                cost[t] = cost[s] + extra
                came[t] = (s, c)
                (queue.appendleft if extra == 0 else queue.append)(t)
    if end not in cost:
        return ""
    path, s = [], end
    while s != start:
        s, c = came[s]
        path.append(c)
    needed = [c for c in dict.fromkeys(reversed(path)) if c is not None][:3]
    return f" (it needs {' and '.join(map(repr, needed))}, which the model never saw)"
