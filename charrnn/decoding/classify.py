"""Which label wrote this? A model of labelled files used as a Bayes classifier.

For each label the model gives the text's exact log-probability when read after that
label, log p(text | label); with the share of training files each label carries as its
prior, Bayes' rule gives each label's posterior:

    p(label | text) = p(label) p(text | label) / sum over labels of the same

All labels are read side by side, one row each, in one batched pass over the text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from charrnn.decoding.decoder import Decoder
from charrnn.errors import ConfigError

CHUNK = 4096  # characters read at a time (the log-probabilities of a chunk are kept)


@dataclass(frozen=True)
class Classification:
    """Each label's log-probability of a text (nats), its prior, and its posterior."""

    chars: int  # characters scored
    logprobs: dict[str, float]
    priors: dict[str, float]

    @property
    def posteriors(self) -> dict[str, float]:
        joint = {k: v + math.log(self.priors[k]) for k, v in self.logprobs.items()}
        top = max(joint.values())
        weights = {k: math.exp(v - top) for k, v in joint.items()}
        total = sum(weights.values())
        return {k: w / total for k, w in weights.items()}

    @property
    def label(self) -> str:
        """The most likely label."""
        posteriors = self.posteriors
        return max(posteriors, key=posteriors.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        posteriors = self.posteriors
        return {"label": self.label, "posterior": posteriors[self.label], "chars": self.chars,
                "labels": [{"label": k, "logprob": self.logprobs[k], "prior": self.priors[k],
                            "posterior": posteriors[k]}
                           for k in sorted(self.logprobs, key=lambda k: -posteriors[k])]}


def classify(decoder: Decoder, ids: torch.Tensor, labels: dict[str, int],
             priors: dict[str, float]) -> Classification:
    """The classification of the text of `ids` among `labels` (name -> label id)."""
    if not labels:
        raise ConfigError("this model was trained without labels (`label_from`): there is "
                          "nothing to classify a text as", field="label")
    if ids.numel() == 0:
        raise ConfigError("text is empty: there is nothing to classify", field="text")
    names = list(labels)
    openings = torch.stack([decoder.read_from_zero(torch.tensor([labels[n]])) for n in names])
    state = decoder.model.initial_state(len(names))
    out, state = decoder.feed(openings, state)
    previous = out[:, -1]  # each label's next-character distribution
    totals = torch.zeros(len(names), dtype=torch.float64)
    for start in range(0, ids.numel(), CHUNK):
        chunk = ids[start : start + CHUNK].long()
        rows = chunk[None, :].expand(len(names), -1).contiguous()
        totals += previous.gather(1, rows[:, :1]).double().squeeze(1)
        out, state = decoder.feed(rows, state)
        if chunk.numel() > 1:
            totals += out[:, :-1].gather(2, rows[:, 1:, None]).double().sum(dim=(1, 2))
        previous = out[:, -1]
    return Classification(ids.numel(), dict(zip(names, totals.tolist(), strict=True)),
                          {n: priors[n] for n in names})
