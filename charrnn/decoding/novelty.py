"""Did the model copy? Sampled documents marked `train`, `val` or `new`, and for any
model the share of generated substrings found in the training text.

A model keeps no copy of its corpus, only the corpus's path and sha256. The training
text is rebuilt from that file, read and split as training did (the same data settings,
the same seeded hold-out), so a mark means exactly "this document was in the training
list" or "in the held-out list". A moved or changed corpus is said, not guessed at.

`novelty` is torch-rnn's novel-substring curve: for L = 1..k, the share of the length-L
substrings of some texts that occur in the training text, beside the same share for
held-out text of the corpus, the baseline (people reuse short n-grams too), and the
longest span copied, with where it occurs.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from charrnn.config import DataConfig, TrainConfig
from charrnn.data.cache import PreparedCorpus, cache_root, prepare
from charrnn.data.collection import prepare_files
from charrnn.data.documents import Documents, find_documents
from charrnn.data.held_out import held_out
from charrnn.data.substrings import SubstringIndex
from charrnn.data.vocab import Vocab, merged_with_ends, recoded
from charrnn.errors import CharRNNError
from charrnn.model.record import RunRecord
from charrnn.paths import is_file

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


def known_documents(record: RunRecord) -> KnownDocuments:
    """Rebuild a documents model's lists from the corpus its checkpoint names; one clear
    line when the file is gone or changed."""
    if record.text_format.reading == "stream":
        raise CharRNNError("this model was not trained on `documents`")
    prepared, data = training_corpus(record)
    train, held = _cut(prepared, record)
    known = _texts(prepared.ids, train, prepared.vocab)
    if record.validation != "split":  # one file's documents, validated on another file
        return KnownDocuments(known, _file_documents(record.validation, data))
    return KnownDocuments(known, _texts(prepared.ids, held, prepared.vocab))


def _cut(prepared: PreparedCorpus, record: RunRecord) -> tuple[Documents, Documents]:
    """What the run learned of its corpus and what it held out, cut as it cut them."""
    cfg = _train(record)
    return held_out(prepared, cfg.val_frac, cfg.seed, record.validation != "split")


def _train(record: RunRecord) -> TrainConfig:
    """The run's training settings (the held-out split follows them)."""
    return record.train if record.train is not None else TrainConfig()


def training_corpus(record: RunRecord) -> tuple[PreparedCorpus, DataConfig]:
    """The corpus a checkpoint was trained on, read again (from the id cache)."""
    corpus, data = record.corpus, record.data
    source = corpus.source
    if corpus.many_files:  # many files: read again as they were found
        try:
            prepared = prepare_files(list(corpus.paths), data)
        except CharRNNError as exc:
            raise CharRNNError(f"the training files cannot be read again ({exc}), so the "
                               "model's text cannot be checked against them") from None
        if prepared.sha256 != corpus.sha256:
            raise CharRNNError(f"the training files ({source}) have changed since training, "
                               "so the model's text cannot be checked against them")
    else:
        if not is_file(source):
            raise CharRNNError(f"the training corpus {source} is not there any more, so the "
                               "model's text cannot be checked against it")
        prepared = prepare(source, data)
        if prepared.sha256 != corpus.sha256:
            raise CharRNNError(f"{source} has changed since training, so the model's text "
                               "cannot be checked against it")
    speaks = merged_with_ends(record.vocab, prepared.vocab)
    if speaks.chars != prepared.vocab.chars:  # a fine-tuned model's merged vocabulary
        prepared = dataclasses.replace(prepared, vocab=speaks,
                                       ids=recoded(prepared.ids, prepared.vocab, speaks))
    return prepared, data


@dataclass(frozen=True)
class Novelty:
    """How much of some text is found in the training text (see the module doc)."""

    lengths: list[int]  # L = 1..k
    generated: list[float]  # share of the texts' length-L substrings found in training
    held_out: list[float | None]  # the same for held-out text (None: none to compare)
    longest: int  # the longest span of the texts found in the training text
    longest_text: str
    longest_offset: int  # where it starts, in symbols of the training text
    capped: bool  # the longest span reached the search's cap, so it may be longer
    symbols: int  # of the texts measured
    held_out_symbols: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def novelty(record: RunRecord, vocab: Vocab, texts: list[str], max_n: int = 20,
            cap: int = 256) -> Novelty:
    """The novel-substring curve of `texts` (L = 1..max_n) against a model's training text,
    with held-out text of the same corpus as the baseline."""
    if max_n < 1:
        raise CharRNNError(f"max_n must be >= 1, not {max_n}", field="max_n")
    cap = max(cap, max_n)
    train, held = _training_and_held_out(record)
    cfg = _train(record)
    key = json.dumps([record.corpus.sha256, record.data.to_dict(), cfg.val_frac, cfg.seed,
                      record.validation, vocab.to_dict().get("chars")])
    index = SubstringIndex.cached(train, cache_root() / "substrings", key)
    queries = [vocab.encode(t, "text").numpy() for t in texts if t]
    if not queries:
        raise CharRNNError("there is no text to measure")
    found, remaining, at = _matches(index, queries, cap)
    symbols = sum(q.size for q in queries)
    baseline = _first_symbols(held, max(symbols, 1000))
    if baseline:
        base_found, base_left, _ = _matches(index, baseline, cap)
    best = int(found.argmax())
    start = int(at[best])
    return Novelty(
        lengths=list(range(1, max_n + 1)),
        generated=[_share(found, remaining, n) for n in range(1, max_n + 1)],
        held_out=[_share(base_found, base_left, n) if baseline else None
                  for n in range(1, max_n + 1)],
        longest=int(found[best]), longest_offset=start,
        longest_text=vocab.decode(train[start : start + int(found[best])].tolist()),
        capped=int(found[best]) >= cap, symbols=symbols,
        held_out_symbols=sum(b.size for b in baseline))


def _matches(index: SubstringIndex, queries: list[np.ndarray], cap: int):
    """Match lengths over texts joined by boundaries, with each position's symbols left
    in its own text."""
    joined = np.concatenate([np.append(q.astype(np.int64), -2) for q in queries])
    remaining = np.concatenate([np.append(np.arange(q.size, 0, -1), 0) for q in queries])
    found, at = index.match_lengths(joined, cap)
    keep = remaining > 0
    return found[keep], remaining[keep], at[keep]


def _first_symbols(texts: list[np.ndarray], limit: int) -> list[np.ndarray]:
    """The first texts of a list, cut to `limit` symbols in all."""
    kept = []
    for text in texts:
        if limit <= 0:
            break
        kept.append(text[:limit])
        limit -= kept[-1].size
    return [t for t in kept if t.size]


def _share(found: np.ndarray, remaining: np.ndarray, n: int) -> float | None:
    """Of the length-n substrings (positions with n symbols left), the share found."""
    counted = remaining >= n
    return float((found[counted] >= n).mean()) if counted.any() else None


def _training_and_held_out(record: RunRecord) -> tuple[np.ndarray, list[np.ndarray]]:
    """The training text's ids (one stream's head, or documents joined by a symbol no
    text holds), and the held-out texts (the tail, or each held-out document)."""
    prepared, _ = training_corpus(record)
    ids = prepared.ids
    train, held = _cut(prepared, record)
    held_ids = [ids[a : a + n].numpy() for a, n in zip(held.starts.tolist(),
                                                       held.lengths.tolist(), strict=True)]
    if prepared.layout == "stream":
        return ids[: int(train.lengths[0])].numpy(), held_ids
    return _joined(ids, train, len(prepared.vocab)), held_ids


def _joined(ids: torch.Tensor, docs: Documents, separator: int) -> np.ndarray:
    """The documents' ids one after another, each followed by `separator`."""
    parts = [np.append(ids[a : a + n].numpy().astype(np.int32), separator)
             for a, n in zip(docs.starts.tolist(), docs.lengths.tolist(), strict=True)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


def _texts(ids, docs: Documents, vocab: Vocab) -> frozenset[str]:
    return frozenset(vocab.decode(ids[a : a + n])
                     for a, n in zip(docs.starts.tolist(), docs.lengths.tolist(), strict=True))


def _file_documents(path: str, data: DataConfig) -> frozenset[str]:
    """The documents of a --val-file, if it is still there (else none are known)."""
    if not is_file(path):
        return frozenset()
    prepared = prepare(path, data)
    docs = find_documents(prepared.ids, prepared.vocab.index.get("\n"), data.documents)
    return _texts(prepared.ids, docs, prepared.vocab)
