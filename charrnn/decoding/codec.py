"""Text to ids and back for generation: a prime and stop strings encoded once per
request, and drawn ids decoded as a stream (a byte-level model's multi-byte characters
held back until they are whole). Sampling, beam search, sessions and the batcher all
speak to the vocabulary through this one object."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch

from charrnn.data.vocab import Vocab
from charrnn.errors import VocabError


class TextCodec:
    """The vocabulary's encoding rules as decoding needs them. `field` arguments name
    the setting an unknown character came in, so an error says which one."""

    def __init__(self, vocab: Vocab):
        self.vocab = vocab

    def prime(self, text: str, field: str = "prime", label: str | None = None) -> torch.Tensor:
        """The ids of a setting's text; a character the model never saw raises a
        `VocabError` that names the setting. With `label`, the label's id first (what a
        text in its style is read after; an unknown one raises, listing the labels)."""
        try:
            ids = self.vocab.encode(text, field)
        except VocabError as exc:
            raise VocabError(str(exc), field=field) from None
        return self.vocab.under_label(ids, label)

    def encode(self, text: str) -> torch.Tensor:
        """The ids of text the model reads (fed to a session, scored); an unknown
        character raises a `VocabError` that names the field `text`."""
        return self.prime(text, "text")

    def stops(self, stop: str | Sequence[str], field: str = "stop") -> list[np.ndarray]:
        """Stop strings as id arrays (empty ones dropped); a model of documents also
        stops at its end symbol (and at a label, which it is never meant to write)."""
        stops = [stop] if isinstance(stop, str) else list(stop)
        ids = [self.prime(s, field).numpy() for s in stops if s]
        return ids + [np.array([i], dtype=np.int64)  # the end symbol and labels, if any
                      for i in range(self.vocab.text_size, len(self.vocab))]

    def pieces(self, ids: Iterable[int]) -> Iterator[str]:
        """Text as the ids arrive: each piece as soon as it is whole."""
        text = self.vocab.streaming_text()
        for i in ids:
            if piece := text.feed(i):
                yield piece
        if tail := text.flush():
            yield tail

    def texts(self, rows: Iterable[Iterable[int]]) -> list[str]:
        """Whole texts of id rows (a negative id, a row that had ended, is skipped)."""
        return [self.vocab.decode(i for i in row if i >= 0) for row in rows]

    def symbol(self, i: int) -> str:
        """One id as text; a document's end symbol (and a label) is ""."""
        return self.vocab.decode([i])
