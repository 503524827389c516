"""A corpus of many files, cut the way training reads it: whole files held out per source,
files drawn by weight, each text after its label and ended by the end symbol.

Held out: in each source of two or more files, a seeded `val_frac` of its files (at least
one, never all; seeded by the source's name, so a source alone holds out the same files);
a source of one file holds out that file's last `val_frac` (of its documents, with
`documents` lines or paragraphs). So every source is validated, and none is only
validated.

Drawn: with `documents`, each epoch draws every document `weight` times (`Documents.
drawn`); as one stream, the training text is the files one after another, a file of
weight 3 three times (in three rounds through the files, so its copies are apart).

Training (`training/per_source.py`) and novelty (`decoding/novelty.py`) both cut here, so a
model's held-out files are known again from its checkpoint.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import torch

from charrnn.data.cache import PreparedCorpus
from charrnn.data.documents import Documents, find_documents, split_documents
from charrnn.data.files import FileTable
from charrnn.data.vocab import Vocab
from charrnn.errors import CorpusError


@dataclass(frozen=True)
class Units:
    """Pieces of the corpus (whole files, a file's head or tail, or documents) and the
    file each belongs to."""

    docs: Documents
    files: torch.Tensor

    def of(self, mask: torch.Tensor) -> Units:
        index = torch.nonzero(mask).flatten()
        return Units(self.docs.pick(index), self.files[index])


@dataclass(frozen=True)
class SourceShare:
    """What the start line says of a source."""

    name: str
    share: float  # of the characters a training epoch draws
    files: int  # files it holds (all of them, held-out ones included)
    held_files: int  # of them held out whole (0: a one-file source's tail is held out)


def file_units(corpus: PreparedCorpus) -> Units:
    """The corpus's files as units (one stream, or `documents` files), or its documents
    (lines, paragraphs) with the file each lies in."""
    table, vocab, mode = corpus.files, corpus.vocab, corpus.data.documents
    firsts = first_symbols(table, vocab)
    weights = torch.tensor(table.weights, dtype=torch.float64)
    if mode in (None, "files"):
        files = torch.arange(len(table))
    else:
        found = find_documents(corpus.ids, vocab.index.get("\n"), mode,
                               breaks_from=vocab.end_id)
        files = torch.searchsorted(table.starts, found.starts, right=True) - 1
    starts = table.starts if mode in (None, "files") else found.starts
    lengths = table.lengths if mode in (None, "files") else found.lengths
    return Units(Documents(starts, lengths, firsts[files], weights[files]), files)


def first_symbols(table: FileTable, vocab: Vocab) -> torch.Tensor:
    """The symbol each file's text is read after: its label's, or the end symbol."""
    return torch.tensor([vocab.label_id(label) if label is not None else vocab.end_id
                         for label in table.labels], dtype=torch.long)


def split_by_source(units: Units, table: FileTable, val_frac: float, seed: int,
                    val_max_chars: int) -> tuple[Units, Units]:
    """(training units, held-out units): whole files per source, or a one-file source's
    tail (see the module doc). Seeded, so a resumed run holds out the same."""
    sources = table.source_index
    cap = max(2, val_max_chars // max(len(table.source_names), 1))
    held_file = torch.zeros(len(table), dtype=torch.bool)
    cut_file = torch.zeros(len(table), dtype=torch.bool)  # one-file sources, cut below
    train, held = [], []
    for s in range(len(table.source_names)):
        members = torch.nonzero(sources == s).flatten()
        members = members[torch.isin(members, units.files)]  # files with some text
        if len(members) >= 2:  # seeded by source, so a source alone holds out the same
            generator = torch.Generator().manual_seed(
                seed * 1_000_003 + zlib.crc32(table.source_names[s].encode()))
            order = members[torch.randperm(len(members), generator=generator)]
            count = min(max(1, round(len(members) * val_frac)), len(members) - 1)
            fits = torch.cumsum(table.lengths[order[:count]] + 1, 0) <= cap
            held_file[order[: max(1, int(fits.sum()))]] = True
        elif len(members) == 1:
            cut_file[members[0]] = True
            mine = units.of(units.files == members[0])
            kept, tail = split_documents(mine.docs, val_frac, seed, cap)
            train.append(_like(kept, mine))
            held.append(_like(tail, mine))
    whole = ~cut_file[units.files]
    train.insert(0, units.of(whole & ~held_file[units.files]))
    held.insert(0, units.of(whole & held_file[units.files]))
    return _joined(train), _joined(held)


def _like(docs: Documents, mine: Units) -> Units:
    """Documents cut from one file's units, carrying that file's first symbol, weight
    and index."""
    n = len(docs)
    return Units(Documents(docs.starts, docs.lengths, mine.docs.firsts[:1].repeat(n),
                           mine.docs.weights[:1].repeat(n)), mine.files[:1].repeat(n))


def _joined(parts: list[Units]) -> Units:
    docs = [p.docs for p in parts]
    return Units(Documents(torch.cat([d.starts for d in docs]),
                           torch.cat([d.lengths for d in docs]),
                           torch.cat([d.firsts for d in docs]),
                           torch.cat([d.weights for d in docs])),
                 torch.cat([p.files for p in parts]))


@dataclass(frozen=True)
class PiecedText:
    """A text made of pieces of the corpus's ids, each after a head symbol (its label) and
    before a tail symbol (the end symbol) where it has one, read by position and never
    joined: a weighted epoch repeats pieces up to MAX_WEIGHT times, and joining them
    would hold the text that many times over. Reading costs a search over the pieces."""

    ids: torch.Tensor  # the corpus's ids
    starts: torch.Tensor  # int64, per piece: where its text starts in `ids`
    lengths: torch.Tensor  # int64: how many ids of text
    heads: torch.Tensor  # int64: the symbol before its text, or -1
    tails: torch.Tensor  # int64: the symbol after its text, or -1
    offsets: torch.Tensor  # int64: where each piece starts in the text, and its end

    def numel(self) -> int:
        return int(self.offsets[-1])

    def read(self, positions: torch.Tensor) -> torch.Tensor:
        """The text's ids (int64) at `positions` (any shape, each in [0, numel()))."""
        piece = torch.searchsorted(self.offsets, positions, right=True) - 1
        within = positions - self.offsets[piece]
        head = self.heads[piece]
        k = within - (head >= 0).long()  # the position in the piece's text
        length = self.lengths[piece]
        at = (self.starts[piece] + k.clamp(min=0)).clamp(max=max(self.ids.numel() - 1, 0))
        text = self.ids[at].long()
        return torch.where(k < 0, head, torch.where(k >= length, self.tails[piece], text))

    def joined(self) -> torch.Tensor:
        """The whole text as one tensor of the corpus's dtype (for a text read once)."""
        return self.read(torch.arange(self.numel())).to(self.ids.dtype)


def stream_text(corpus: PreparedCorpus, units: Units, rounds: bool, seed: int) -> PiecedText:
    """The units as one text, each after its label (when labelled) and ended by the end
    symbol where its file ends; with `rounds`, as many times as its weight (the order
    is drawn, the text never copied: `PiecedText`)."""
    table, vocab = corpus.files, corpus.vocab
    order = _weighted_order(units.docs.weights, seed) if rounds else torch.arange(len(units.docs))
    starts, lengths = units.docs.starts[order].long(), units.docs.lengths[order].long()
    files = units.files[order]
    heads = (units.docs.firsts[order].long() if vocab.labels
             else torch.full_like(starts, -1))
    ends_file = starts + lengths == (table.starts + table.lengths)[files]
    tails = torch.where(ends_file, torch.full_like(starts, vocab.end_id), -1)
    sizes = lengths + (heads >= 0).long() + (tails >= 0).long()
    if int(sizes.sum()) == 0:
        raise CorpusError("there is no training text (are the files all empty?)")
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(sizes, 0)])
    return PiecedText(corpus.ids, starts, lengths, heads, tails, offsets)


def _weighted_order(weights: torch.Tensor, seed: int) -> torch.Tensor:
    """Unit indices in rounds through the units: round r takes those whose weight is
    above r (a fractional last copy is taken with that probability, seeded). One sort of
    the copies by (round, unit), not a pass per round: a unit has at most `MAX_WEIGHT`
    + 1 copies (`files.parse_weight`), so the order is at most that times the units."""
    generator = torch.Generator().manual_seed(seed)
    whole = weights.floor()
    copies = whole.long() + (torch.rand(len(weights), generator=generator,
                                        dtype=torch.float64) < weights - whole).long()
    if int(copies.sum()) == 0:  # every weight below 1 and none drawn: each once
        copies[:] = 1
    unit = torch.repeat_interleave(torch.arange(len(copies)), copies)
    copy = torch.arange(len(unit)) - (torch.cumsum(copies, 0) - copies)[unit]  # its round
    return unit[torch.argsort(copy * len(copies) + unit)]


def shares(units: Units, held: Units, table: FileTable) -> tuple[SourceShare, ...]:
    """Each source's share of a training epoch (characters times weight) and its files."""
    sources = table.source_index
    drawn = units.docs.lengths.double() * units.docs.weights
    per_source = torch.zeros(len(table.source_names), dtype=torch.float64)
    per_source.index_add_(0, sources[units.files], drawn)
    total = float(per_source.sum()) or 1.0
    held_whole = set(held.files.tolist()) - set(units.files.tolist())
    return tuple(SourceShare(name, float(per_source[s]) / total,
                             int((sources == s).sum()),
                             sum(1 for f in held_whole if int(sources[f]) == s))
                 for s, name in enumerate(table.source_names))
