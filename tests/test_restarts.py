"""The recurrence that restarts mid-window (packed documents): the same numbers as
torch's fused kernels, and a restart that truly forgets what came before."""

import pytest
import torch

from charrnn.config import ModelConfig
from charrnn.model.network import CharRNN


def model(kind: str) -> CharRNN:
    torch.manual_seed(0)
    config = ModelConfig(model=kind, hidden_size=16, num_layers=2, embed_size=8,
                         vocab_size=11, dropout=0.0)
    return CharRNN(config).eval()


def outputs_and_gradients(net: CharRNN, x, state, restarts=None):
    net.zero_grad()
    state = tuple(s.detach().clone().requires_grad_() for s in state)
    logits, after = net(x, state) if restarts is None else net(x, state, restarts)
    (logits.pow(2).sum() + sum(s.pow(2).sum() for s in after)).backward()
    return ([logits, *after] + [p.grad.clone() for p in net.parameters()]
            + [s.grad for s in state])


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_without_restarts_it_matches_torchs_kernels_values_and_gradients(kind):
    net = model(kind)
    x = torch.randint(0, 11, (3, 7))
    state = tuple(0.3 * torch.randn_like(s) for s in net.initial_state(3))
    fused = outputs_and_gradients(net, x, state)
    stepped = outputs_and_gradients(net, x, state, torch.zeros_like(x, dtype=torch.bool))
    for a, b in zip(fused, stepped, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_a_restart_forgets_everything_before_it_and_passes_no_gradient_back(kind):
    net = model(kind)
    first, second = torch.tensor([[0, 3, 4, 5, 6]]), torch.tensor([[0, 7, 8]])
    alone, _ = net(second, net.initial_state(1))
    row = torch.cat([first, second], 1)
    embedded = net.embed.weight
    net.zero_grad()
    logits, _ = net(row, net.initial_state(1), row == 0)
    torch.testing.assert_close(logits[:, 5:], alone, rtol=1e-5, atol=1e-6)
    logits[:, 5:].sum().backward()  # the second document's outputs only
    used = embedded.grad.abs().sum(1)
    assert used[[3, 4, 5, 6]].sum() == 0  # the first document's characters got nothing
    assert used[[7, 8]].min() > 0


def test_weight_drop_and_dropout_apply_to_the_stepped_layers_in_training():
    config = ModelConfig(hidden_size=16, num_layers=2, embed_size=8, vocab_size=11,
                         dropout=0.5, weight_drop=0.5)
    net = CharRNN(config).train()
    x = torch.randint(1, 11, (2, 6))
    restarts = torch.zeros_like(x, dtype=torch.bool)
    one, _ = net(x, net.initial_state(2), restarts)
    two, _ = net(x, net.initial_state(2), restarts)
    assert not torch.allclose(one, two)  # fresh masks each call
    net.eval()
    three, _ = net(x, net.initial_state(2), restarts)
    four, _ = net(x, net.initial_state(2))
    torch.testing.assert_close(three, four)
