"""Scoring any text with a trained model (`charrnn eval`, `LanguageModel.evaluate`).

The text is read as one stream in chunks, the state carried from chunk to chunk, through
the same `Decoder` that sampling and beam search use, so the loss is exact however the
text is cut and describes the model as it decodes (`--weights` included).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from charrnn.decoding.decoder import Decoder
from charrnn.errors import CorpusError
from charrnn.units import bits


@dataclass(frozen=True)
class TextLoss:
    """How well a model predicts a text: total nats over every character of it."""

    nats: float
    chars: int

    @property
    def nats_per_char(self) -> float:
        return self.nats / self.chars

    @property
    def bits_per_char(self) -> float:
        return bits(self.nats_per_char)

    @property
    def perplexity(self) -> float:
        return math.exp(self.nats_per_char)

    def to_dict(self) -> dict[str, float | int]:
        return {"nats_per_char": self.nats_per_char, "bits_per_char": self.bits_per_char,
                "perplexity": self.perplexity, "chars": self.chars}


def text_loss(decoder: Decoder, chunks: Iterable[torch.Tensor], piece: int = 4096,
              on_chars: Callable[[int], None] | None = None) -> TextLoss:
    """Score a text given as consecutive id chunks, one stream with its state carried from
    chunk to chunk, so the result is exact however the text is cut. The first character
    is scored like any start of a text (see `decoder.py`); `on_chars` hears progress."""
    state, pending = decoder.start(torch.zeros(0, dtype=torch.long))
    total, count = 0.0, 0
    for chunk in chunks:
        for start in range(0, chunk.numel(), piece):
            ids = chunk[start : start + piece].long()
            total -= float(pending[0, ids[0]].double())
            out, state = decoder.feed(ids[None, :], state)
            if ids.numel() > 1:
                total -= float(out[0, :-1].gather(1, ids[1:, None]).double().sum())
            pending = out[:, -1]
            count += ids.numel()
            if on_chars is not None:
                on_chars(count)
    if count == 0:
        raise CorpusError("there is no text to evaluate")
    return TextLoss(total, count)
