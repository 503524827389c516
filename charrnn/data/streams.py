"""The truncated-BPTT batcher: B contiguous streams read T characters at a time.

The training text is cut into `batch_size` equal streams, one per row::

    text:    a0 a1 a2 ... aL | b0 b1 b2 ... bL | c0 ...
    row 0:   a0 a1 a2 a3 a4 a5 a6 a7 ...
    row 1:   b0 b1 b2 b3 b4 b5 b6 b7 ...
             \\__ step 0 __/\\__ step 1 __/          (seq_len = 4 here)

Step t feeds columns [t*T, (t+1)*T) of every row, and the targets are the same columns
shifted one character to the right. Row i of step t+1 therefore continues exactly
where row i of step t stopped, so the hidden state carried from step to step (and
detached) always belongs to the text that follows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from charrnn.errors import CorpusError


class TextByPosition(Protocol):
    """A text too long to join, read by position (`sources.PiecedText`)."""

    def numel(self) -> int: ...

    def read(self, positions: torch.Tensor) -> torch.Tensor: ...


@dataclass
class StreamPosition:
    """Where the batcher is: which epoch and which window of it comes next."""

    epoch: int = 0
    window: int = 0


class StreamBatcher:
    """Windows of `ids` (any integer tensor, e.g. a uint8 memory map; or a text read by
    position, `TextByPosition`, which is never joined) for truncated BPTT."""

    def __init__(self, ids: torch.Tensor | TextByPosition, batch_size: int, seq_len: int):
        usable = ids.numel() - 1  # the last character is only ever a target
        if usable < seq_len:
            raise CorpusError(
                f"training text has {ids.numel()} characters; `seq_len` {seq_len} needs "
                f"at least {seq_len + 1}"
            )
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.stream_len = usable // batch_size
        if self.stream_len < seq_len:
            raise CorpusError(
                f"training text of {ids.numel()} characters is too short for "
                f"`batch_size` {batch_size} x `seq_len` {seq_len}"
            )
        span = batch_size * self.stream_len
        self.pieced = None if isinstance(ids, torch.Tensor) else ids
        if self.pieced is None:
            self.inputs = ids[:span].view(batch_size, self.stream_len)
            self.targets = ids[1 : span + 1].view(batch_size, self.stream_len)
        self.windows_per_epoch = self.stream_len // seq_len
        self.position = StreamPosition()

    @staticmethod
    def fitting_batch_size(num_ids: int, batch_size: int, seq_len: int) -> int:
        """The largest batch size <= batch_size whose streams hold one full window."""
        return max(1, min(batch_size, (num_ids - 1) // seq_len))

    def window(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of window `index`, both (batch_size, seq_len) int64."""
        start = index * self.seq_len
        end = start + self.seq_len
        if self.pieced is not None:  # row r reads the text from r * stream_len on
            rows = torch.arange(self.batch_size)[:, None] * self.stream_len
            window = self.pieced.read(rows + torch.arange(start, end + 1))
            return window[:, :-1], window[:, 1:]
        return self.inputs[:, start:end].long(), self.targets[:, start:end].long()

    def restarts(self, inputs: torch.Tensor) -> None:
        """A stream's state never returns to zero inside a window (documents' can)."""
        return None

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """The next window, and whether it starts a new epoch (time to reset the state)."""
        pos = self.position
        if pos.window >= self.windows_per_epoch:
            pos.epoch += 1
            pos.window = 0
        starts_epoch = pos.window == 0
        x, y = self.window(pos.window)
        pos.window += 1
        return x, y, starts_epoch
