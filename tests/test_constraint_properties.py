"""Every text meets its constraints, whatever they are (issue 38's "exact" goal): a
thousand seeded requests, their constraints drawn at random from every option and
mixed, each text checked by a checker of its own (constraint_checker.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import charrnn
from charrnn import Constraints
from charrnn.data import word_list
from charrnn.decoding.constraints import word_tail
from charrnn.errors import ConfigError
from charrnn.model import checkpoint

from .constraint_checker import fault

GOLDEN = Path(__file__).parent / "data" / "golden" / "lstm-1-char.safetensors"
REAL = ["the", "a", "and", "cat", "sea", "to", "of", "in", "he", "she", "it", "was", "day",
        "night", "old", "man", "dog", "sat", "on", "at", "is", "by", "we", "me"]
PATTERNS = [r"[a-z .\n]+", r"(?s)[a-z].*", r"(?s).*\.", r"([a-z]+ )*[a-z]+", r"[^q]*",
            r"(?s).*(sea|day).*", r"[a-z]{1,6}( [a-z]{1,6})*"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    """The golden a-z model, given a word list of common words and some it writes."""
    path = tmp_path_factory.mktemp("listed") / "model.safetensors"
    ckpt = checkpoint.load(GOLDEN)
    listed = sorted({*REAL, "ha", "an", "as", "be", "so", "no", "go"})
    checkpoint.save(path, {**ckpt.tensors, word_list.TENSOR: word_list.to_tensor(listed)},
                    ckpt.record)
    return charrnn.load(path)


def random_request(chooser: random.Random) -> tuple[Constraints, dict]:
    """Constraints mixing the options at random, and how to ask (length, prime, ...)."""
    pick = chooser.random
    made = lambda: "".join(chooser.choices(LETTERS, k=chooser.randint(1, 3)))  # noqa: E731
    include = tuple(chooser.choice(REAL) if pick() < 0.7 else made()
                    for _ in range(chooser.choice([0, 0, 1, 2])))
    exclude = tuple(w for w in (chooser.choice(REAL) for _ in range(chooser.choice([0, 2])))
                    if w not in include)
    free = [x for x in LETTERS if not any(x in w for w in include)]
    fields = dict(include=include, exclude=exclude,
                  ban_chars="".join(chooser.sample(free, 2)) if pick() < 0.3 else "",
                  in_order=pick() < 0.3, ignore_case=pick() < 0.3,
                  pattern=chooser.choice(PATTERNS) if pick() < 0.3 else "",
                  words_only=pick() < 0.2)
    if fields["words_only"] and pick() < 0.5:
        fields["new_words"] = chooser.choice([0.1, 0.3, 0.5])
    ask = dict(length=chooser.randint(12, 60), prime=chooser.choice(["", "the ", "the ca"]),
               seed=chooser.randrange(1000), temperature=chooser.choice([0.5, 1.0, 1.5]))
    if pick() < 0.08:  # a verse form: two or three short lines
        lines = chooser.randint(2, 3)
        fields.update(pattern="", include=(), words_only=False, new_words=0.0)
        form = chooser.choice(["syllables", "acrostic", "both"])
        if form in ("syllables", "both"):
            fields["syllables"] = tuple(chooser.randint(1, 3) for _ in range(lines))
        if form in ("acrostic", "both"):
            fields["acrostic"] = "".join(chooser.choices("stadh", k=lines))
        ask.update(length=14 * lines, prime="")
    return Constraints(**fields), ask


def test_a_thousand_random_requests_meet_every_constraint(lm):
    chooser = random.Random(38)
    listed = frozenset(lm.words)
    texts = refused = 0
    for _ in range(1000):
        constraints, ask = random_request(chooser)
        way = chooser.random()
        try:
            if way < 0.1:
                drawn = [text for text, _ in lm.beam(ask["length"], 4, ask["prime"], 2,
                                                     constraints=constraints)]
            elif way < 0.25 and constraints:  # by particles: a few, or as many as by default
                drawn = lm.samples(1, **ask, constraints=constraints,
                                   particles=4 if way < 0.2 else None)
            else:  # masked
                drawn = lm.samples(chooser.choice([1, 2]), **ask, constraints=constraints,
                                   particles=1)
        except ConfigError as exc:  # none can meet them: said before anything is drawn
            assert exc.field in constraints.to_dict() | {"include": 1}, exc
            refused += 1
            continue
        for text in drawn:
            why = fault(text, constraints, listed, word_tail(ask["prime"]))
            assert why is None, (constraints, ask, text, why)
            assert len(text) <= ask["length"]
            texts += 1
    assert refused < 150 and texts > 1000, (refused, texts)
