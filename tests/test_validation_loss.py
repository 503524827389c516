import math

import pytest
import torch

from charrnn.config import ModelConfig
from charrnn.model.network import CharRNN
from charrnn.training.validation import mean_nll
from charrnn.units import bits


def naive_nll(model, ids, starts):
    """Oracle: one character at a time; the state is zeroed at each position in `starts`."""
    state = model.initial_state(1)
    total = 0.0
    with torch.no_grad():
        for i in range(ids.numel() - 1):
            if i in starts:
                state = model.initial_state(1)
            logits, state = model(ids[i : i + 1].view(1, 1), state)
            total -= torch.log_softmax(logits[0, 0].double(), -1)[ids[i + 1]].item()
    return total / (ids.numel() - 1)


@pytest.mark.parametrize("length,streams,chunk,row", [
    (700, 4, 32, 174), (513, 16, 8, 32), (50, 16, 256, 49),
])
def test_mean_nll_scores_every_character_once(length, streams, chunk, row):
    """Streams of `row` characters side by side, the leftover tail continuing the last one:
    the same as one pass whose state restarts at each stream's first character."""
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(model="lstm", hidden_size=12, embed_size=4, vocab_size=7,
                                 dropout=0.0))
    ids = torch.randint(0, 7, (length,))
    starts = set(range(0, length - 1 - row + 1, row))
    assert mean_nll(model, ids, streams=streams, chunk=chunk) == pytest.approx(
        naive_nll(model, ids, starts), abs=1e-5)
    assert model.training


def test_single_stream_equals_the_oracle_exactly():
    torch.manual_seed(1)
    model = CharRNN(ModelConfig(model="gru", hidden_size=10, embed_size=4, vocab_size=5,
                                dropout=0.0))
    ids = torch.randint(0, 5, (300,))
    assert mean_nll(model, ids, streams=1, chunk=17) == pytest.approx(
        naive_nll(model, ids, {0}), abs=1e-5)


def test_bits():
    assert bits(math.log(2)) == pytest.approx(1.0)
