"""What a model reads from the zero state before a text's first character: nothing (one
text), its end symbol (documents, or many files), or a label (labelled files; after the
end symbol when the files were one stream). Decoding and the samples training shows
both open a text here, exactly as training read each one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from charrnn.data.vocab import Vocab


@dataclass(frozen=True)
class Opening:
    """What a model reads from the zero state before a text's first character."""

    end_id: int | None = None  # a model of documents or files: its end symbol
    labels: int = 0  # label ids follow the end symbol
    default_label: int | None = None  # the id read when no label is asked for
    after_end: bool = False  # files learned as one stream: a label follows an end symbol

    def read(self, prime: torch.Tensor) -> torch.Tensor:
        """The ids read from the zero state before the first draw after `prime`."""
        prime = prime.long()
        if self.end_id is None:
            return prime
        if self.labels and not (prime.numel() and self.is_label(int(prime[0]))):
            prime = torch.cat([torch.tensor([self.default_label]), prime])
        if self.labels and not self.after_end:
            return prime
        return torch.cat([torch.tensor([self.end_id]), prime])

    def is_label(self, i: int) -> bool:
        return self.end_id is not None and self.end_id < i <= self.end_id + self.labels


def opening_for(vocab: Vocab, stream_of_files: bool) -> Opening:
    """A model's opening from its vocabulary (the default label: the one most training
    files carry) and whether its files were learned as one stream."""
    if vocab.end_id is None:
        return Opening()
    counts = vocab.counts[vocab.end_id + 1 :]
    default = (vocab.end_id + 1 + max(range(len(counts)), key=counts.__getitem__)
               if counts else None)
    return Opening(vocab.end_id, len(vocab.labels), default, after_end=stream_of_files)
