"""Symbols <-> ids at two levels, stored in the checkpoint.

- `Vocab` ("char" level): the sorted Unicode code points of a corpus.
- `ByteVocab` ("byte" level): the 256 byte values, so any file at all can be learned.
  Text coming in (a prime) is encoded as UTF-8; bytes coming out are decoded as UTF-8
  with `surrogateescape`, which is lossless (`encode` gives the same bytes back), and
  `display` replaces incomplete sequences for printing.

Both carry per-symbol counts from the training corpus: they give the distribution of a
text's first symbol, which is what an empty prime means (see `charrnn.decoding.decoder`).
A model of documents (`--documents`) adds one more id after the symbols: the end of a
document, which is also what a document's first character follows (`documents.py`); it
decodes to nothing. A model of labelled texts (`--label-from`) adds one id per label after
that: what a text of that label is read after (`data/files.py`); they decode to nothing.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from charrnn.errors import CheckpointError, VocabError

UNICODE_SIZE = 0x110000
MAX_COUNT = 2**62  # a symbol's count in a stored vocabulary: int64 holds it, sums too
_PIECE = 1 << 22  # ids recoded at a time
_SEARCHED_BELOW = 1 << 16  # characters: shorter texts are looked up without the table


def code_points(text: str) -> torch.Tensor:
    """The text's code points as an int32 tensor, without a per-character Python loop."""
    if not text:
        return torch.zeros(0, dtype=torch.int32)
    return torch.frombuffer(bytearray(text.encode("utf-32-le", "surrogatepass")),
                            dtype=torch.int32)


def _ids(values: Iterable[int] | torch.Tensor) -> list[int]:
    return values.tolist() if isinstance(values, torch.Tensor) else list(values)


class Vocab:
    """Character level: a sorted vocabulary of code points with their corpus counts."""

    level = "char"

    end_id: int | None = None  # the end-of-document id, in a vocabulary of documents
    labels: tuple[str, ...] = ()  # label names; label k's id is end_id + 1 + k

    def __init__(self, chars: Sequence[str], counts: Sequence[int] | None = None):
        if not chars or list(chars) != sorted(set(chars)):
            raise VocabError("a vocabulary needs distinct characters in sorted order")
        if any(len(c) != 1 for c in chars):
            raise VocabError("every vocabulary entry must be a single character")
        self.chars: list[str] = list(chars)
        self.counts: list[int] = list(counts) if counts is not None else [1] * len(chars)
        if len(self.counts) != len(self.chars) or any(c < 0 for c in self.counts):
            raise VocabError("vocabulary counts must be one non-negative number per character")
        self.index = {c: i for i, c in enumerate(self.chars)}
        self._lut: torch.Tensor | None = None

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        if not text:
            raise VocabError("cannot build a vocabulary from empty text")
        return cls.from_counts(torch.bincount(code_points(text), minlength=UNICODE_SIZE))

    @classmethod
    def from_counts(cls, counts: torch.Tensor) -> Vocab:
        """From a count per code point (a tensor of UNICODE_SIZE entries)."""
        present = torch.nonzero(counts).flatten()
        if present.numel() == 0:
            raise VocabError("cannot build a vocabulary from empty text")
        return cls([chr(p) for p in present.tolist()], counts[present].tolist())

    def __len__(self) -> int:
        return len(self.chars) + (self.end_id is not None) + len(self.labels)

    def with_end(self, documents: int, labels: dict[str, int] | None = None) -> Vocab:
        """This vocabulary plus the end-of-document id, seen `documents` times, and one
        id per label (name -> how many texts carry it), in the order given."""
        made = vocab_from_dict({"level": self.level, "chars": "".join(self.chars),
                                "counts": self.counts[: len(self.chars)]})
        made.counts = [*made.counts, documents, *(labels or {}).values()]
        made.end_id = len(made.chars)
        made.labels = tuple(labels or {})
        return made

    def label_id(self, name: str) -> int:
        """The id of label `name`; a VocabError says which labels there are."""
        if name not in self.labels:
            known = ", ".join(self.labels)
            raise VocabError(f"label {name!r} is not one the model learned; it knows {known}"
                             if self.labels else "this model was trained without labels "
                             "(`label_from`); leave `label` out", field="label")
        return self.end_id + 1 + self.labels.index(name)

    def under_label(self, ids: torch.Tensor, label: str | None) -> torch.Tensor:
        """`ids` after the id of `label` (what a text in its style is read after); as
        they are for None."""
        if label is None:
            return ids
        return torch.cat([torch.tensor([self.label_id(label)]), ids])

    @property
    def text_size(self) -> int:
        """How many ids stand for text: the end symbol and labels come after them."""
        return len(self.chars)

    def symbols(self, ids: Iterable[int] | torch.Tensor) -> list[int]:
        """The ids that stand for text (the end-of-document id and labels stand for none)."""
        return [i for i in _ids(ids) if i < len(self.chars)]

    @property
    def dtype(self) -> torch.dtype:
        """The narrowest integer type that holds every id (for the on-disk id cache)."""
        return torch.uint8 if len(self) <= 256 else torch.int32

    def unknown(self, text: str) -> list[str]:
        """Characters of `text` the vocabulary lacks, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def _table(self) -> torch.Tensor:
        if self._lut is None:
            # numpy, not torch.full: filling 1.1M entries is a parallel region, and one
            # on the server's event loop would give it OpenMP workers (`charrnn.threads`)
            lut = np.full(UNICODE_SIZE, -1, dtype=np.int32)
            lut[[ord(c) for c in self.chars]] = np.arange(len(self.chars), dtype=np.int32)
            self._lut = torch.from_numpy(lut)
        return self._lut

    def lookup(self, text: str) -> torch.Tensor:
        """int32 ids of `text`, -1 where a character is unknown. A short text before any
        long one is looked up by a binary search of the vocabulary (numpy: one thread)
        rather than building the 4 MB table of every code point."""
        points = code_points(text)
        if self._lut is None and points.numel() < _SEARCHED_BELOW:
            return self._searched(points)
        return self._table().index_select(0, points)

    def _searched(self, points: torch.Tensor) -> torch.Tensor:
        known = np.array([ord(c) for c in self.chars], dtype=np.int32)  # sorted
        found = points.numpy()
        at = np.minimum(np.searchsorted(known, found), len(known) - 1).astype(np.int32)
        at[known[at] != found] = -1
        return torch.from_numpy(at)

    def encode(self, text: str, what: str = "text") -> torch.Tensor:
        """Text -> int64 ids; unknown characters raise a VocabError that names them."""
        ids = self.lookup(text)
        if ids.numel() and bool((ids < 0).any()):
            missing = self.unknown(text)
            shown = ", ".join(repr(c) for c in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise VocabError(
                f"{what} contains {len(missing)} character(s) the model never saw: {shown}{more}"
            )
        return ids.long()

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        return "".join(self.chars[i] for i in self.symbols(ids))

    def display(self, text: str) -> str:
        """Text fit to print (only byte-level text can hold undecodable bytes)."""
        return text

    def streaming_text(self) -> StreamingText:
        return StreamingText(self)

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "chars": "".join(self.chars), "counts": self.counts,
                **self._end_field()}

    def _end_field(self) -> dict[str, Any]:
        return {**({"end_of_document": True} if self.end_id is not None else {}),
                **({"labels": list(self.labels)} if self.labels else {})}


class ByteVocab(Vocab):
    """Byte level: ids are the byte values 0..255."""

    level = "byte"

    def __init__(self, counts: Sequence[int] | None = None):
        self.chars = [chr(0xDC00 + b) if b >= 0x80 else chr(b) for b in range(256)]
        self.counts = list(counts) if counts is not None else [1] * 256
        if len(self.counts) != 256 or any(c < 0 for c in self.counts):
            raise VocabError("a byte vocabulary needs 256 non-negative counts")
        self.index = {c: i for i, c in enumerate(self.chars)}
        self._lut = None

    @property
    def dtype(self) -> torch.dtype:
        """uint8 for the 256 bytes; int32 once an end symbol or labels follow them."""
        return torch.uint8 if len(self) <= 256 else torch.int32

    def unknown(self, text: str) -> list[str]:
        return []

    def lookup(self, text: str) -> torch.Tensor:
        raw = text.encode("utf-8", "surrogateescape")
        if not raw:
            return torch.zeros(0, dtype=torch.int32)
        return torch.frombuffer(bytearray(raw), dtype=torch.uint8).to(torch.int32)

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        return bytes(self.symbols(ids)).decode("utf-8", "surrogateescape")

    def display(self, text: str) -> str:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "counts": self.counts, **self._end_field()}


class StreamingText:
    """Ids arriving one at a time -> text as soon as it is complete.

    For bytes, an incomplete UTF-8 sequence waits for its next byte; `flush` releases
    whatever is left (as surrogate escapes, so nothing is lost).
    """

    def __init__(self, vocab: Vocab):
        self.vocab = vocab
        self._utf8 = (codecs.getincrementaldecoder("utf-8")("surrogateescape")
                      if vocab.level == "byte" else None)

    def feed(self, symbol: int) -> str:
        if symbol >= self.vocab.text_size:  # the end of a document, or a label
            return ""
        if self._utf8 is None:
            return self.vocab.chars[symbol]
        return self._utf8.decode(bytes([symbol]))

    def flush(self) -> str:
        return self._utf8.decode(b"", final=True) if self._utf8 is not None else ""


def vocab_from_dict(data: Any) -> Vocab:
    """Rebuild a checkpoint's vocabulary of either level, refusing malformed data."""
    if not isinstance(data, dict):
        raise CheckpointError("checkpoint vocabulary is missing or malformed")
    counts = data.get("counts")
    if not isinstance(counts, list) or not all(isinstance(c, int) and 0 <= c <= MAX_COUNT
                                               for c in counts):
        raise CheckpointError("checkpoint vocabulary counts are missing or malformed")
    ends = data.get("end_of_document", False) is True
    labels = data.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(n, str) for n in labels) \
            or (labels and not ends) or len(set(labels)) != len(labels):
        raise CheckpointError("checkpoint vocabulary labels are malformed")
    extra = int(ends) + len(labels)
    if len(counts) < extra:
        raise CheckpointError("checkpoint vocabulary counts are missing or malformed")
    symbols, end_count = (counts[: len(counts) - extra], counts[len(counts) - extra:]) \
        if extra else (counts, [])
    try:
        if data.get("level") == "byte":
            vocab = ByteVocab(symbols)
        elif data.get("level") == "char" and isinstance(data.get("chars"), str):
            vocab = Vocab(list(data["chars"]), symbols)
        else:
            raise CheckpointError("checkpoint vocabulary is missing or malformed")
    except VocabError as exc:
        raise CheckpointError(f"checkpoint vocabulary is invalid: {exc}") from None
    if ends:
        vocab.counts, vocab.end_id = [*vocab.counts, *end_count], len(vocab.chars)
        vocab.labels = tuple(labels)
    return vocab


def symbol_keys(vocab: Vocab) -> list[str | None]:
    """What each id stands for, the same in any vocabulary: its character (a byte's
    stand-in at byte level), None for the end of a document, "label:NAME" for a label
    (a character key is one character long, so the two never meet)."""
    return [*vocab.chars, *([None] if vocab.end_id is not None else []),
            *(f"label:{name}" for name in vocab.labels)]


def merged(parent: Vocab, corpus: Vocab) -> Vocab:
    """The vocabulary a model fine-tuned from `parent` on `corpus` speaks: every
    character of either, matched by character (never by id), with the corpus's counts
    (0 for a character only the parent knew). No end symbol: a model of documents adds
    its own. Both must be of one level."""
    if parent.level != corpus.level:
        raise VocabError(f"a {parent.level}-level model cannot learn a {corpus.level}-level "
                         "corpus; leave `level` out to read the corpus as the model does")
    counts = dict(zip(corpus.chars, corpus.counts, strict=False))
    if parent.level == "byte":
        return ByteVocab([counts.get(c, 0) for c in parent.chars])
    chars = sorted(set(parent.chars) | set(corpus.chars))
    return Vocab(chars, [counts.get(c, 0) for c in chars])


def merged_with_ends(model: Vocab, corpus: Vocab) -> Vocab:
    """`merged`, keeping the corpus's end symbol and labels (a corpus of many files)."""
    speaks = merged(model, corpus)
    if corpus.end_id is None:
        return speaks
    return speaks.with_end(corpus.counts[corpus.end_id],
                           dict(zip(corpus.labels, corpus.counts[corpus.end_id + 1 :],
                                    strict=True)))


def recoding(source: Vocab, target: Vocab) -> torch.Tensor:
    """The table that takes each id of `source` to the same symbol's id in `target`
    (which holds them all), in the narrowest type that fits `target`."""
    place = {key: i for i, key in enumerate(symbol_keys(target))}
    return torch.tensor([place[key] for key in symbol_keys(source)], dtype=target.dtype)


def recoded(ids: torch.Tensor, source: Vocab, target: Vocab) -> torch.Tensor:
    """Ids of `source` as the same symbols' ids in `target` (`recoding`); in pieces, so
    memory stays flat."""
    table = recoding(source, target)
    out = torch.empty(ids.numel(), dtype=target.dtype)
    for start in range(0, ids.numel(), _PIECE):
        out[start : start + _PIECE] = table[ids[start : start + _PIECE].long()]
    return out
