"""Verse forms (issue 38, item 5): syllables and rhymes from the CMU dictionary, the
Syllables, Rhyme and Acrostic rules (and Verse, the three joined) driven over written
texts, their distances checked against breadth-first search and their completions by
driving them, a walk through the joining engine, and each bad request one error naming
its field."""

from __future__ import annotations

import itertools
import random
import re
from collections import deque

import numpy as np
import pytest

from charrnn import Constraints
from charrnn.decoding.automaton import NEVER, join
from charrnn.decoding.pronunciation import (
    lexicon,
    rhyming_part,
    rule_reach,
    rule_state,
    rule_syllables,
    shortest_word,
    syllables,
)
from charrnn.decoding.verse import (
    MAX_WORD_CHARS,
    Acrostic,
    Rhyme,
    Syllables,
    Verse,
    fewest_chars,
    parse_syllables,
    verse_rules,
)
from charrnn.errors import ConfigError

ENGLISH = "\n abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,!?'"
HAIKU = "An old silent pond\nA frog jumps into the pond\nSplash! Silence again."
QUATRAIN = ("The cat sat on the mat,\nI saw a shining light;\n"
            "And then it wore a hat\nThat glowed into the night.\n")


def drive(rule, text: str):
    """(the index of the character that breaks `rule`, None) or (None, whether the
    whole text is accepted)."""
    state = rule.start
    for i, c in enumerate(text):
        state = rule.step(state, c)
        if state is None:
            return i, None
    return None, rule.accepts(state)


def drive_from(rule, state, text: str):
    """The state after `text` from `state` (None: broken)."""
    for c in text:
        state = rule.step(state, c)
        if state is None:
            return None
    return state


def test_syllables_and_rhyming_parts_of_known_words():
    assert [syllables(w) for w in ("haiku", "the", "fire", "silence", "a", "Pond")] == [
        2, 1, 2, 2, 1, 1]
    assert syllables("hmm") == 1  # no vowel phone: a word says one all the same
    assert rhyming_part("fire") == rhyming_part("HIGHER") == "AY ER"
    assert rhyming_part("day") == rhyming_part("birthday") == "EY"  # stress marks dropped
    assert rhyming_part("light") == rhyming_part("night") != rhyming_part("late")
    assert rhyming_part("qzxvwk") is None and rhyming_part("hmm") is None
    assert "a.d." not in lexicon().sounds and "'em" in lexicon().sounds


def test_unknown_words_follow_the_rule():
    assert syllables("blorptastic") == rule_syllables("blorptastic") == 3
    assert rule_syllables("stone") == 1  # a final silent "e"
    assert rule_syllables("trable") == 2  # ... but not in "le"
    assert rule_syllables("agree") == 2 and rule_syllables("e") == 1
    assert rule_syllables("brrr") == 1  # a word with a letter has one
    assert rule_syllables("7") == 2 and rule_syllables("1999") == 4  # digits say their names
    assert rule_syllables("'") == 0 and rule_syllables("") == 0


def plain_rule(word: str) -> int:
    """The rule as its docstring says it, read directly (the oracle for its machine)."""
    word = word.lower()
    runs = len(re.findall("[aeiouy]+", word))
    if runs > 1 and re.search("(^|[^aeiouyl])e$", word):
        runs -= 1
    total = runs + sum(2 if c in "07" else 1 for c in word if c.isdigit())
    return max(total, 1) if any(c.isalnum() for c in word) else total


def test_the_rule_and_what_extensions_of_a_word_can_say():
    """`rule_syllables` against its plain reading, and `rule_reach` (what Syllables'
    distance leans on) against every extension of a few characters."""
    alphabet = "aeyl'7b1"
    for n in range(5):
        for word in map("".join, itertools.product(alphabet, repeat=n)):
            assert rule_syllables(word) == plain_rule(word), word
    for word in ("", "stone", "tabl", "x'", "e", "ba7"):
        state, said = rule_state(word)
        reach = rule_reach(state, "17")
        for n in range(1, 4):
            for tail in map("".join, itertools.product("aeil'7b4", repeat=n)):
                count = rule_syllables(word + tail)
                assert min((k for (added, sounded), k in reach.items()
                            if max(said + added, int(sounded)) == count), default=99) <= n


def test_shortest_words_bound_every_known_word():
    least: dict[int, int] = {}
    for word, (count, _) in lexicon().sounds.items():
        least[count] = min(least.get(count, 99), len(word))
    for count in range(1, 31):
        assert shortest_word(count) <= least.get(count, 99)
        assert fewest_chars(count) <= shortest_word(count)
    for part, words in list(lexicon().rhymes.items())[:100]:
        assert all(rhyming_part(w) == part for w in words)
        assert [len(w) for w in words] == sorted(len(w) for w in words)


def test_a_haiku_is_accepted_and_a_long_first_line_refused_where_it_ends():
    assert drive(Syllables((5, 7, 5)), HAIKU) == (None, True)
    assert drive(Syllables((5, 7, 5)), HAIKU + "\n") == (None, True)
    assert drive(Syllables((5, 7, 5)), HAIKU + "\nmore")[0] == len(HAIKU) + 1
    assert drive(Syllables((6, 7, 5)), HAIKU)[0] == HAIKU.index("\n")  # 5 said, 6 asked
    six = "An old and silent pond\n" + HAIKU.split("\n", 1)[1]
    assert drive(Syllables((5, 7, 5)), six)[0] == six.index("pond")  # a 6th syllable starts
    assert drive(Syllables((5, 7, 5)), HAIKU[:-9]) == (None, False)  # unfinished
    assert drive(Syllables((5, 7, 5)), "x" * (MAX_WORD_CHARS + 1))[0] == MAX_WORD_CHARS


def test_a_quatrain_rhymes_and_a_non_rhyme_or_a_repeat_is_refused():
    assert drive(Rhyme("ABAB"), QUATRAIN) == (None, True)
    assert drive(Rhyme("ABAB"), QUATRAIN.rstrip("\n")) == (None, True)
    third = QUATRAIN.index("\n", QUATRAIN.index("hat"))
    assert drive(Rhyme("ABAB"), QUATRAIN.replace("hat", "dog"))[0] == third
    assert drive(Rhyme("ABAB"), QUATRAIN.replace("hat", "MAT"))[0] == third  # the same word
    assert drive(Rhyme("ABAB"), QUATRAIN.replace("night.", "night blorp."))[0] == len(
        QUATRAIN) + 5  # its last word unknown: refused where the text would end
    assert drive(Rhyme("ABCB"), QUATRAIN.replace("hat", "dog")) == (None, True)  # C is free
    assert drive(Rhyme("AA"), "a b c\nsee")[1] is True
    assert drive(Rhyme("AA"), "see\nsee")[1] is False


def test_an_acrostic_and_the_forms_together():
    assert drive(Acrostic("Hi"), "hello there\nIt is me\n") == (None, True)
    assert drive(Acrostic("Hi"), "hello there\n It is me")[0] == 12
    assert drive(Acrostic("Hi"), "hello\n")[1] is False
    verse, _ = verse_rules((5, 7, 5), "ABA", "AAS", ENGLISH)  # one rule for the three
    assert isinstance(verse, Verse) and verse.letters == "aas"
    fond = HAIKU.replace("Silence again.", "Water is fond.")
    assert drive(verse, fond) == (None, True)
    assert drive(verse, HAIKU)[1] is False  # "pond" and "again" do not rhyme
    assert all(drive(form, fond) == (None, True) for form in verse.forms)


def true_distances(rule, chars: str, depth: int, reach: int) -> tuple[dict, dict]:
    """Every state within `depth` characters of the start, and the fewest characters from
    each to acceptance where that is at most `reach` (found in states within depth +
    reach, so exact there)."""
    seen, frontier, edges = {rule.start: 0}, deque([rule.start]), {}
    while frontier:
        state = frontier.popleft()
        if seen[state] == depth + reach:
            continue
        edges[state] = [t for t in (rule.step(state, c) for c in chars) if t is not None]
        for t in edges[state]:
            if t not in seen:
                seen[t] = seen[state] + 1
                frontier.append(t)
    before: dict = {}
    for s, targets in edges.items():
        for t in targets:
            before.setdefault(t, []).append(s)
    found = {s: 0 for s in seen if rule.accepts(s)}
    queue = deque(found)
    while queue:
        t = queue.popleft()
        for s in before.get(t, ()):
            if s not in found:
                found[s] = found[t] + 1
                queue.append(s)
    near = {s for s, d in seen.items() if d <= depth}
    return near, {s: d for s, d in found.items() if s in near and d <= reach}


SMALL = [
    (Syllables((2,)), "\n ab", 5, 4),
    (Syllables((1, 2)), "\n atc", 3, 4),
    (Syllables((3, 1), digits="7"), "\n a7", 4, 4),
    (Rhyme("AA"), "\n atc", 3, 3),
    (Rhyme("ABA"), "\n atc", 3, 3),
    (Rhyme("AAB"), "\n a'bt", 2, 4),
    (Verse(Syllables((1, 1), ""), Rhyme("AA"), None), "\n atc", 3, 3),
    (Verse(Syllables((1, 2), ""), None, Acrostic("TA"), "ta"), "\n atcT", 3, 4),
    (Verse(Syllables((1, 1), ""), Rhyme("AA"), Acrostic("cT"), "cT"), "\n atcT", 3, 3),
]


@pytest.mark.parametrize(("rule", "chars", "depth", "reach"), SMALL)
def test_distance_never_overestimates(rule, chars, depth, reach):
    near, exact = true_distances(rule, chars, depth, reach)
    assert len(exact) >= 5  # the search saw states from which the verse can end
    for state in near:
        guess = rule.distance(state)
        if state in exact:
            assert guess <= exact[state], (state, guess, exact[state])
        if guess == NEVER:
            assert state not in exact, state


@pytest.mark.parametrize(("rule", "chars", "depth", "reach"), SMALL)
def test_a_completion_finishes_the_verse(rule, chars, depth, reach):
    """Where a rule writes a completion (the engine's witness), it takes the state to
    acceptance, and is no shorter than the distance said."""
    near, exact = true_distances(rule, chars, depth, 0)
    finished = 0
    for state in near:
        text = rule.completion(state)
        if text is not None:
            after = drive_from(rule, state, text)
            assert after is not None and rule.accepts(after), (state, text)
            assert len(text) >= rule.distance(state), (state, text)
            finished += 1
    assert finished > len(near) / 3


def test_the_forms_together_under_the_engine():
    """Texts walked at random through the joined automaton, each character one it
    allowed, all meet the three forms by the end."""
    chars = list("\n ,abcdeghilmnorstuwyHI")
    verse, gaps = verse_rules((2, 3), "AA", "HI", chars)
    product = join([verse, gaps], chars, 24)
    for seed in range(2):
        chooser, state, text = random.Random(seed), np.array([0]), ""
        for room in range(24, 0, -1):
            allowed = np.flatnonzero(product.allowed(state, room)[0])
            if product.accepts(state)[0] and chooser.random() < 0.2 or not allowed.size:
                break
            i = int(chooser.choice(allowed))
            text, state = text + chars[i], product.step(state, np.array([i]))
        assert all(drive(form, text) == (None, True) for form in verse.forms), text


@pytest.mark.parametrize(("form", "kwargs"), [
    ("rhyme", {"syllables": (5, 7, 5), "rhyme": "ABAB"}),
    ("acrostic", {"syllables": (5, 7), "acrostic": "CAT"}),
    ("syllables", {"syllables": (5, 0, 5)}),
    ("syllables", {"syllables": (31,)}),
    ("syllables", {"syllables": (1,) * 65}),
    ("syllables", {"syllables": (True, 2)}),
    ("rhyme", {"rhyme": "AB1B"}),
    ("rhyme", {"rhyme": "A" * 65}),
    ("acrostic", {"acrostic": "C-AT"}),
    ("syllables", {"syllables": (5, 7, 5), "chars": "abcdefghijklmnopqrstuvwxyz "}),
    ("syllables", {"syllables": (5, 7, 5), "chars": "\n BCDFGHAEIOU"}),
    ("rhyme", {"rhyme": "AA", "chars": "\n bcdfgha"}),
    ("acrostic", {"acrostic": "Quiz", "chars": "\n abcdefghijklmnoprstuvwxyz"}),
])
def test_each_bad_request_is_one_error_naming_its_field(form, kwargs):
    kwargs.setdefault("chars", ENGLISH)
    with pytest.raises(ConfigError) as caught:
        verse_rules(**kwargs)
    assert caught.value.field == form
    assert str(caught.value).startswith(form) and "\n" not in str(caught.value)


def test_a_verse_is_words_with_short_gaps_and_every_word_says_a_syllable():
    """What padded a masked verse before: runs of blanks, asterisks and tabs between
    words, and words of no syllable ("hmm") to fill a line."""
    gaps = verse_rules((3,), chars=ENGLISH)[-1]
    assert drive(gaps, "Oh, the sea!\n  (said he).")[1] is True
    assert drive(gaps, "oh     the sea")[0] == 5  # the fourth blank in a row
    assert drive(gaps, "oh * sea")[0] == 3
    assert drive(gaps, "oh\tsea")[0] == 2
    assert drive(gaps, "'tis the sea's; 'twas")[1] is True
    assert drive(gaps, "oh ' ' sea")[0] == 5
    assert drive(gaps, "at 100 feet")[0] == 3  # "100" would say five
    assert syllables("hmm") == syllables("sh") == 1
    assert drive(Syllables((2,)), "hmm hmm")[1] is True


def test_a_verse_with_words_to_include_is_not_refused_when_a_search_gives_up():
    """Where the search for the fewest characters gives up (a 3,3 verse holding "sea"
    over many characters), the text the witness found still shows the request can be
    met: it is drawn, not refused, and meets both."""
    from charrnn.decoding.constraints import automaton_for

    chars = sorted(set(ENGLISH + "0123456789*_-:;\"()[]&%$#@") | {chr(c) for c in range(192, 230)})
    rules = Constraints(syllables=(3, 3), include=("sea",))
    automaton = automaton_for(rules, chars, 28, "", None)
    assert automaton.start_distance(28) <= 28


def test_what_a_request_may_be():
    assert verse_rules(chars=ENGLISH) == []
    assert len(verse_rules(acrostic="hat", chars="\n HAT")) == 2  # no vowels needed
    assert len(verse_rules((3,), chars="aeiou")) == 2  # one line needs no "\n"
    assert verse_rules(rhyme="abab", chars=ENGLISH)[0].scheme == "ABAB"
    assert parse_syllables("5, 7,5") == (5, 7, 5)
    with pytest.raises(ConfigError, match="^syllables"):
        parse_syllables("5,seven,5")
