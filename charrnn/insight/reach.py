"""How far back the training signal reaches (`charrnn gradients`): the vanishing-gradient
picture, measured on a model and real text.

For windows of text, each read after `context` characters so its state is a real one,
the loss at the window's last character is differentiated with respect to the top
layer's hidden state h at each of the K steps before it. The mean norm of
d loss_t / d h_(t-k) over the windows, for k = 0..K, is the curve: how much what the
model held k characters ago can still be changed by what it gets wrong now. (For an
LSTM, h is the output state; the cell state c is a separate path that the gradient
with respect to h leaves out, as the notes define it.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from charrnn.config import setting_error
from charrnn.errors import ConfigError
from charrnn.model.network import CharRNN


def gradient_reach(model: CharRNN, ids: torch.Tensor, max_k: int = 64, windows: int = 64,
                   context: int = 100, seed: int = 0) -> list[float]:
    """Mean |d loss_t / d h_(t-k)| for k = 0..max_k over `windows` windows of `ids` (a
    text's ids) at seeded random places."""
    span = context + max_k + 2
    if max_k < 0 or windows < 1 or context < 1:
        raise setting_error("max_k must be >= 0, `windows` and `context` >= 1")
    if ids.numel() < span:
        raise ConfigError(f"the text has {ids.numel():,} characters; measuring {max_k} steps "
                          f"back after {context} of context needs {span:,}")
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, ids.numel() - span + 1, (windows,), generator=generator)
    rows = torch.stack([ids[s : s + span] for s in starts.tolist()])
    return [g.norm(dim=1).mean().item() for g in hidden_gradients(model, rows, context)]


def hidden_gradients(model: CharRNN, rows: torch.Tensor, context: int) -> list[torch.Tensor]:
    """For each row of `rows` (windows, context + K + 2): d loss / d h_(t-k) of the top
    layer for k = 0..K, where the loss is the last character's, read after the first
    `context` characters; a (windows, hidden) tensor for each k, k = 0 first."""
    max_k = rows.shape[1] - context - 2
    windows = rows.shape[0]
    model.eval()
    with torch.no_grad():
        _, state = model(rows[:, :context], model.initial_state(windows))
    x, target = rows[:, context : context + max_k + 1], rows[:, context + max_k + 1]
    hidden = state[:2] if model.config.model == "lstm" else state[0]  # (not a label's)
    held = []  # the top layer's h after each step, in the graph
    with torch.enable_grad():
        for t in range(x.shape[1]):
            _, hidden = model.rnn(model.embed(x[:, t : t + 1]), hidden)
            h = hidden[0] if isinstance(hidden, tuple) else hidden
            h.retain_grad()
            held.append(h)
        # the head reads the returned state's top layer (equal to the output), so the
        # gradient at k = 0 is taken on the very tensor the next step would read
        loss = F.cross_entropy(model.head(held[-1][-1]), target, reduction="sum")
        loss.backward()
    model.zero_grad(set_to_none=True)
    return [h.grad[-1] for h in held[::-1]]  # k = 0 first
