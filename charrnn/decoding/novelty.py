"""Did the model copy? Sampled documents marked `train`, `val` or `new`.

A model of documents keeps no copy of its corpus, only the corpus's path and sha256. The
documents are rebuilt from that file, read as training read it (the same data settings,
the same seeded hold-out), so a mark means exactly "this document was in the training
list" or "in the held-out list". A moved or changed corpus is said, not guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charrnn.config import DataConfig, TrainConfig
from charrnn.data.cache import prepare
from charrnn.data.documents import Documents, find_documents, split_documents
from charrnn.data.vocab import Vocab
from charrnn.errors import CharRNNError

MARKS = ("train", "val", "new")


@dataclass(frozen=True)
class KnownDocuments:
    """The training and held-out documents of a model's corpus, as text."""

    train: frozenset[str]
    val: frozenset[str]

    def mark(self, text: str) -> str:
        """"train", "val" or "new" (a document in both lists counts as training)."""
        return "train" if text in self.train else "val" if text in self.val else "new"

    def counts(self, texts: list[str]) -> dict[str, int]:
        marks = [self.mark(t) for t in texts]
        return {m: marks.count(m) for m in MARKS}


def known_documents(meta: dict[str, Any]) -> KnownDocuments:
    """Rebuild a documents model's lists from the corpus its checkpoint names; one clear
    line when the file is gone or changed."""
    corpus = meta.get("corpus") or {}
    source = corpus.get("source")
    data = DataConfig.from_dict(meta.get("data"))
    if data.documents is None:
        raise CharRNNError("this model was not trained on --documents")
    if not source or not Path(source).is_file():
        raise CharRNNError(f"the training corpus {source} is not there any more, so samples "
                           "cannot be checked against it")
    prepared = prepare(source, data)
    if prepared.sha256 != corpus.get("sha256"):
        raise CharRNNError(f"{source} has changed since training, so samples cannot be "
                           "checked against it")
    docs = find_documents(prepared.ids, prepared.vocab.index.get("\n"), data.documents)
    held_out = meta.get("validation", "split")
    if held_out != "split":  # the run validated on a --val-file: its documents are "val"
        return KnownDocuments(_texts(prepared.ids, docs, prepared.vocab),
                              _file_documents(held_out, data))
    cfg = TrainConfig.from_dict(meta.get("train"))
    train, val = split_documents(docs, cfg.val_frac, cfg.seed, data.val_max_chars)
    return KnownDocuments(_texts(prepared.ids, train, prepared.vocab),
                          _texts(prepared.ids, val, prepared.vocab))


def _texts(ids, docs: Documents, vocab: Vocab) -> frozenset[str]:
    return frozenset(vocab.decode(ids[a : a + n])
                     for a, n in zip(docs.starts.tolist(), docs.lengths.tolist(), strict=True))


def _file_documents(path: str, data: DataConfig) -> frozenset[str]:
    """The documents of a --val-file, if it is still there (else none are known)."""
    if not Path(path).is_file():
        return frozenset()
    prepared = prepare(path, data)
    docs = find_documents(prepared.ids, prepared.vocab.index.get("\n"), data.documents)
    return _texts(prepared.ids, docs, prepared.vocab)
