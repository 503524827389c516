"""A corpus of many files as the loop reads it (cut by `data/weighted_sources.py`): labels read
but never scored, and validation reported per source.

As one stream the state runs on from file to file, and what is predicted after an end
symbol (the next file's label) is not scored: a label is given, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from charrnn.data.documents import IGNORE
from charrnn.data.files import FileTable
from charrnn.data.streams import StreamBatcher
from charrnn.model.network import CharRNN
from charrnn.training.report import Reporter


@dataclass
class SourcedValidation:
    """Held-out text per source; `sums` scores them all and keeps each one's loss."""

    parts: dict[str, object]  # source -> StreamValidation or DocumentValidation
    last: dict[str, float] = field(default_factory=dict)  # nats per symbol, last `sums`

    def sums(self, model: CharRNN) -> tuple[float, int]:
        total, count = 0.0, 0
        for name, part in self.parts.items():
            nats, n = part.sums(model)
            self.last[name] = nats / max(n, 1)
            total, count = total + nats, count + n
        return total, count

    def probe(self, model: CharRNN) -> float:
        return sum(part.probe(model) for part in self.parts.values())


class LabelledStreams(StreamBatcher):
    """Streams whose targets from `ignore_from` on (labels) are not scored."""

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int, ignore_from: int):
        super().__init__(ids, batch_size, seq_len)
        self.ignore_from = ignore_from

    def window(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = super().window(index)
        return x, y.masked_fill(y >= self.ignore_from, IGNORE)


def check_sources(table: FileTable, report: Reporter) -> None:
    """Say what was skipped; refuse a corpus of labels where a label lost all its files."""
    if table.skipped:
        what = ", ".join(f"{n} {why}" for why, n in table.skipped.items())
        report.on_message(f"skipped {sum(table.skipped.values())} file(s) of the corpus "
                          f"({what}); pass `strict` to refuse them instead")
