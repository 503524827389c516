"""Beam search options: stop strings, length penalty, no repeated n-grams."""

import pytest

from charrnn.errors import ConfigError


def ngrams(text, n):
    return [text[i : i + n] for i in range(len(text) - n + 1)]


def test_no_repeat_ngram_forbids_repeats_within_a_beam(lm):
    looping = lm.beam(80, width=4, prime="ROMEO:\n")[0][0]
    assert len(set(ngrams(looping, 4))) < len(ngrams(looping, 4))  # plain beams loop
    for text, score in lm.beam(80, width=4, prime="ROMEO:\n", n_best=4, no_repeat_ngram=4):
        grams = ngrams("ROMEO:\n" + text, 4)
        assert len(grams) == len(set(grams))
        assert score == pytest.approx(lm.logprob(text, "ROMEO:\n"), abs=1e-4)


def test_a_stop_string_finishes_and_keeps_a_beam(lm):
    results = lm.beam(60, width=6, prime="ROMEO:\n", n_best=6, stop="\n")
    assert any(text.endswith("\n") and len(text) < 60 for text, _ in results)
    for text, score in results:
        assert text.count("\n") <= 1 and (text.endswith("\n") or len(text) == 60)
        assert score == pytest.approx(lm.logprob(text, "ROMEO:\n"), abs=1e-4)


def test_length_penalty_ranks_by_log_prob_per_length(lm):
    plain = lm.beam(60, width=6, prime="JULIET:\n", n_best=6, stop="\n")
    assert [s for _, s in plain] == sorted((s for _, s in plain), reverse=True)
    normalised = lm.beam(60, width=6, prime="JULIET:\n", n_best=6, stop="\n",
                         length_penalty=1.0)
    per_char = [s / len(t) for t, s in normalised]
    assert per_char == sorted(per_char, reverse=True)
    # the same pool of finished beams, re-ranked: nothing in the plain list beats the best
    assert per_char[0] >= max(s / len(t) for t, s in plain) - 1e-12
    assert len(normalised[0][0]) != len(plain[0][0]) or normalised[0] == plain[0]


@pytest.mark.parametrize("kwargs,flag", [
    ({"no_repeat_ngram": -1}, "no_repeat_ngram"),
    ({"length_penalty": float("nan")}, "length_penalty"),
])
def test_bad_beam_options(lm, kwargs, flag):
    with pytest.raises(ConfigError, match=flag):
        lm.beam(5, **kwargs)
