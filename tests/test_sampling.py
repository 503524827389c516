"""Sampling options against what they promise, on small models whose distributions we can
compute exactly."""

import itertools
import math

import pytest
import torch

from charrnn.api.language_model import LanguageModel
from charrnn.config import ModelConfig
from charrnn.data.vocab import Vocab
from charrnn.decoding import inference_step
from charrnn.decoding.inference_step import InferenceStep
from charrnn.errors import ConfigError
from charrnn.model.network import CharRNN


@pytest.fixture(scope="module")
def small_lm():
    """An untrained 8-character LSTM with spread-out weights."""
    torch.manual_seed(5)
    vocab = Vocab(list("abcdefgh"), [8, 7, 6, 5, 4, 3, 2, 1])
    model = CharRNN(ModelConfig(hidden_size=16, embed_size=4, vocab_size=8))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4)
    return LanguageModel(model, vocab)


def next_char_probs(lm, prime, temperature=1.0):
    lps = torch.tensor([lm.logprob(c, prime) for c in lm.vocab.chars], dtype=torch.float64)
    return torch.softmax(lps / temperature, dim=0)


def counts(texts, chars):
    return torch.tensor([sum(t == c for t in texts) for c in chars], dtype=torch.float64)


@pytest.mark.parametrize("temperature", [1.0, 0.6, 1.7])
def test_frequencies_match_softmax_of_logits_over_temperature(small_lm, temperature):
    """Pearson chi-square over 8 characters (7 degrees of freedom); 24.3 is the 0.1%
    critical value, so a correct sampler fails this about once in a thousand seeds."""
    n = 20_000
    draws = small_lm.samples(n, 1, temperature=temperature, prime="cab", seed=42)
    expected = next_char_probs(small_lm, "cab", temperature) * n
    observed = counts(draws, small_lm.vocab.chars)
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < 24.3, (chi2, observed.tolist(), expected.tolist())
    wrong = torch.roll(expected, 1)  # the same test must reject a wrong distribution
    assert float(((observed - wrong) ** 2 / wrong).sum()) > 24.3


def test_top_k_never_leaves_the_k_most_likely(small_lm):
    probs = next_char_probs(small_lm, "hgf")
    allowed = {small_lm.vocab.chars[i] for i in probs.topk(3).indices.tolist()}
    draws = small_lm.samples(3000, 1, prime="hgf", top_k=3, seed=1)
    assert set(draws) <= allowed and len(set(draws)) == 3


@pytest.mark.parametrize("p", [0.3, 0.6, 0.9])
def test_top_p_never_leaves_the_smallest_set_with_that_mass(small_lm, p):
    probs = next_char_probs(small_lm, "abc")
    order = probs.argsort(descending=True).tolist()
    nucleus, mass = set(), 0.0
    for i in order:
        nucleus.add(small_lm.vocab.chars[i])
        mass += float(probs[i])
        if mass >= p:
            break
    draws = small_lm.samples(3000, 1, prime="abc", top_p=p, seed=2)
    assert set(draws) <= nucleus and set(draws) == nucleus


def test_repetition_penalty_makes_seen_characters_rare(lm):
    plain = lm.sample(20, temperature=0, prime="R")
    assert len(set(plain)) < 20  # greedy text repeats itself
    penalised = lm.sample(20, temperature=0, prime="R", repetition_penalty=1000.0)
    assert len(set(penalised)) == 20 and "R" not in penalised


def test_stop_strings_end_the_text_right_after_them(lm):
    text = lm.sample(500, temperature=0.8, prime="ROMEO:\n", seed=3, stop="\n")
    assert text.endswith("\n") and text.count("\n") == 1
    both = lm.sample(500, temperature=0.8, prime="ROMEO:\n", seed=3, stop=["\n", "e"])
    assert both.endswith(("\n", "e")) and both.count("\n") + both.count("e") == 1
    rows = lm.samples(6, 300, temperature=1.0, prime="ROMEO:\n", seed=4, stop=["\n\n"])
    assert all(r.endswith("\n\n") and r.count("\n\n") == 1 for r in rows)


def test_seeded_batches_are_reproducible_and_rows_independent(lm):
    a = lm.samples(5, 40, prime="JULIET:", seed=9)
    assert a == lm.samples(5, 40, prime="JULIET:", seed=9)
    assert len(set(a)) == 5 and all(len(t) == 40 for t in a)


def test_num_samples_runs_as_one_batch(lm, monkeypatch):
    calls = []
    real = lm.decoder.advance

    def counting(ids, state):
        calls.append(ids.size)
        return real(ids, state)

    monkeypatch.setattr(lm.decoder, "advance", counting)
    lm.samples(16, 10, seed=1)
    assert calls == [16] * 9  # nine steps of sixteen rows, not 144 single steps


@pytest.mark.parametrize("cell,hidden", [("lstm", 48), ("gru", 48), ("rnn", 48),
                                         ("lstm", 256), ("gru", 300)])
def test_fast_step_matches_the_training_model(cell, hidden):
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(model=cell, hidden_size=hidden, num_layers=3, embed_size=12,
                                vocab_size=30, dropout=0.3)).eval()
    step = InferenceStep(model)
    assert_steps_match(model, step, torch.randint(0, 30, (4, 40)))
    assert all(product.chosen for product in step.products)  # each measured its routes


def assert_steps_match(model: CharRNN, step: InferenceStep, ids: torch.Tensor) -> None:
    """The step's distribution after each of `ids` (rows, time) is the model's."""
    slow, fast = model.initial_state(len(ids)), model.initial_state(len(ids))
    with torch.no_grad():
        for t in range(ids.shape[1]):
            logits, slow = model(ids[:, t : t + 1], slow)
            fast_lp, fast = step(ids[:, t], fast)
            assert torch.allclose(fast_lp, torch.log_softmax(logits[:, 0], -1), atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_many_rows_beside_torchs_threads_take_torchs_sigmoid_and_match(cell, monkeypatch):
    """From 16 rows whose products run on torch's threads, the step's sigmoid gates are
    torch's: still the training model's distribution."""
    real = inference_step.choose_routes
    monkeypatch.setattr(inference_step, "choose_routes",
                        lambda products, rows: {**real(products, rows), "torch only": 0.0})
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(model=cell, hidden_size=40, num_layers=2, embed_size=12,
                                vocab_size=30)).eval()
    step = InferenceStep(model)
    assert_steps_match(model, step, torch.randint(0, 30, (32, 20)))
    assert step._buffers[32].cell is step.cell_beside_torch
    assert step._buffers_for(8).cell is step.cell  # fewer rows: numpy's own


@pytest.mark.parametrize("kwargs,flag", [
    ({"top_k": 0}, "top_k"), ({"top_p": 0.0}, "top_p"), ({"top_p": 1.5}, "top_p"),
    ({"repetition_penalty": 0.5}, "repetition_penalty"),
    ({"temperature": math.inf}, "temperature"),
])
def test_bad_sampling_options(small_lm, kwargs, flag):
    with pytest.raises(ConfigError, match=flag):
        small_lm.sample(5, **kwargs)
    with pytest.raises(ConfigError, match="num_samples"):
        small_lm.samples(0, 5)


def test_greedy_is_the_argmax_each_step(small_lm):
    text = small_lm.sample(6, temperature=0, prime="a")
    context = "a"
    for ch in text:
        probs = next_char_probs(small_lm, context)
        assert ch == small_lm.vocab.chars[int(probs.argmax())]
        context += ch
    assert list(itertools.islice(small_lm.stream(6, 0, "a"), 6)) == list(text)
