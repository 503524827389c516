"""lm.session: a stateful text that agrees with the stateless API at every step."""

import math
import re
from pathlib import Path

import pytest

import charrnn
from charrnn import Constraints
from charrnn.errors import ConfigError, VocabError

GOLDEN = Path(__file__).parent / "data" / "golden"


@pytest.fixture(scope="module")
def small():
    """The golden a-z model (vocabulary "\\n .a-z"): fast, for constrained sessions."""
    return charrnn.load(GOLDEN / "lstm-1-char.safetensors")


def holds(text: str, word: str) -> bool:
    """Whether `word` is in `text` as a whole word."""
    return re.search(rf"(?<![\w']){re.escape(word)}(?![\w'])", text) is not None


def test_a_session_samples_what_the_stateless_api_samples(lm):
    for prime in ("ROMEO:", ""):
        for options in ({}, {"temperature": 0.7, "top_k": 5}, {"top_p": 0.9},
                        {"repetition_penalty": 1.3}, {"stop": "\n"}):
            expected = lm.sample(60, prime=prime, seed=4, **options)
            assert lm.session(prime).sample(60, seed=4, **options) == expected


def test_suggestions_and_beams_equal_the_stateless_ones_and_are_not_kept(lm):
    s = lm.session("ROMEO:")
    assert s.suggest(5, 30, seed=2) == lm.samples(5, 30, prime="ROMEO:", seed=2)
    assert s.beam(20, width=4, n_best=3) == lm.beam(20, width=4, prime="ROMEO:", n_best=3)
    assert s.text == "ROMEO:" and s.score == 0.0


def test_feeding_in_pieces_equals_feeding_at_once_and_the_score_is_logprob(lm):
    whole, pieces = lm.session("NURSE:"), lm.session("NURSE:")
    whole.feed("\nI will not fail.\n")
    for piece in ("\nI ", "will not", " fail.\n"):
        pieces.feed(piece)
    assert pieces.text == whole.text == "NURSE:\nI will not fail.\n"
    assert pieces.score == pytest.approx(lm.logprob("\nI will not fail.\n", "NURSE:"), abs=1e-4)
    (a, b) = (dict(pieces.predict(3)), dict(whole.predict(3)))
    assert a.keys() == b.keys() and list(a.values()) == pytest.approx(list(b.values()), abs=1e-5)
    made = pieces.sample(40, seed=9)
    assert pieces.text == "NURSE:\nI will not fail.\n" + made
    assert pieces.score == pytest.approx(lm.logprob(pieces.text[6:], "NURSE:"), abs=1e-4)
    assert made == lm.sample(40, prime="NURSE:\nI will not fail.\n", seed=9)


def test_predict_and_distribution_are_the_next_character_probabilities(lm):
    s = lm.session("ROMEO:")
    dist = s.distribution()
    assert set(dist) == set(lm.vocab.chars) and math.fsum(dist.values()) == pytest.approx(1.0)
    top = s.predict(5)
    assert [c for c, _ in top] == sorted(dist, key=dist.get, reverse=True)[:5]
    for char, p in top:
        assert p == pytest.approx(math.exp(lm.logprob(char, "ROMEO:")), rel=1e-4)
    with pytest.raises(ConfigError, match="top"):
        s.predict(0)


def test_fork_undo_and_reset(lm):
    s = lm.session("ROMEO:")
    s.feed(" Good").sample(10, seed=1)
    twin = s.fork()
    twin.feed(" night")
    assert not s.text.endswith(" night") and twin.text == s.text + " night"
    assert s.undo() == 1 and s.text == "ROMEO: Good"
    assert s.undo(5) == 1 and s.text == "ROMEO:" and s.score == 0.0
    assert twin.text.endswith(" night")  # the fork kept its own history
    twin.reset()
    assert twin.text == "ROMEO:" and twin.undo() == 1 and twin.text.endswith(" night")


def test_a_stream_stopped_early_keeps_what_was_shown(lm):
    s = lm.session("ROMEO:")
    shown = ""
    for piece in s.stream(200, seed=3):
        shown += piece
        if len(shown) >= 15:
            break
    assert s.text == "ROMEO:" + shown
    assert s.score == pytest.approx(lm.logprob(shown, "ROMEO:"), abs=1e-4)


def test_bad_input_is_one_clear_error(lm):
    s = lm.session("ROMEO:")
    with pytest.raises(VocabError, match="never saw"):
        s.feed("\u2603")
    with pytest.raises(ConfigError, match="temperature"):
        s.sample(5, temperature=-1)
    with pytest.raises(ConfigError, match="undo"):
        s.undo(-1)
    assert s.text == "ROMEO:"  # nothing was changed by the failures


def test_a_constrained_session_generates_what_the_stateless_api_does(small):
    """Each continuation keeps to the session's constraints, exactly as lm.sample,
    lm.samples and lm.beam keep to them after the same text."""
    rules = Constraints(include=("cat",), ban_chars="e")
    s = small.session("the ", constraints=rules)
    made = s.sample(30, seed=1)
    assert made == small.sample(30, prime="the ", seed=1, constraints=rules)
    assert holds(made, "cat") and "e" not in made
    assert s.suggest(3, 20, seed=2) == small.samples(3, 20, prime=s.text, seed=2,
                                                     constraints=rules)
    assert s.beam(20, width=4, n_best=2) == small.beam(20, width=4, n_best=2, prime=s.text,
                                                       constraints=rules)
    (text, score), = s.beam(20, width=4)
    assert holds(text, "cat") and score == pytest.approx(small.logprob(text, s.text), abs=1e-4)
    s.feed(" cat")  # each continuation holds the word, not the story so far
    assert holds(s.sample(20, seed=3), "cat")
    masked = s.suggest(3, 20, seed=4, particles=1)  # by default, particles: not masked
    assert masked == small.samples(3, 20, prime=s.text, seed=4, constraints=rules,
                                   particles=1) != s.suggest(3, 20, seed=4)
    with pytest.raises(ConfigError, match="particles draws texts of a fixed length"):
        s.check(20, stop=".", particles=8)


def test_constraints_change_and_lift_and_forks_keep_their_own(small):
    s = small.session("the ")
    assert not s.constraints and s.constraints == Constraints()
    s.constraints = Constraints(pattern="[a-z]+( [a-z]+)*", exclude=("the",))
    twin = s.fork()
    for text in s.suggest(4, 25, seed=4):
        assert re.fullmatch("[a-z]+( [a-z]+)*", text) and not holds(text, "the"), text
    twin.constraints = None  # lifted in the fork alone
    assert twin.sample(25, seed=5) == small.sample(25, prime="the ", seed=5)
    assert s.constraints.pattern and re.fullmatch("[a-z]+( [a-z]+)*", s.sample(25, seed=5))
    first = s.sample(10, seed=6, temperature=0)
    assert "\n" not in first and s.text.endswith(first)


def test_words_only_reads_the_models_word_list(lm):
    s = lm.session("ROMEO:\n", constraints=Constraints(words_only=True))
    for text in s.suggest(3, 60, seed=1):
        assert set(re.findall(r"[a-z0-9']+", text.lower())) <= set(lm.words), text


def test_constraints_that_cannot_be_met_are_one_error_before_anything_is_drawn(small):
    s = small.session("the ")
    for bad, match in ((Constraints(include=("two words",)), "include"),
                       ({"include": ["cat"]}, "constraints must be")):
        with pytest.raises(ConfigError, match=match):
            s.constraints = bad
    assert not s.constraints  # the refused ones were not kept
    for rules, match in ((Constraints(include=("abcdefgh",)), "no text of 5 characters"),
                         (Constraints(pattern="("), "pattern"),
                         (Constraints(include=("Zoo",)), "never saw"),
                         (Constraints(words_only=True), "words_only")):
        s.constraints = rules
        for attempt in (lambda: s.check(5), lambda: s.sample(5), lambda: s.suggest(2, 5),
                        lambda: s.beam(5)):
            with pytest.raises(ConfigError, match=match) as error:
                attempt()
            assert "\n" not in str(error.value)
    assert s.text == "the " and s.undo() == 0  # nothing was generated
    s.constraints = Constraints(include=("cat",))
    s.check(5)
    with pytest.raises(ConfigError, match="temperature"):
        s.check(5, temperature=-1)
