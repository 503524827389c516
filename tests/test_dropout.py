"""FastDropout: the same distribution as nn.Dropout, from cheaper random bits."""

import pytest
import torch

from charrnn.config import ModelConfig
from charrnn.model.network import CharRNN, FastDropout


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5])
def test_drops_the_right_share_and_keeps_the_expectation(p):
    torch.manual_seed(0)
    drop = FastDropout(p).train()
    x = torch.ones(200, 1000)
    out = drop(x)
    dropped = (out == 0).float().mean().item()
    assert dropped == pytest.approx(p, abs=0.005)
    assert out.mean().item() == pytest.approx(1.0, abs=0.01)
    kept = out[out != 0]
    assert torch.allclose(kept, torch.full_like(kept, drop.scale))
    assert drop.scale == pytest.approx(1 / (1 - p), rel=1e-4)


def test_masks_are_random_but_seeded_and_gradients_follow_the_mask():
    drop = FastDropout(0.3).train()
    x = torch.randn(7, 13, 5, requires_grad=True)  # not a multiple of 4 elements
    torch.manual_seed(1)
    a = drop(x)
    torch.manual_seed(1)
    b = drop(x)
    assert torch.equal(a, b) and not torch.equal(a, drop(x))
    a.sum().backward()
    assert torch.allclose(x.grad, (a != 0).float() * drop.scale)


def test_evaluation_and_zero_rate_are_the_identity():
    x = torch.randn(4, 5)
    assert FastDropout(0.4).eval()(x) is x
    assert FastDropout(0.0).train()(x) is x


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_weight_drop_masks_recurrent_weights_in_training_only(cell):
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(model=cell, vocab_size=7, hidden_size=16, num_layers=2,
                                dropout=0.0, weight_drop=0.5))
    plain = CharRNN(ModelConfig(model=cell, vocab_size=7, hidden_size=16, num_layers=2,
                                dropout=0.0))
    plain.load_state_dict(model.state_dict())
    ids = torch.randint(0, 7, (3, 6))
    model.train()
    logits, _ = model(ids, model.initial_state(3))
    logits.sum().backward()
    for k in range(2):  # about half of every layer's recurrent gradient is masked out
        masked = (getattr(model.rnn, f"weight_hh_l{k}").grad == 0).float().mean().item()
        assert masked == pytest.approx(0.5, abs=0.1)
    assert not torch.allclose(logits, plain.train()(ids, plain.initial_state(3))[0])
    model.eval(), plain.eval()  # evaluation uses the whole matrices, like a model without it
    assert torch.equal(model(ids, model.initial_state(3))[0],
                       plain(ids, plain.initial_state(3))[0])
