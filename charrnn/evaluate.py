"""Exact losses: every character of a text scored once, with the state carried.

The text is cut into a few contiguous streams that run side by side (for speed); each
stream carries its state from chunk to chunk, and the characters that do not fill the
last row are scored afterwards by continuing the last stream's state. The result is the
true per-character mean over the whole text, not an estimate from sampled windows.
`text_loss` scores any text (`charrnn eval`) as one stream read in chunks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from charrnn.decode import Decoder
from charrnn.errors import CorpusError
from charrnn.model import CharRNN, State, select_state


def _score(model: CharRNN, x: torch.Tensor, y: torch.Tensor, state: State, chunk: int):
    """Summed negative log-likelihood of y given x, chunk by chunk, and the final state."""
    total = 0.0
    for start in range(0, x.shape[1], chunk):
        xs, ys = x[:, start : start + chunk].long(), y[:, start : start + chunk].long()
        logits, state = model(xs, state)
        total += F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), ys.reshape(-1), reduction="sum"
        ).item()
    return total, state


@torch.inference_mode()
def mean_nll(model: CharRNN, ids: torch.Tensor, streams: int = 16, chunk: int = 256) -> float:
    """Mean negative log-likelihood in nats per predicted character of `ids`."""
    count = ids.numel() - 1
    if count < 1:
        raise ValueError("need at least two characters to measure a loss")
    streams = max(1, min(streams, count // chunk or 1))
    row = count // streams
    was_training = model.training
    model.eval()
    try:
        x = ids[: streams * row].view(streams, row)
        y = ids[1 : streams * row + 1].view(streams, row)
        total, state = _score(model, x, y, model.initial_state(streams), chunk)
        rest = count - streams * row
        if rest:
            last = select_state(state, torch.tensor([streams - 1], device=ids.device))
            tail_x = ids[streams * row : count].view(1, rest)
            tail_y = ids[streams * row + 1 : count + 1].view(1, rest)
            extra, _ = _score(model, tail_x, tail_y, last, chunk)
            total += extra
    finally:
        model.train(was_training)
    return total / count


def bits(nats: float) -> float:
    """Nats per character -> bits per character."""
    return nats / math.log(2)


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
    is scored like any start of a text (see `charrnn.decode`); `on_chars` hears progress."""
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
