"""Which label wrote this? A model of labelled files used as a Bayes classifier.

For each label the model gives the text's exact log-probability when read after that
label, log p(text | label); with the share of training files each label carries as its
prior, Bayes' rule gives each label's posterior:

    p(label | text) = p(label) p(text | label) / sum over labels of the same

Labels are read side by side, one row each, in batched passes over the text. What one
feed holds is bounded whatever the number of labels: at most SCORING_CELLS (rows x
characters), and fewer for a large vocabulary (`cells_per_feed`), so its logits never
exceed LOGIT_BUDGET floats (128 MB); many labels are read in groups, each in shorter
chunks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from charrnn.decoding.decoder import Decoder, read_pieces
from charrnn.errors import ConfigError

SCORING_CELLS = 8192  # rows x characters fed at once (their logits are kept)
LOGIT_BUDGET = 1 << 25  # floats of logits one feed may hold: 128 MB


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
    """The classification of the text of `ids` among `labels` (name -> label id; at
    least one: `TextFormat.labelled`)."""
    if ids.numel() == 0:
        raise ConfigError("text is empty: there is nothing to classify", field="text")
    names = list(labels)
    cells = cells_per_feed(decoder.model.config.vocab_size)
    group = min(len(names), cells)  # labels read side by side
    logprobs: list[float] = []
    for first in range(0, len(names), group):
        members = [labels[n] for n in names[first : first + group]]
        logprobs += label_logprobs(decoder, ids, members, max(1, cells // len(members)))
    return Classification(ids.numel(), dict(zip(names, logprobs, strict=True)),
                          {n: priors[n] for n in names})


def cells_per_feed(vocab_size: int) -> int:
    """Rows x characters one feed may hold: SCORING_CELLS, fewer where the vocabulary
    would make their logits outgrow LOGIT_BUDGET."""
    return max(1, min(SCORING_CELLS, LOGIT_BUDGET // max(vocab_size, 1)))


def label_logprobs(decoder: Decoder, ids: torch.Tensor, label_ids: list[int],
                   chunk: int) -> list[float]:
    """log p(text | label) for each label, one row each, `chunk` characters a feed."""
    rows = len(label_ids)
    start = decoder.start(torch.tensor(label_ids)[:, None])  # each label's opening
    totals = torch.zeros(rows, dtype=torch.float64)
    for reading in read_pieces(decoder, start, [ids[None, :].expand(rows, -1)], chunk):
        totals += reading.first
        totals += reading.rest
    return totals.tolist()
