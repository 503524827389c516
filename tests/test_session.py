"""lm.session: a stateful text that agrees with the stateless API at every step."""

import math

import pytest

from charrnn.errors import ConfigError, VocabError


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
