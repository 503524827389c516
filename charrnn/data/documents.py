"""Lists of short texts: a corpus cut into documents, each learned from the start state.

    --documents lines        every non-empty line is a document (names, titles, jokes)
    --documents paragraphs   documents are separated by blank lines (poems, recipes)

A document is read exactly as it will be sampled. The end-of-document symbol (an id of
its own in the vocabulary, never printed) is what the model reads first, from the zero
state, and what it must predict after the last character::

    input:   <end>  M  a  r  y
    target:    M    a  r  y  <end>

Three ways to batch them (--batch-order), each reading a batch in windows of --seq-len
with the state carried inside it, and each batch from the zero state:

    length   one document a row, batches of similar length (sorted by length, ties in
             a seeded random order, batch order shuffled every epoch): little padding,
             but every batch is one length
    random   one document a row, drawn at random each epoch: batches of every length,
             at the cost of padding (a third on makemore's names)
    packed   rows as wide as the longest document, filled with documents in a random
             order one after another (about 10% padding on the names); the state
             returns to zero where each begins (`restarts`), so none sees another
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
    """Where each document lies in a text's ids: start offsets and lengths (int64).
    Documents of labelled files also carry `firsts`, the symbol each is read after (its
    label; else the end symbol), and weighted ones `weights`, how often each is drawn in
    an epoch (as if repeated; see `drawn`)."""

    starts: torch.Tensor
    lengths: torch.Tensor
    firsts: torch.Tensor | None = None
    weights: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.starts.numel()

    @property
    def chars(self) -> int:
        return int(self.lengths.sum())

    def pick(self, index: torch.Tensor) -> Documents:
        return Documents(self.starts[index], self.lengths[index],
                         None if self.firsts is None else self.firsts[index],
                         None if self.weights is None else self.weights[index])

    def drawn(self, generator: torch.Generator) -> Documents:
        """The documents of one epoch: each `floor(weight)` times, and once more with
        probability its fraction (so weight 3 is three times, 0.5 every other epoch)."""
        if self.weights is None or bool((self.weights == 1).all()):
            return self
        whole = self.weights.floor()
        extra = torch.rand(len(self), generator=generator, dtype=torch.float64) \
            < (self.weights - whole)
        copies = whole.long() + extra.long()
        if int(copies.sum()) == 0:  # every weight below 1 and none drawn: the heaviest
            copies[int(self.weights.argmax())] = 1
        return self.pick(torch.repeat_interleave(torch.arange(len(self)), copies))


def find_documents(ids: torch.Tensor, newline: int | None, mode: str,
                   breaks_from: int | None = None) -> Documents:
    """The documents of a text of ids (no Python loop over characters). `newline` is the
    id of "\\n" (None: the text has none, so it is one document); ids of `breaks_from`
    or above (the symbols between the files of a many-file corpus) end a line, and a
    paragraph too: a file that does not end in a newline ends its last paragraph there."""
    if mode not in MODES:
        raise CorpusError(f"documents must be one of {', '.join(MODES)}, not {mode!r}",
                          field="documents")
    total = ids.numel()
    breaking = ids == newline if newline is not None else torch.zeros(total, dtype=torch.bool)
    if breaks_from is not None:
        breaking |= ids >= breaks_from
    breaks = torch.nonzero(breaking).flatten()
    starts = torch.cat([torch.zeros(1, dtype=torch.long), breaks + 1])
    ends = torch.cat([breaks, torch.tensor([total])])
    filled = ends > starts  # the lines that hold something
    if mode == "lines":
        return Documents(starts[filled], (ends - starts)[filled])
    between_files = (ids[breaks] >= breaks_from if breaks_from is not None
                     else torch.zeros(len(breaks), dtype=torch.bool))
    # lines i and i + 1 share a paragraph where both hold text and a newline parts them
    joined = filled[:-1] & filled[1:] & ~between_files
    none = torch.tensor([False])
    first = filled & ~torch.cat([none, joined])  # a paragraph's first and last lines
    last = filled & ~torch.cat([joined, none])
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
                              "nothing to hold out for validation (pass `val_file`)")
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
    """Inputs and targets (rows, longest + 1) of documents side by side, one a row;
    padding reads `end` and its targets are IGNORE. Extra rows (up to `rows`) are all
    padding."""
    width = int(docs.lengths.max()) + 1 if len(docs) else 1
    return packed_batch(ids, docs, torch.arange(len(docs)), torch.zeros(len(docs),
                        dtype=torch.long), end, rows or len(docs), width)


def packed_batch(ids: torch.Tensor, docs: Documents, row: torch.Tensor, column: torch.Tensor,
                 end: int, rows: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets (rows, width) with document k read from (row[k], column[k])
    on: its end symbol as input, then its characters, each predicting the next and the
    last predicting the end symbol. Every other place is padding (input `end`, target
    IGNORE). No Python loop: every symbol's place is computed at once."""
    symbols = docs.lengths + 1
    owner = torch.repeat_interleave(torch.arange(len(docs)), symbols)  # a symbol's document
    first = torch.cumsum(symbols, 0) - symbols
    step = torch.arange(int(symbols.sum())) - first[owner]  # 0 .. length of its document
    place = row[owner] * width + column[owner] + step
    start, length = docs.starts[owner], docs.lengths[owner]
    last = max(ids.numel() - 1, 0)
    inputs = torch.full((rows * width,), end, dtype=torch.long)
    targets = torch.full((rows * width,), IGNORE, dtype=torch.long)
    if docs.firsts is not None:  # a labelled document is read after its label
        opening = step == 0
        inputs[place[opening]] = docs.firsts[owner[opening]].long()
    reading = step > 0
    inputs[place[reading]] = ids[(start + step - 1)[reading].clamp(max=last)].long()
    inside = step < length
    targets[place[inside]] = ids[(start + step)[inside].clamp(max=last)].long()
    targets[place[~inside]] = end
    return inputs.view(rows, width), targets.view(rows, width)


def pack(symbols: list[int], rows: int, width: int, patience: int = 8) -> list[list[tuple]]:
    """Documents of `symbols` symbols each, taken in the given order, placed into batches
    of `rows` rows of `width` (no document is wider): each goes to the first row with
    room. One that fits nowhere waits for the next batch, which it starts; a batch closes
    once `patience` documents wait. Returns each batch's (document, row, column) triples.
    On makemore's names this leaves about 10% padding."""
    batches, waiting, queue = [], [], list(range(len(symbols)))
    while queue:
        filled, placed, waiting = [0] * rows, [], []
        for position, doc in enumerate(queue):  # noqa: B007 (read after the loop)
            size = symbols[doc]
            row = next((r for r in range(rows) if filled[r] + size <= width), None)
            if row is None:
                waiting.append(doc)
                if len(waiting) >= patience:
                    break
                continue
            placed.append((doc, row, filled[row]))
            filled[row] += size
        else:
            position = len(queue)
        batches.append(placed)
        queue = waiting + queue[position + 1:]
    return batches


class DocumentBatcher:
    """Training windows of documents: the same interface as `StreamBatcher` (`next`,
    `position`, `windows_per_epoch`), where a fresh batch, not only a fresh epoch,
    starts from the zero state.

    A batch is `batch_size` documents one a row (orders "length" and "random"), or, with
    order "packed", `batch_size` rows as wide as the longest document, filled with
    documents in a random order; `restarts` then marks where each row's next document
    begins."""

    def __init__(self, ids: torch.Tensor, docs: Documents, end: int, batch_size: int,
                 seq_len: int, seed: int, order: str = "length"):
        if len(docs) == 0:
            raise CorpusError("there are no training documents (are they all empty?)")
        self.ids, self.docs, self.end = ids, docs, end
        self.batch_size, self.seq_len, self.seed, self.order = batch_size, seq_len, seed, order
        self.position = StreamPosition()
        self._epoch: int | None = None  # the epoch whose batches are planned
        self._current: tuple[int, torch.Tensor, torch.Tensor] | None = None  # batch, x, y
        self._plan(0)
        self.windows_per_epoch = self._windows  # (epoch 0's; random orders vary by epoch)
        self.padding = 1.0 - (self._docs.chars + len(self._docs)) / float(self._places)

    def restarts(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """Where the state returns to zero inside a window: before every document of a
        packed row (its first input is the end symbol or its label; padding's is the end
        symbol, harmlessly).
        None for the other orders, whose rows hold one document each."""
        return inputs >= self.end if self.order == "packed" else None  # end, or a label

    def _batches(self, epoch: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]]:
        """Each batch of an epoch: its documents, their rows and columns, and its width."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        docs = self._drawn = self.docs.drawn(generator)
        if self.order == "packed":
            order = torch.randperm(len(docs), generator=generator)
            symbols = (docs.lengths[order] + 1).tolist()
            batches = pack(symbols, self.batch_size, max(symbols))
            return [(order[torch.tensor([d for d, _, _ in b])], torch.tensor([r for _, r, _ in b]),
                     torch.tensor([c for _, _, c in b]),
                     max(c + symbols[d] for d, _, c in b))  # as wide as it is filled
                    for b in batches]
        if self.order == "random":
            order = torch.randperm(len(docs), generator=generator)
        else:  # by length, ties in a random order
            jitter = torch.rand(len(docs), generator=generator, dtype=torch.float64)
            order = torch.argsort(docs.lengths.double() + jitter)
        groups = list(order.split(self.batch_size))
        groups = [groups[i] for i in torch.randperm(len(groups), generator=generator)]
        return [(g, torch.arange(len(g)), torch.zeros(len(g), dtype=torch.long),
                 int(docs.lengths[g].max()) + 1) for g in groups]

    def _plan(self, epoch: int) -> None:
        if self._epoch != epoch:
            batches = self._batches(epoch)
            windows = torch.tensor([-(-width // self.seq_len) for *_, width in batches])
            self._epoch, self._members, self._docs = epoch, batches, self._drawn
            self._first_window = torch.cumsum(windows, 0) - windows
            self._windows = int(windows.sum())
            self._places = sum(width * self.batch_size for *_, width in batches)

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
            members, row, column, width = self._members[batch]
            self._current = (batch, *packed_batch(self.ids, self._docs.pick(members), row,
                                                  column, self.end, self.batch_size, width))
        _, inputs, targets = self._current
        cut = slice(offset * self.seq_len, (offset + 1) * self.seq_len)
        pos.window += 1
        return inputs[:, cut], targets[:, cut], offset == 0
