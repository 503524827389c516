import itertools
import math

import pytest
import torch

from charrnn.api.language_model import LanguageModel
from charrnn.config import ModelConfig
from charrnn.data.vocab import Vocab
from charrnn.errors import ConfigError, VocabError
from charrnn.model.network import CharRNN


@pytest.fixture(scope="module")
def tiny_lm():
    """An untrained 3-character GRU with spread-out weights: small enough to enumerate."""
    torch.manual_seed(3)
    vocab = Vocab(["a", "b", "c"], [5, 3, 2])
    model = CharRNN(ModelConfig(model="gru", hidden_size=6, embed_size=4, vocab_size=3))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)
    return LanguageModel(model, vocab)


def naive_logprob(lm, text, prime):
    """Oracle: one nn-module call per character, softmax by hand."""
    model, vocab = lm.model, lm.vocab
    total = 0.0
    state = model.initial_state(1)
    history = list(prime)
    if not history:
        counts = torch.tensor(vocab.counts, dtype=torch.float64)
        total += math.log(counts[vocab.index[text[0]]] / counts.sum())
        history, text = [text[0]], text[1:]
    with torch.no_grad():
        for ch in history[:-1]:
            _, state = model(torch.tensor([[vocab.index[ch]]]), state)
        last = history[-1]
        for ch in text:
            logits, state = model(torch.tensor([[vocab.index[last]]]), state)
            total += torch.log_softmax(logits[0, 0].double(), -1)[vocab.index[ch]].item()
            last = ch
    return total


@pytest.mark.parametrize("prime", ["", "ab", "c"])
def test_logprob_matches_a_naive_per_character_loop(tiny_lm, prime):
    text = "abcabbca"
    assert tiny_lm.logprob(text, prime) == pytest.approx(naive_logprob(tiny_lm, text, prime),
                                                         abs=1e-4)


@pytest.mark.parametrize("prime", ["", "b"])
def test_wide_beam_is_exact_against_brute_force(tiny_lm, prime):
    length = 4
    every = ["".join(t) for t in itertools.product("abc", repeat=length)]
    scores = sorted(((tiny_lm.logprob(t, prime), t) for t in every), reverse=True)
    results = tiny_lm.beam(length, width=3 ** (length - 1), prime=prime, n_best=5)
    assert [text for text, _ in results] == [t for _, t in scores[:5]]
    for (_, score), (exact, _) in zip(results, scores[:5], strict=True):
        assert score == pytest.approx(exact, abs=1e-4)


def test_beam_width_one_is_greedy(lm):
    for prime in ["", "ROMEO:", "JULIET:\nWhat"]:
        (text, _), = lm.beam(60, width=1, prime=prime)
        assert text == lm.sample(60, temperature=0, prime=prime)


def test_beam_scores_are_the_logprob_of_their_text(lm):
    results = lm.beam(40, width=6, prime="NURSE:\n", n_best=4)
    assert len(results) == 4
    assert [s for _, s in results] == sorted((s for _, s in results), reverse=True)
    for text, score in results:
        assert len(text) == 40
        assert score == pytest.approx(lm.logprob(text, "NURSE:\n"), abs=1e-4)


def test_beam_finds_at_least_as_likely_text_as_greedy(lm):
    greedy = lm.sample(30, temperature=0, prime="ROMEO:")
    (best, score), = lm.beam(30, width=8, prime="ROMEO:")
    assert score >= lm.logprob(greedy, "ROMEO:") - 1e-6


def test_seeded_sampling_is_reproducible(lm):
    a = lm.sample(80, temperature=1.0, prime="ROMEO:", seed=11)
    b = lm.sample(80, temperature=1.0, prime="ROMEO:", seed=11)
    c = lm.sample(80, temperature=1.0, prime="ROMEO:", seed=12)
    assert a == b and len(a) == 80
    assert a != c


def test_trained_model_learned_the_play(lm):
    text = lm.sample(200, temperature=0.5, prime="ROMEO:\n", seed=1)
    assert set(text) <= set(lm.vocab.chars)
    line = "O that I were a glove"
    assert lm.logprob(line, "ROMEO:\n") > lm.logprob(line[::-1], "ROMEO:\n") + 10


def test_temperature_one_draws_from_the_distribution_logprob_scores(tiny_lm):
    draws = [tiny_lm.sample(1, 1.0, prime="ab", seed=s) for s in range(3000)]
    for ch in "abc":
        expected = math.exp(tiny_lm.logprob(ch, "ab"))
        observed = draws.count(ch) / len(draws)
        assert observed == pytest.approx(expected, abs=0.03)


def test_stream_yields_the_same_text_as_sample(lm):
    assert "".join(lm.stream(50, 0.8, "ROMEO:", seed=4)) == lm.sample(50, 0.8, "ROMEO:", seed=4)


@pytest.mark.parametrize("call,error,message", [
    (lambda lm: lm.sample(10, temperature=-0.5), ConfigError, "temperature"),
    (lambda lm: lm.sample(-1), ConfigError, "length"),
    (lambda lm: lm.sample(2.5), ConfigError, "length must be a whole number >= 0, not 2.5"),
    (lambda lm: lm.sample(True), ConfigError, "length"),
    (lambda lm: lm.beam(2.5, width=2), ConfigError, "length"),
    (lambda lm: lm.samples(1.5, 10), ConfigError,
     "num_samples must be a whole number >= 1, not 1.5"),
    (lambda lm: lm.beam(10, width=0), ConfigError, "width"),
    (lambda lm: lm.beam(10, width=2, n_best=3), ConfigError, "n_best"),
    (lambda lm: lm.sample(10, prime="ROMEO€"), VocabError, "'€'"),
    (lambda lm: lm.logprob("x¤", prime=""), VocabError, "'¤'"),
])
def test_bad_decoding_options_raise_one_clear_error(lm, call, error, message):
    with pytest.raises(error, match=message):
        call(lm)


def test_zero_length_is_empty(lm):
    assert lm.sample(0, prime="ROMEO:") == ""
    assert lm.beam(0, width=3) == [("", 0.0)]
