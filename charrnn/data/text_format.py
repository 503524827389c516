"""`TextFormat`: everything about what a text is to a model, in one typed object.

A corpus is one stream, a list of documents (lines, paragraphs or files), or many files
read as one stream; documents end with an end symbol; files may carry labels, and a label
enters the network as a symbol read before the text ("prefix") or also as a learned
vector added at every step ("vector"). Those facts decide how a text is opened, which
ids are labels, which label is in force after each id, which targets are scored, and
how a text splits into documents. This module holds every one of those rules; the other
layers ask it instead of branching on labels and documents themselves. It is built once
from the prepared corpus (`text_format_of`), stored in the checkpoint, and serialised as
it is into an exported model's manifest and ONNX metadata (`to_dict`), from which the
JavaScript runtime reads the opening and the label ids.

How a labelled document is opened, in one place: `opening`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from charrnn.config import MAX_ADAPTED_LABELS
from charrnn.data.documents import MODES, Documents, find_documents
from charrnn.data.vocab import Vocab
from charrnn.errors import CheckpointError, ConfigError

_BREAKS = {"lines": "\n", "paragraphs": "\n\n"}  # what an end symbol stands for in a list


@dataclass(frozen=True)
class TextFormat:
    """What a text is to one model (see the module doc)."""

    end_id: int | None = None  # documents or many files: the end symbol's id
    labels: tuple[str, ...] = ()  # label names; label k's id is end_id + 1 + k
    label_input: str | None = None  # with labels: "vector", "adapter" or "prefix"
    default_label: int | None = None  # the label id read when none is asked for
    documents: str | None = None  # "lines", "paragraphs", "files", or None (one stream)
    stream_of_files: bool = False  # many files learned as one stream

    # -- ids --------------------------------------------------------------------------

    @property
    def ends(self) -> bool:
        """Texts end with an end symbol (documents, or many files)."""
        return self.end_id is not None

    @property
    def first_label(self) -> int | None:
        return self.end_id + 1 if self.labels else None

    @property
    def label_vectors(self) -> int:
        """How many learned label vectors the network holds (0: none)."""
        return label_vectors(self.label_input, len(self.labels))

    @property
    def unscored_from(self) -> int | None:
        """Targets at or above this id are not scored in training (labels are given, not
        predicted); None: every target is."""
        return self.first_label

    def is_label(self, i: int) -> bool:
        return bool(self.labels) and self.end_id < i <= self.end_id + len(self.labels)

    def labelled(self, why: str) -> tuple[str, ...]:
        """The labels; for a model without any, a ConfigError that says so and `why`
        they were wanted."""
        if not self.labels:
            raise ConfigError(f"this model was trained without labels (`label_from`): {why}",
                              field="label")
        return self.labels

    def label_name(self, i: int | None) -> str | None:
        """The name of label id `i` (None for None)."""
        return None if i is None else self.labels[i - self.end_id - 1]

    def symbol_name(self, i: int) -> str | None:
        """What an end symbol stands for where a text is shown ("\\n" between lines),
        "" for a label or a file's end; None for an id that stands for text."""
        if self.ends and i == self.end_id:
            return _BREAKS.get(self.documents or "", "")
        return "" if self.is_label(i) else None

    # -- the opening and the label in force -----------------------------------------

    def opening(self, prime: torch.Tensor) -> torch.Tensor:
        """The ids read from the zero state before the first draw after `prime`: nothing
        more for one stream; the end symbol for documents; for labelled files the label
        (the default one unless `prime` starts with a label), after the end symbol when
        the files were learned as one stream."""
        prime = prime.long()
        if not self.ends:
            return prime
        if self.labels and not (prime.numel() and self.is_label(int(prime[0]))):
            prime = torch.cat([torch.tensor([self.default_label]), prime])
        if self.labels and not self.stream_of_files:
            return prime
        return torch.cat([torch.tensor([self.end_id]), prime])

    def openings(self) -> dict[str, list[int]]:
        """Each label's opening by name ("" for none asked): what an exported model reads."""
        asked = {"": torch.zeros(0, dtype=torch.long)}
        asked |= {name: torch.tensor([self.end_id + 1 + k]) for k, name in enumerate(self.labels)}
        return {name: self.opening(ids).tolist() for name, ids in asked.items()}

    def styles(self) -> dict[str, list[int]]:
        """The openings of the styles a model writes in: each label's, else the one."""
        openings = self.openings()
        return {name: openings[name] for name in self.labels} or openings

    def label_in_force(self, ids: torch.Tensor, carried: torch.Tensor) -> torch.Tensor:
        """`label_in_force` for this format's label ids."""
        return label_in_force(ids, carried, self.first_label)

    # -- documents ------------------------------------------------------------------

    @property
    def separator(self) -> str:
        """What stands between two documents where several are shown as one text."""
        return "\n\n" if self.documents == "paragraphs" else "\n"

    @property
    def reading(self) -> str:
        """How a text given to score or explain is read: "stream" (as it comes, its
        state carried through), "documents" (cut into lines or paragraphs, each from the
        start with its end) or "file" (one text from the start, its end too)."""
        if self.documents is None:
            return "stream"
        return "file" if self.documents == "files" else "documents"

    def texts_in(self, ids: torch.Tensor, newline: int | None) -> list[torch.Tensor]:
        """A given text as the texts the model reads from the start (see `reading`):
        each document or the file with its end symbol; a stream is itself."""
        if self.reading == "stream":
            return [ids]
        found = self.documents_in(ids, newline)
        return [self.ended(ids[a : a + n])
                for a, n in zip(found.starts.tolist(), found.lengths.tolist(), strict=True)]

    def documents_in(self, ids: torch.Tensor, newline: int | None) -> Documents:
        """Where the documents of a text lie, cut as the training corpus was: lines or
        paragraphs; a file (or a model of one stream) reads the text as one."""
        if self.documents in MODES:
            return find_documents(ids, newline, self.documents)
        return Documents(torch.zeros(1, dtype=torch.long), torch.tensor([ids.numel()]))

    def ended(self, ids: torch.Tensor) -> torch.Tensor:
        """A whole text's ids with its end symbol, where texts have one (it is scored)."""
        return torch.cat([ids, torch.tensor([self.end_id])]) if self.ends else ids

    def completed(self, ids: torch.Tensor) -> torch.Tensor:
        """A document's ids with the end symbol that completes it (what `complete` asks
        to score); a model whose texts have no end refuses, naming the setting."""
        if not self.ends:
            raise ConfigError("complete needs a model trained on `documents`",
                              field="complete")
        return self.ended(ids)

    # -- stored ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """As a checkpoint stores it."""
        return {"end_id": self.end_id, "labels": list(self.labels),
                "label_input": self.label_input, "default_label": self.default_label,
                "documents": self.documents, "stream_of_files": self.stream_of_files}

    def manifest(self) -> dict[str, Any]:
        """As an exported model carries it: with the first label's id and each label's
        opening, so a runtime reads them rather than working them out."""
        return {**self.to_dict(), "first_label": self.first_label, "openings": self.openings()}

    @classmethod
    def from_dict(cls, data: Any, vocab: Vocab, documents: str | None,
                  label_input: str) -> TextFormat:
        """A stored format, checked against what it came with: the vocabulary, the
        `documents` setting and the network's `label_input`."""
        try:
            made = cls(data.get("end_id"), tuple(data.get("labels") or ()),
                       data.get("label_input"), data.get("default_label"),
                       data.get("documents"), bool(data.get("stream_of_files")))
        except (AttributeError, TypeError):
            raise CheckpointError("checkpoint text_format is malformed") from None
        if (made.end_id, made.labels, made.documents) != (vocab.end_id, vocab.labels, documents) \
                or made.label_input != (label_input if made.labels else None) \
                or not (made.default_label is None if not made.labels
                        else type(made.default_label) is int
                        and made.is_label(made.default_label)):
            raise CheckpointError("checkpoint text_format does not match its vocabulary "
                                  "and settings")
        return made


def label_after(ids, carried, first_label: int, where=torch.where):
    """The label rule, for one step: after reading `ids`, each row's label in force
    (1 + the label's index; 0 for none) is a label symbol's own (an id from
    `first_label` up), else the one `carried`. Tensors, or numpy arrays with `np.where`."""
    return where(ids >= first_label, ids - first_label + 1, carried)


def label_in_force(ids: torch.Tensor, carried: torch.Tensor, first_label: int) -> torch.Tensor:
    """(batch, time) the label in force at each step: `label_after` the latest label
    symbol read up to it (itself included), from the label `carried` in, (1, batch, 1)."""
    steps = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
    last = torch.where(ids >= first_label, steps, -1).cummax(dim=1).values
    latest = torch.where(last >= 0, ids.gather(1, last.clamp(min=0)), -1)  # -1: none yet
    before = carried[0, :, 0].long()[:, None].expand_as(ids)
    return label_after(latest, before, first_label)


def label_vectors(label_input: str, label_count: int) -> int:
    """How many learned label vectors a network of `label_count` labels holds."""
    return label_count if label_input in ("vector", "adapter") else 0


def label_heads_of(label_input: str, label_count: int) -> int:
    """How many labels have an output layer of their own (`label_input` "adapter")."""
    return label_count if label_input == "adapter" else 0


def settled_label_input(label_input: str, labels: int) -> str:
    """`label_input` once the labels are counted: "auto" (a fine-tune's default) is
    "adapter" for at most MAX_ADAPTED_LABELS labels, else "vector"; others stay."""
    if label_input != "auto":
        return label_input
    return "adapter" if labels <= MAX_ADAPTED_LABELS else "vector"


def text_format_of(vocab: Vocab, documents: str | None, many_files: bool,
                   label_input: str) -> TextFormat:
    """A corpus's format from its prepared vocabulary, its `documents` setting, whether it
    was many files and how the model takes its labels. The default label is the one
    most training files carry."""
    if vocab.end_id is None:
        return TextFormat(documents=documents)
    counts = vocab.counts[vocab.end_id + 1 :]
    default = (vocab.end_id + 1 + max(range(len(counts)), key=counts.__getitem__)
               if counts else None)
    return TextFormat(vocab.end_id, vocab.labels, label_input if vocab.labels else None,
                      default, documents, stream_of_files=many_files and documents is None)
