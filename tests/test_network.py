import pytest
import torch

from charrnn.config import ModelConfig
from charrnn.model.network import CharRNN, detach_state, select_state


@pytest.mark.parametrize("cell,parts", [("lstm", 2), ("gru", 1), ("rnn", 1)])
def test_shapes_for_every_cell(cell, parts):
    model = CharRNN(ModelConfig(model=cell, hidden_size=24, num_layers=2, embed_size=8,
                                dropout=0.1, vocab_size=11))
    state = model.initial_state(3)
    assert len(state) == parts and state[0].shape == (2, 3, 24)
    logits, new_state = model(torch.randint(0, 11, (3, 7)), state)
    assert logits.shape == (3, 7, 11)
    assert [s.shape for s in new_state] == [s.shape for s in state]
    assert all(s.grad_fn is None for s in detach_state(new_state))


def test_select_state_reorders_rows():
    model = CharRNN(ModelConfig(hidden_size=4, vocab_size=5))
    state = tuple(torch.arange(12.0).view(1, 3, 4) + k for k in range(2))
    picked = select_state(state, torch.tensor([2, 2, 0]))
    assert torch.equal(picked[0][0, 0], state[0][0, 2])
    assert torch.equal(picked[1][0, 2], state[1][0, 0])
    assert model.initial_state(1)[0].abs().sum() == 0


def test_training_uses_the_fused_torch_modules():
    for cell, cls in [("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU), ("rnn", torch.nn.RNN)]:
        model = CharRNN(ModelConfig(model=cell, hidden_size=8, vocab_size=5))
        assert type(model.rnn) is cls
    assert CharRNN(ModelConfig(model="rnn", hidden_size=8, vocab_size=5)).rnn.nonlinearity == "tanh"
