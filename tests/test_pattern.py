"""--pattern's rule (issue 38): a DFA over the model's characters that judges every text
as `re.fullmatch` judges it, from which every state can still reach a match, and one
clear error naming the field for a pattern it cannot be."""

from __future__ import annotations

import itertools
import random
import re
from collections import deque

import numpy as np
import pytest

from charrnn.decoding import pattern as pattern_module
from charrnn.decoding.pattern import MAX_PATTERN, build_pattern_rule, pattern_rule
from charrnn.errors import ConfigError

LETTERS = "\n .abcdefghijklmnopqrstuvwxyz"
SHAKESPEARE = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
WORDS = "(the|then|there|a|an|and|to|too|in|into)"
PATTERNS = [
    r"\d{4}-\d{2}-\d{2}",  # over Tiny Shakespeare's characters: "3333-33-33"
    r"[A-Z][a-z]+( [a-z]+)*\.",
    WORDS + "( " + WORDS + ")*",
    r"(ab|cd)*e{2,5}",
    r"(?i)the .*",
    r"^(a|b)+?c{,2}$",
    r"[^a-z ]+\.?|(?s:x.y)",
    r"(?P<first>[a-c]+)\n(?:[a-c]{2,})?",
]


def judged(rule, text: str) -> bool:
    """Whether the rule accepts `text`, read one character at a time."""
    state = rule.start
    for c in text:
        state = rule.step(state, c)
        if state is None:
            return False
    return rule.accepts(state)


def towards_match(rule) -> np.ndarray:
    """Each state's next character index on a shortest way to a match (-1: a match;
    -2: none, which pruning must leave nowhere)."""
    towards = np.full(rule.states, -2)
    towards[rule.accepting] = -1
    queue = deque(np.flatnonzero(rule.accepting).tolist())
    while queue:
        t = queue.popleft()
        for s, i in zip(*np.nonzero(rule.next == t), strict=True):
            if towards[s] == -2:
                towards[s] = i
                queue.append(s)
    return towards


def walks(rule, rng: random.Random, count: int) -> list[str]:
    """Random walks through the rule's states, each finished by a shortest way to a
    match: every one should full-match, and every prefix be judged as re judges it."""
    towards, chars, out = towards_match(rule), rule.chars, []
    for _ in range(count):
        state, text = 0, ""
        for _ in range(rng.randint(0, 15)):
            options = np.flatnonzero(rule.next[state] >= 0).tolist()
            if not options:  # a match nothing can extend
                break
            i = rng.choice(options)
            text, state = text + chars[i], int(rule.next[state, i])
        while towards[state] >= 0:
            text, state = text + chars[towards[state]], int(rule.next[state, towards[state]])
        out.append(text)
    return out


@pytest.mark.parametrize("chars", [LETTERS, SHAKESPEARE], ids=["29 chars", "65 chars"])
@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_rule_judges_every_text_as_re_fullmatch(pattern, chars):
    if chars == LETTERS and pattern in PATTERNS[:2]:  # no digits, no capitals: no match
        with pytest.raises(ConfigError, match="no text of the model's characters"):
            pattern_rule(pattern, chars)
        return
    rule = pattern_rule(pattern, chars)
    rng = random.Random(0)
    assert (towards_match(rule) != -2).all()  # dead states pruned: each can reach a match
    walked = walks(rule, rng, 60)
    assert all(re.fullmatch(pattern, text) for text in walked)
    prefixes = {text[:k] for text in walked for k in range(len(text) + 1)}
    noise = ["".join(rng.choice(chars) for _ in range(rng.randint(0, 10))) for _ in range(300)]
    edits = [t[:k] + rng.choice(chars) + t[k + rng.randint(0, 1):]
             for t in walked for k in [rng.randint(0, len(t))]]
    for text in [*prefixes, *noise, *edits]:
        assert judged(rule, text) == bool(re.fullmatch(pattern, text)), text


@pytest.mark.parametrize("pattern", [r"\w+", r"\d\s\D", r"[\W\d]+", r"(?i)[a-k]+",
                                     r"(?i)s|k|ß|É", r"(?i)a(?-i:b)", r"[^\w\s]*", r"\S."])
def test_classes_and_cases_mean_what_they_mean_in_python(pattern):
    """Unicode \\w \\d \\s (é, ², Arabic-Indic three, no-break space) and case folding,
    the long s and the Kelvin sign among it, judged over every text of up to 2."""
    chars = "\n _-.aAbBeéÉ1²٣\u00a0ſKkSsß"
    rule = pattern_rule(pattern, chars)
    for n in range(3):
        for text in map("".join, itertools.product(chars, repeat=n)):
            assert judged(rule, text) == bool(re.fullmatch(pattern, text)), (pattern, text)


def test_every_alternative_and_every_repeat_count_matches_not_only_the_first():
    words = pattern_rule("the|then|there", LETTERS)
    assert all(judged(words, w) for w in ("the", "then", "there"))
    lazy = pattern_rule("x*?y??", LETTERS)
    assert judged(lazy, "") and judged(lazy, "xxy") and not judged(lazy, "yy")


def test_anchors_at_the_ends_add_nothing_and_dot_keeps_to_a_line():
    plain, anchored = pattern_rule("ab|c", LETTERS), pattern_rule(r"^ab|c$", LETTERS)
    assert (plain.next == anchored.next).all() and (plain.accepting == anchored.accepting).all()
    assert pattern_rule(r"\Aa.b\Z", LETTERS).step(1, "\n") is None
    assert judged(pattern_rule("(?s)a.b", LETTERS), "a\nb")


def test_a_character_the_pattern_can_never_take_is_refused_at_once():
    rule = pattern_rule(r"[a-z]+( [a-z]+)*\.", SHAKESPEARE)
    assert rule.step(rule.start, "A") is None and rule.step(rule.start, "é") is None
    assert rule.step(rule.step(rule.start, "a"), " ") is not None


@pytest.mark.parametrize("pattern, chars, says", [
    ("a(b", LETTERS, "not a valid regular expression: missing )"),
    ("(?=a)a", LETTERS, "lookahead"),
    ("a(?<!b)", LETTERS, "lookbehind"),
    (r"(a)\1", LETTERS, r"backreferences (\1)"),
    ("(?P<x>a)(?P=x)", LETTERS, "backreferences ((?P=name))"),
    (r"\bthe\b", LETTERS, r"word boundaries (\b)"),
    ("a^b", LETTERS, "anchors"),
    ("a$|b", LETTERS, "anchors"),
    ("(?x)a b", LETTERS, "flag(s) x"),
    ("a" * (MAX_PATTERN + 1), LETTERS, "at most 1,000 characters"),
    ("(x{100}){1000}", LETTERS, "positions"),
    ("[A-Z][a-z]+", LETTERS, "needs 'A', which the model never saw"),
    (r"\d{4}-\d{2}", LETTERS, "needs '0' and '-'"),
    ("[^\\s\\S]", SHAKESPEARE, "no text of the model's characters can match it"),
])
def test_what_cannot_be_a_rule_is_one_error_naming_the_field(pattern, chars, says):
    with pytest.raises(ConfigError) as caught:
        pattern_rule(pattern, chars)
    message = str(caught.value)
    assert caught.value.field == "pattern" and message.startswith("pattern: ")
    assert says in message and "\n" not in message


def test_a_pattern_past_the_state_bound_is_refused(monkeypatch):
    monkeypatch.setattr(pattern_module, "MAX_PATTERN_STATES", 300)
    assert build_pattern_rule("[ab]*a[ab]{6}", LETTERS).states == 129
    with pytest.raises(ConfigError, match="more than 300 automaton states") as caught:
        build_pattern_rule("[ab]*a[ab]{8}", LETTERS)  # 513 states
    assert caught.value.field == "pattern"


def test_the_date_pattern_is_eleven_states_and_built_once():
    rule = pattern_rule(r"\d{4}-\d{2}-\d{2}", list(SHAKESPEARE))
    assert rule is pattern_rule(r"\d{4}-\d{2}-\d{2}", tuple(SHAKESPEARE))
    assert rule.states == 11 and rule.next.dtype == np.int32 and not rule.next.flags.writeable
    assert judged(rule, "3333-33-33") and not judged(rule, "3333-33-3")
    assert build_pattern_rule(r"\d{4}-\d{2}-\d{2}", SHAKESPEARE) is not rule
