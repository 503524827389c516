"""An exponential moving average of the weights, the model that is evaluated and kept.

Near the end of a run, successive weights differ mostly by how they adapted to the last
few batches; their average generalises better than any one of them (Polyak averaging).
The average starts as the initial weights and follows them faster at first: the decay
at update t is min(decay, (1 + t) / (10 + t)), so early averages are not dominated by
random initial values.
"""

from __future__ import annotations

import copy

import torch

from charrnn.model.network import CharRNN


class WeightAverage:
    """A copy of `model` whose weights trail the trained ones (see module doc)."""

    def __init__(self, model: CharRNN, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self._pairs = list(zip(self.model.parameters(), model.parameters(), strict=True))

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Fold in the trained weights after optimiser step number `step` (from 1)."""
        decay = min(self.decay, step / (9 + step))
        averaged, trained = zip(*self._pairs, strict=True)
        torch._foreach_lerp_(list(averaged), list(trained), 1.0 - decay)
