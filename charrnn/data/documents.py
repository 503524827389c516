"""Lists of short texts: a corpus cut into documents, each learned from the start state.

    --documents lines        every non-empty line is a document (names, titles, jokes)
    --documents paragraphs   documents are separated by blank lines (poems, recipes)

A document is read exactly as it will be sampled. The end-of-document symbol (an id of
its own in the vocabulary, never printed) is what the model reads first, from the zero
state, and what it must predict after the last character::

    input:   <end>  M  a  r  y
    target:    M    a  r  y  <end>

Training batches hold documents of similar length (sorted by length, ties in a seeded
random order, cut into batches whose order is shuffled every epoch), so padding wastes
little; or, with `order="random"` (--batch-order random), documents drawn at random each
epoch, at the cost of more padding (a third on makemore's names) and in exchange for
batches that are not all one length (on those names: as low a loss, or lower, in
fewer steps). A batch is read in windows of --seq-len with the state carried inside it,
and every batch starts from the zero state, so no document ever sees another.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from charrnn.data.streams import StreamPosition
from charrnn.errors import CorpusError

MODES = ("lines", "paragraphs")
IGNORE = -1  # the target of a padding position: not scored


@dataclass(frozen=True)
class Documents:
    """Where each document lies in a text's ids: start offsets and lengths (int64)."""

    starts: torch.Tensor
    lengths: torch.Tensor

    def __len__(self) -> int:
        return self.starts.numel()

    @property
    def chars(self) -> int:
        return int(self.lengths.sum())

    def pick(self, index: torch.Tensor) -> Documents:
        return Documents(self.starts[index], self.lengths[index])


def find_documents(ids: torch.Tensor, newline: int | None, mode: str) -> Documents:
    """The documents of a text of ids (no Python loop over characters). `newline` is the
    id of "\\n" (None: the text has none, so it is one document)."""
    if mode not in MODES:
        raise CorpusError(f"--documents must be one of {', '.join(MODES)}, not {mode!r}")
    total = ids.numel()
    breaks = (torch.nonzero(ids == newline).flatten() if newline is not None
              else torch.zeros(0, dtype=torch.long))
    starts = torch.cat([torch.zeros(1, dtype=torch.long), breaks + 1])
    ends = torch.cat([breaks, torch.tensor([total])])
    filled = ends > starts  # the lines that hold something
    if mode == "lines":
        return Documents(starts[filled], (ends - starts)[filled])
    before = torch.cat([torch.tensor([False]), filled[:-1]])
    after = torch.cat([filled[1:], torch.tensor([False])])
    first, last = filled & ~before, filled & ~after  # a paragraph's first and last lines
    return Documents(starts[first], ends[last] - starts[first])


def split_documents(docs: Documents, val_frac: float, seed: int,
                    val_max_chars: int) -> tuple[Documents, Documents]:
    """A seeded random `val_frac` of the documents (at least one, and no more characters
    than `val_max_chars` allows) held out; the rest, in their order, are for training."""
    if len(docs) == 0:
        raise CorpusError("the corpus holds no documents: every one of them is empty")
    if len(docs) == 1:  # one long text: its end is held out as a document of its own
        length = int(docs.lengths[0])
        held = min(max(1, round(length * val_frac)), val_max_chars, length - 1)
        if length < 2:
            raise CorpusError("the corpus holds one document of 1 character; there is "
                              "nothing to hold out for validation (pass --val-file)")
        start = int(docs.starts[0])
        return (Documents(docs.starts, docs.lengths - held),
                Documents(torch.tensor([start + length - held]), torch.tensor([held])))
    order = torch.randperm(len(docs), generator=torch.Generator().manual_seed(seed))
    count = min(max(1, round(len(docs) * val_frac)), len(docs) - 1)
    held = order[:count]
    fits = torch.cumsum(docs.lengths[held] + 1, 0) <= max(val_max_chars, 2)
    held = held[: max(1, int(fits.sum()))]
    kept = torch.ones(len(docs), dtype=torch.bool)
    kept[held] = False
    return docs.pick(torch.nonzero(kept).flatten()), docs.pick(held.sort().values)


def document_batch(ids: torch.Tensor, docs: Documents, end: int,
                   rows: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets (rows, longest + 1) of documents side by side; padding reads
    `end` and its targets are IGNORE. Extra rows (up to `rows`) are all padding."""
    rows = rows or len(docs)
    width = int(docs.lengths.max()) + 1 if len(docs) else 1
    column = torch.arange(width)
    inside = column[None, :] < docs.lengths[:, None]  # (docs, width): a character's place
    where = (docs.starts[:, None] + column[None, :]).clamp_(max=max(ids.numel() - 1, 0))
    chars = torch.where(inside, ids[where].long(), torch.tensor(IGNORE))
    targets = torch.full((rows, width), IGNORE, dtype=torch.long)
    targets[: len(docs)] = chars
    targets[torch.arange(len(docs)), docs.lengths] = end
    inputs = torch.full((rows, width), end, dtype=torch.long)
    inputs[: len(docs), 1:] = torch.where(chars[:, :-1] >= 0, chars[:, :-1], end)
    return inputs, targets


class DocumentBatcher:
    """Training windows of documents: the same interface as `StreamBatcher` (`next`,
    `position`, `windows_per_epoch`), where a fresh batch, not only a fresh epoch,
    starts from the zero state."""

    def __init__(self, ids: torch.Tensor, docs: Documents, end: int, batch_size: int,
                 seq_len: int, seed: int, order: str = "length"):
        if len(docs) == 0:
            raise CorpusError("there are no training documents (are they all empty?)")
        self.ids, self.docs, self.end = ids, docs, end
        self.batch_size, self.seq_len, self.seed, self.order = batch_size, seq_len, seed, order
        self.position = StreamPosition()
        self._epoch: int | None = None  # the epoch whose batches are planned
        self._current: tuple[int, torch.Tensor, torch.Tensor] | None = None  # batch, x, y
        widths = self._batches(0)[1]  # by length: every epoch has these, in another order
        self.windows_per_epoch = int(sum(-(-w // seq_len) for w in widths))  # (epoch 0's)
        self.padding = 1.0 - (docs.chars + len(docs)) / float(sum(w * batch_size
                                                                  for w in widths))

    def _batches(self, epoch: int) -> tuple[list[torch.Tensor], list[int]]:
        """The document indices of each batch of an epoch, and each batch's width."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        if self.order == "random":
            order = torch.randperm(len(self.docs), generator=generator)
        else:  # by length, ties in a random order
            jitter = torch.rand(len(self.docs), generator=generator, dtype=torch.float64)
            order = torch.argsort(self.docs.lengths.double() + jitter)
        batches = list(order.split(self.batch_size))
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator)]
        widths = [int(self.docs.lengths[b].max()) + 1 for b in batches]
        return batches, widths

    def _plan(self, epoch: int) -> None:
        if self._epoch != epoch:
            batches, widths = self._batches(epoch)
            windows = torch.tensor([-(-w // self.seq_len) for w in widths])
            self._epoch, self._members = epoch, batches
            self._first_window = torch.cumsum(windows, 0) - windows
            self._windows = int(windows.sum())  # random batches: it varies by epoch

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """The next window, and whether it starts a batch (time to reset the state)."""
        pos = self.position
        self._plan(pos.epoch)
        if pos.window >= self._windows:
            pos.epoch, pos.window = pos.epoch + 1, 0
            self._plan(pos.epoch)
        batch = int(torch.searchsorted(self._first_window, pos.window, right=True)) - 1
        offset = pos.window - int(self._first_window[batch])
        if self._current is None or self._current[0] != batch or offset == 0:
            members = self._members[batch]
            self._current = (batch, *document_batch(self.ids, self.docs.pick(members),
                                                    self.end, self.batch_size))
        _, inputs, targets = self._current
        cut = slice(offset * self.seq_len, (offset + 1) * self.seq_len)
        pos.window += 1
        return inputs[:, cut], targets[:, cut], offset == 0
