"""Turning a Python regular expression into an automaton over a model's characters: the
candidate libraries side by side in one run, so that `--pattern`'s choice follows from
the figures.

- interegular: `parse_pattern(p).to_fsm()`, its FSM tabulated over the characters;
- outlines-core: an `Index` over a vocabulary of one token per character;
- regex: partial matching, `fullmatch(text + c, partial=True)` for every character at
  each step; it gives no automaton, so its cost is per generated character;
- charrnn: `charrnn.decoding.pattern` (interegular's parse tree, the DFA built there
  with bounds), what `--pattern` uses.

Every DFA is tabulated over the characters and pruned of the states from which no text
of them can match (a rule needs both; the times include them). Sections:
1. compile time and DFA states per pattern, over 29 characters and over Tiny
   Shakespeare's 65; regex's cost per generated character beside a DFA's;
2. which Python features each accepts, and whether what it accepts matches as
   `re.fullmatch` does (every string of up to 3 characters over the feature's own);
3. agreement with `re.fullmatch` on random strings, on strings walked through every
   library's DFA (each completed by the shortest way to a match) and on one-character
   edits of those; and how often regex offers a character after which no text of the
   model's characters can finish a match (a dead end for the sampler);
4. state blow-up: `[ab]*a[ab]{n}` needs 2^(n+1) states.

    pip install interegular outlines-core regex
    python bench/pattern_libraries.py
    python bench/pattern_libraries.py --strings 5000 --seed 1
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import statistics
import time
import warnings
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import interegular
import numpy as np
import outlines_core
import regex

from charrnn.decoding.pattern import build_pattern_rule
from charrnn.errors import ConfigError

LETTERS = "\n .abcdefghijklmnopqrstuvwxyz"
SHAKESPEARE = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
WORDS = ("the they their there then a an and all are as at he her his him i in is it to "
         "too of on one or for from was were with which we be been by had have not you")
assert len(WORDS.split()) == 40
SOME = "(the|then|there|a|an|and|to|too|in|into)"
PATTERNS = {
    "date": r"\d{4}-\d{2}-\d{2}",
    "sentence": r"[A-Z][a-z]+( [a-z]+)*\.",
    "words": SOME + "( " + SOME + ")*",
    "repeats": r"(ab|cd)*e{2,5}",
    "40 words": "(" + WORDS.replace(" ", "|") + ")",
    "ignore case": r"(?i)the .*",
    "email-like": r"[\w.]+@[a-z]+\.(com|org|net)",
}

# feature: (pattern, characters its probe strings are made of)
FEATURE_CHARS = "".join(sorted(set(SHAKESPEARE + "0123456789_]é²")))
FEATURES = {
    "classes [a-c] [^a-c]": (r"[a-c]+[^a-c]", "abd\n"),
    r"\w \d \s": (r"\w+\s\d", "a_ 3-"),
    r"\w Unicode (é ²)": (r"\w+", "é²-a"),
    "{m,n} {,n}": (r"a{2,3}b{,2}", "ab"),
    "non-greedy": (r"(a|b)+?c*?", "abc"),
    "shared prefixes": (r"the|then|there", "thenr"),
    "(?i)": (r"(?i)the", "tThHeE"),
    "(?-i:(...))": (r"(?i)(?-i:(a))b", "aAbB"),
    ". and (?s).": (r"a.b|(?s:c.d)", "abcd\n"),
    "named groups": (r"(?P<w>ab)+", "ab"),
    "class [a-c--b]": (r"[a-c--b]+", "abc-"),
    "class []a]": (r"[]a]+", "]ab"),
    "lookahead": (r"(?=ab)a.", "abc"),
    "negative lookahead": (r"(?!th)[a-z]+", "thx"),
    "lookbehind": (r"a(?<=a)b", "ab"),
    "backreference": (r"(a|b)\1", "ab"),
    "anchors ^ $": (r"^ab$", "ab"),
    r"\b": (r"a\b b", "ab "),
}


@dataclass
class Dfa:
    """A DFA over a list of characters: `next[s, i]` (-1: no match can follow), state 0
    the start; no states at all where nothing can match."""

    next: np.ndarray
    accepting: np.ndarray

    @property
    def states(self) -> int:
        return len(self.accepting)

    def run(self, ids: list[int]) -> int:
        s = 0 if self.states else -1
        for i in ids:
            if s < 0:
                break
            s = int(self.next[s, i])
        return s

    def accepts(self, ids: list[int]) -> bool:
        s = self.run(ids)
        return s >= 0 and bool(self.accepting[s])

    def goal(self) -> np.ndarray:
        """Each state's next character on a shortest way to a match (-1 at a match)."""
        towards = np.full(self.states, -2)
        towards[self.accepting] = -1
        queue = deque(np.flatnonzero(self.accepting).tolist())
        while queue:
            t = queue.popleft()
            for s, i in zip(*np.nonzero((self.next == t) & (towards[:, None] == -2)), strict=True):
                if towards[s] == -2:
                    towards[s] = i
                    queue.append(s)
        return towards


def tabulated(start: Hashable, move: Callable[[Hashable, int], Hashable | None],
              final: Callable[[Hashable], bool], size: int) -> Dfa:
    """The states reachable from `start` over `size` characters, without the dead."""
    index, order, rows = {start: 0}, [start], []
    while len(rows) < len(order):
        row = [-1] * size
        for i in range(size):
            t = move(order[len(rows)], i)
            if t is not None:
                row[i] = index.setdefault(t, len(order))
                if row[i] == len(order):
                    order.append(t)
        rows.append(row)
    table = np.array(rows, dtype=np.int32).reshape(len(rows), size)
    return pruned(table, np.array([bool(final(s)) for s in order]))


def pruned(table: np.ndarray, accepting: np.ndarray) -> Dfa:
    live = accepting.copy()
    while True:
        more = live | ((table >= 0) & live[np.maximum(table, 0)]).any(axis=1)
        if (more == live).all():
            break
        live = more
    if not live[0]:
        return Dfa(np.zeros((0, table.shape[1]), np.int32), np.zeros(0, bool))
    renumber = np.where(live, np.cumsum(live) - 1, -1)
    return Dfa(np.where(table >= 0, renumber[np.maximum(table, 0)], -1)[live].astype(np.int32),
               accepting[live])


def interegular_dfa(pattern: str, chars: str) -> Dfa:
    fsm = interegular.parse_pattern(pattern).to_fsm()
    keys = [fsm.alphabet[c] for c in chars]
    return tabulated(fsm.initial, lambda s, i: fsm.map.get(s, {}).get(keys[i]),
                     lambda s: s in fsm.finals, len(chars))


def outlines_dfa(pattern: str, chars: str) -> Dfa:
    vocabulary = outlines_core.Vocabulary(len(chars), {c: [i] for i, c in enumerate(chars)})
    index = outlines_core.Index(pattern, vocabulary)
    moves = index.get_transitions()
    return tabulated(index.get_initial_state(), lambda s, i: moves.get(s, {}).get(i),
                     index.is_final_state, len(chars))


def charrnn_dfa(pattern: str, chars: str) -> Dfa:
    try:
        rule = build_pattern_rule(pattern, chars)
    except ConfigError as e:
        if "no text" in str(e):  # nothing can match: an empty DFA, as the others give
            return Dfa(np.zeros((0, len(chars)), np.int32), np.zeros(0, bool))
        raise
    return Dfa(rule.next, rule.accepting)


LIBRARIES = {"interegular": interegular_dfa, "outlines-core": outlines_dfa,
             "charrnn": charrnn_dfa}


def timed(build: Callable, *args, repeat: int = 3) -> tuple[object, float]:
    """(the result, or the exception raised) and the median seconds of `repeat` calls."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            result = build(*args)
        except Exception as e:  # a library's refusal is a result here
            result = e
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def cell(result: object, seconds: float) -> str:
    if isinstance(result, Exception):
        return f"refused ({seconds * 1e3:.1f} ms)"
    return f"{seconds * 1e3:7.1f} ms {result.states:5} st"


def regex_step_cost(pattern: str, chars: str, dfa: Dfa, rng: random.Random,
                    steps: int = 100) -> tuple[float, float, int]:
    """µs per generated character: regex testing every character at each step, and a DFA
    reading its row, along one walk regex guides (until it allows nothing)."""
    compiled, text, state, states = regex.compile(pattern), "", 0, []
    start = time.perf_counter()
    for _ in range(steps):
        allowed = [c for c in chars if compiled.fullmatch(text + c, partial=True)]
        if not allowed:
            break
        c = rng.choice(allowed)
        text += c
        if dfa.states and state >= 0:
            states.append(state)
            state = int(dfa.next[state, chars.index(c)])
    regex_s = time.perf_counter() - start
    start = time.perf_counter()
    for state in states:  # the same steps, through the DFA's table
        np.flatnonzero(dfa.next[state] >= 0)
    dfa_s = time.perf_counter() - start
    return regex_s / max(len(text), 1) * 1e6, dfa_s / max(len(states), 1) * 1e6, len(text)


def section_compile(rng: random.Random) -> dict[tuple[str, str], dict[str, object]]:
    print("1. compile time (median of 3; tabulated over the characters, dead states pruned)"
          " and DFA states (st);\n   regex: µs per generated character testing every "
          "character, beside a DFA's row lookup, along a walk of up to 100 characters\n")
    print(f"{'pattern':12} {'chars':>5} | {'interegular':>20} | {'outlines-core':>20} | "
          f"{'charrnn':>20} | {'regex µs/char':>13} {'DFA µs/char':>11} {'walk':>4}")
    built, slowest = {}, dict.fromkeys(LIBRARIES, 0.0)
    for (name, pattern), chars in itertools.product(PATTERNS.items(), (LETTERS, SHAKESPEARE)):
        results = {lib: timed(build, pattern, chars) for lib, build in LIBRARIES.items()}
        built[name, chars] = {lib: r for lib, (r, _) in results.items()}
        for lib, (_, seconds) in results.items():
            slowest[lib] = max(slowest[lib], seconds)
        truth = results["charrnn"][0]
        per_regex, per_dfa, walked = regex_step_cost(pattern, chars, truth, rng)
        cells = " | ".join(f"{cell(*results[lib]):>20}" for lib in LIBRARIES)
        print(f"{name:12} {len(chars):5} | {cells} | {per_regex:13.1f} {per_dfa:11.1f} "
              f"{walked:4}")
    return built, slowest


def probes(alphabet: str, longest: int = 3) -> list[str]:
    return ["".join(t) for n in range(longest + 1) for t in itertools.product(alphabet, repeat=n)]


def section_features() -> dict[str, dict[str, str]]:
    print("\n2. Python features: refused, ok (every probe judged as re.fullmatch judges it)"
          " or wrong (probes judged otherwise / probes)\n")
    print(f"{'feature':22} | {'interegular':>14} | {'outlines-core':>14} | {'charrnn':>14} | "
          f"{'regex':>14}")
    index = {c: i for i, c in enumerate(FEATURE_CHARS)}
    verdicts = {}
    for name, (pattern, alphabet) in FEATURES.items():
        texts = probes(alphabet)
        truth = [bool(re.fullmatch(pattern, t)) for t in texts]
        row = {}
        for lib, build in LIBRARIES.items():
            try:
                dfa = build(pattern, FEATURE_CHARS)
            except Exception:
                row[lib] = "refused"
                continue
            wrong = sum(dfa.accepts([index[c] for c in t]) != want
                        for t, want in zip(texts, truth, strict=True))
            row[lib] = "ok" if not wrong else f"wrong {wrong}/{len(texts)}"
        try:
            compiled = regex.compile(pattern)
            wrong = sum(bool(compiled.fullmatch(t)) != want for t, want in zip(texts, truth,
                                                                               strict=True))
            row["regex"] = ("ok" if not wrong else f"wrong {wrong}/{len(texts)}") + " (no DFA)"
        except regex.error:
            row["regex"] = "refused"
        verdicts[name] = row
        print(f"{name:22} | " + " | ".join(f"{row[lib]:>14}" for lib in (*LIBRARIES, "regex")))
    return verdicts


def section_correctness(built, strings: int, rng: random.Random) -> dict[str, list[int]]:
    print(f"\n3. agreement with re.fullmatch: wrong / strings judged ({strings:,} random, 300 "
          "walked per DFA library and completed, 300 edits);\n   regex: steps at which it "
          "offered a dead-end character / steps walked (truth: charrnn's DFA)\n")
    print(f"{'pattern':12} {'chars':>5} | {'interegular':>14} | {'outlines-core':>14} | "
          f"{'charrnn':>14} | {'regex dead ends':>15}")
    totals = {lib: [0, 0] for lib in LIBRARIES}
    for (name, chars), results in built.items():
        pattern = PATTERNS[name]
        pool = [[rng.randrange(len(chars)) for _ in range(rng.randint(0, 12))]
                for _ in range(strings)]
        walked = [w for r in results.values() if isinstance(r, Dfa)
                  for w in walks(r, rng, 300)]
        edits = [edit(rng.choice(walked), len(chars), rng) for _ in range(300)] if walked else []
        pool += walked + edits
        truth = [bool(re.fullmatch(pattern, "".join(chars[i] for i in ids))) for ids in pool]
        cells = []
        for lib, dfa in results.items():
            if isinstance(dfa, Exception):
                cells.append("refused")
                continue
            wrong = sum(dfa.accepts(ids) != want for ids, want in zip(pool, truth, strict=True))
            totals[lib][0] += wrong
            totals[lib][1] += len(pool)
            cells.append(f"{wrong}/{len(pool)}")
        dead, steps = regex_dead_ends(pattern, chars, results["charrnn"], rng)
        print(f"{name:12} {len(chars):5} | " + " | ".join(f"{c:>14}" for c in cells)
              + f" | {dead:>7}/{steps:<7}")
    return totals


def walks(dfa: Dfa, rng: random.Random, count: int) -> list[list[int]]:
    """Random walks through the DFA's live states, each completed by a shortest way to
    a match (so each should full-match)."""
    if not dfa.states:
        return []
    towards, out = dfa.goal(), []
    for _ in range(count):
        s, ids = 0, []
        for _ in range(rng.randint(0, 12)):
            options = np.flatnonzero(dfa.next[s] >= 0)
            if not options.size:
                break
            ids.append(int(rng.choice(options.tolist())))
            s = int(dfa.next[s, ids[-1]])
        while towards[s] >= 0:
            ids.append(int(towards[s]))
            s = int(dfa.next[s, ids[-1]])
        out.append(ids)
    return out


def edit(ids: list[int], size: int, rng: random.Random) -> list[int]:
    ids, at = list(ids), rng.randint(0, len(ids))
    kind = rng.choice(("insert", "delete", "replace") if ids else ("insert",))
    if kind == "insert":
        ids.insert(at, rng.randrange(size))
    elif kind == "delete":
        del ids[min(at, len(ids) - 1)]
    else:
        ids[min(at, len(ids) - 1)] = rng.randrange(size)
    return ids


def regex_dead_ends(pattern: str, chars: str, truth: Dfa, rng: random.Random,
                    count: int = 30, longest: int = 20) -> tuple[int, int]:
    compiled, dead, steps = regex.compile(pattern), 0, 0
    for _ in range(count):
        text, s = "", 0 if truth.states else -1
        for _ in range(longest):
            allowed = [i for i, c in enumerate(chars) if compiled.fullmatch(text + c, partial=True)]
            if not allowed:
                break
            steps += 1
            dead += any(s < 0 or truth.next[s, i] < 0 for i in allowed)
            i = rng.choice(allowed)
            text, s = text + chars[i], int(truth.next[s, i]) if s >= 0 else -1
    return dead, steps


def section_blowup(largest: int, interegular_largest: int) -> None:
    print("\n4. blow-up: [ab]*a[ab]{n} over 29 characters (2^(n+1) states; charrnn stops at "
          "its bound, 20,000)\n")
    print(f"{'n':>3} | {'interegular':>20} | {'outlines-core':>20} | {'charrnn':>20}")
    for n in range(6, largest + 1, 2):
        pattern, cells = f"[ab]*a[ab]{{{n}}}", []
        for lib, build in LIBRARIES.items():
            if lib == "interegular" and n > interegular_largest:
                cells.append("not run")
                continue
            cells.append(cell(*timed(build, pattern, LETTERS, repeat=1)))
        print(f"{n:3} | " + " | ".join(f"{c:>20}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strings", type=int, default=2000, help="random strings a pattern")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blowup", type=int, default=14, help="largest n in section 4")
    parser.add_argument("--interegular-blowup", type=int, default=12,
                        help="largest n for interegular (each 2 more is ~16x slower)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", FutureWarning)  # re's "possible set difference"
    rng = random.Random(args.seed)
    built, slowest = section_compile(rng)
    verdicts = section_features()
    totals = section_correctness(built, args.strings, rng)
    section_blowup(args.blowup, args.interegular_blowup)
    print("\nsummary: wrong judgements in section 3, features judged right (accepted and "
          "ok) in section 2, slowest compile in section 1")
    right = {lib: sum(v[lib] == "ok" for v in verdicts.values()) for lib in LIBRARIES}
    wrong_features = {lib: sum(v[lib].startswith("wrong") for v in verdicts.values())
                      for lib in LIBRARIES}
    for lib, (wrong, judged) in totals.items():
        print(f"  {lib:14} {wrong:6,} wrong of {judged:,}; {right[lib]}/{len(FEATURES)} "
              f"features right, {wrong_features[lib]} wrong; slowest {slowest[lib] * 1e3:.1f} ms")
    print("  regex          no automaton: its cost is per character (section 1) and it "
          "walks into dead ends (section 3)")
    best = min(LIBRARIES, key=lambda lib: (totals[lib][0] + wrong_features[lib], -right[lib],
                                           slowest[lib]))
    print(f"choice (fewest wrong judgements, then most features, then fastest): {best}")


if __name__ == "__main__":
    main()
