"""`RunRecord`: what a checkpoint says of its run, typed.

A checkpoint's JSON document (see `checkpoint.py`, the only module that reads or writes
it) becomes one `RunRecord`: the model, data and training settings as their config
dataclasses, the vocabulary, the corpus it learned, where the run stood (step, epoch,
window, characters seen, time), its scores, and the model it was fine-tuned from. Every
other module asks the record (`record.corpus.sha256`, `record.train.seed`), never a
dict by string key, so a renamed field is one change here. A file written by an older
charrnn is upgraded (`checkpoint.upgraded`) before it becomes a record.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from charrnn.config import DataConfig, ModelConfig, TrainConfig
from charrnn.data.text_format import TextFormat, text_format_of
from charrnn.data.vocab import Vocab, vocab_from_dict


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


@dataclass(frozen=True)
class CorpusRecord:
    """The corpus a run learned: one file, or many (`files` is then their count)."""

    name: str | None = None  # what the run is named after
    source: str | None = None  # the path (or paths, joined) it was read from
    sha256: str | None = None  # of the prepared text: a resume checks it
    symbols: int | None = None
    level: str | None = None
    encoding: str | None = None
    files: int | None = None  # many files: how many were read
    sources: tuple[str, ...] = ()
    skipped: dict[str, int] = field(default_factory=dict)
    paths: tuple[str, ...] = ()  # many files: the folders, files and globs given

    @property
    def many_files(self) -> bool:
        return self.files is not None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CorpusRecord:
        known = {f.name for f in dataclasses.fields(cls)}
        found = {k: v for k, v in data.items() if k in known}
        for name in ("sources", "paths"):
            if isinstance(found.get(name), list):
                found[name] = tuple(found[name])
        return cls(**found)

    def to_dict(self) -> dict[str, Any]:
        """Every field (one file: `files` None, no sources, skips or paths)."""
        return dataclasses.asdict(self) | {"sources": list(self.sources),
                                           "paths": list(self.paths)}


@dataclass(frozen=True)
class Losses:
    """The run's losses (nats per character; None before the first) and its best."""

    train_loss: float | None = None
    val_loss: float | None = None
    best_val_loss: float | None = None
    best_step: int | None = None
    evals_since_best: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Losses:
        return cls(_finite(data.get("train_loss")), _finite(data.get("val_loss")),
                   _finite(data.get("best_val_loss")), data.get("best_step"),
                   data.get("evals_since_best") or 0)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Lineage:
    """The model a fine-tuning run started from, as the child records it."""

    name: str
    checkpoint: str | None = None  # its file's name
    sha256: str | None = None  # of its tensors: how a renamed parent is found again
    step: int | None = None
    corpus: str | None = None
    zero_shot_loss: float | None = None  # on the child's validation text, before any step
    new_symbols: tuple[str | None, ...] = ()  # the child's symbols the parent never saw

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lineage:
        known = {f.name for f in dataclasses.fields(cls)}
        found = {k: v for k, v in data.items() if k in known}
        found["new_symbols"] = tuple(found.get("new_symbols") or ())
        found.setdefault("name", "?")
        return cls(**found)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["new_symbols"] = list(self.new_symbols)
        return out


@dataclass(frozen=True)
class RunRecord:
    """A checkpoint's document, typed (see the module doc)."""

    model: ModelConfig
    vocab: Vocab
    data: DataConfig
    train: TrainConfig | None = None  # None: written without one (a shipped model may be)
    corpus: CorpusRecord = field(default_factory=CorpusRecord)
    step: int = 0
    epoch: int = 0
    window: int = 0  # the next window of the epoch (a resume starts there)
    chars_seen: int | None = None  # None: written before it was counted
    elapsed_seconds: float = 0.0
    created: str | None = None
    metrics: Losses = field(default_factory=Losses)
    processes: int = 1
    validation: str = "split"  # "split" (the corpus's own) or the validation file's path
    parent: Lineage | None = None
    val_by_source: dict[str, float] = field(default_factory=dict)
    version: int = 1  # the format version it was written in
    tensors_sha256: str | None = None
    text_format: TextFormat | None = None  # None: made from the vocabulary and settings

    def __post_init__(self) -> None:
        if self.text_format is None:  # a new run's, or one written before it was stored
            made = text_format_of(self.vocab, self.data.documents, self.corpus.many_files,
                                  self.model.label_input)
            object.__setattr__(self, "text_format", made)

    @property
    def documents(self) -> str | None:
        """"lines", "paragraphs" or "files" for a model of documents, else None."""
        return self.data.documents

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> RunRecord:
        """From a checked, upgraded document (`checkpoint.load`)."""
        vocab = vocab_from_dict(doc["vocab"])
        stored = doc.get("text_format")  # None: written before formats were stored
        model, data = ModelConfig.from_dict(doc["model"]), DataConfig.from_dict(doc["data"])
        return cls(
            model=model, vocab=vocab, data=data,
            train=TrainConfig.from_dict(doc["train"]) if doc.get("train") else None,
            corpus=CorpusRecord.from_dict(doc.get("corpus") or {}),
            step=doc.get("step") or 0, epoch=doc.get("epoch") or 0,
            window=doc.get("window") or 0, chars_seen=doc.get("chars_seen"),
            elapsed_seconds=float(doc.get("elapsed_seconds") or 0.0),
            created=doc.get("created"), metrics=Losses.from_dict(doc.get("metrics") or {}),
            processes=doc.get("processes") or 1, validation=doc.get("validation") or "split",
            parent=Lineage.from_dict(doc["parent"]) if doc.get("parent") else None,
            val_by_source=dict(doc.get("val_by_source") or {}),
            version=doc.get("version", 1), tensors_sha256=doc.get("tensors_sha256"),
            text_format=None if stored is None else TextFormat.from_dict(
                stored, vocab, data.documents, model.label_input))

    def to_document(self) -> dict[str, Any]:
        """The JSON a checkpoint stores (the format and checksum are added on saving)."""
        doc = {"model": self.model.to_dict(), "data": self.data.to_dict(),
               "vocab": self.vocab.to_dict(), "corpus": self.corpus.to_dict(),
               "step": self.step, "epoch": self.epoch, "window": self.window,
               "elapsed_seconds": self.elapsed_seconds, "created": self.created,
               "metrics": self.metrics.to_dict(), "processes": self.processes,
               "validation": self.validation, "text_format": self.text_format.to_dict()}
        if self.train is not None:
            doc["train"] = self.train.to_dict()
        if self.chars_seen is not None:
            doc["chars_seen"] = self.chars_seen
        if self.parent is not None:
            doc["parent"] = self.parent.to_dict()
        if self.val_by_source:
            doc["val_by_source"] = dict(self.val_by_source)
        return doc

