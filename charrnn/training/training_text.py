"""What the loop reads: its training windows, and the text its validation loss is on.

A corpus is one continuous text (streams, `data/streams.py`) or a list of documents
(`data/documents.py`, `--documents`), of one file or of many (`per_source.py`: held out
and validated per source); the loop asks the same of all: the next window, whether it
starts afresh, and the validation loss of a model.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import torch

from charrnn.config import TrainConfig
from charrnn.data.cache import PreparedCorpus
from charrnn.data.documents import DocumentBatcher, Documents, find_documents, split_documents
from charrnn.data.split import split_ids
from charrnn.data.streams import StreamBatcher
from charrnn.data.vocab import Vocab
from charrnn.data.weighted_sources import (
    SourceShare,
    file_units,
    shares,
    split_by_source,
    stream_text,
)
from charrnn.errors import CorpusError
from charrnn.model.network import CharRNN
from charrnn.training.distributed import Ranks
from charrnn.training.per_source import LabelledStreams, SourcedValidation, check_sources
from charrnn.training.report import Reporter
from charrnn.training.train_step import fit_to_text
from charrnn.training.validation import documents_nll, mean_nll, scored_count, val_share


@dataclass
class StreamValidation:
    """A held-out text scored as up to 16 contiguous streams, each from the zero state
    (this process's share of it; see `validation.mean_nll`)."""

    ids: torch.Tensor
    ignore_from: int | None = None  # labels: read, never scored

    def sums(self, model: CharRNN) -> tuple[float, int]:
        """Summed nats and the number of characters predicted."""
        count = scored_count(self.ids, self.ignore_from)
        return mean_nll(model, self.ids, ignore_from=self.ignore_from) * count, count

    def probe(self, model: CharRNN, size: int = 8192) -> float:
        """Seconds to score it all, estimated from a slice of it."""
        started = time.perf_counter()
        mean_nll(model, self.ids[: min(size, self.ids.numel())],
                 ignore_from=self.ignore_from)
        return (time.perf_counter() - started) * max(1.0, self.ids.numel() / size)


@dataclass
class DocumentValidation:
    """Held-out documents, each scored from the zero state with its end symbol."""

    ids: torch.Tensor
    docs: Documents
    end: int

    def sums(self, model: CharRNN) -> tuple[float, int]:
        return documents_nll(model, self.ids, self.docs, self.end)

    def probe(self, model: CharRNN, size: int = 256) -> float:
        started = time.perf_counter()
        part = self.docs.pick(torch.arange(min(size, len(self.docs))))
        documents_nll(model, self.ids, part, self.end)
        return (time.perf_counter() - started) * max(1.0, len(self.docs) / max(len(part), 1))


@dataclass
class TrainingText:
    """The loop's reading: batches, validation, and the figures it announces."""

    batcher: StreamBatcher | DocumentBatcher
    validation: StreamValidation | DocumentValidation | SourcedValidation
    vocab: Vocab  # with the end-of-document id for documents
    cfg: TrainConfig  # the window and batch fitted to the text
    train_chars: int
    val_chars: int
    documents: tuple[int, int] | None = None  # (training, validation) documents
    padding: float | None = None  # share of batch positions that are padding
    sources: tuple[SourceShare, ...] | None = None  # a corpus of many files


def training_text(corpus: PreparedCorpus, cfg: TrainConfig, validation: torch.Tensor | None,
                  ranks: Ranks, report: Reporter, device: torch.device) -> TrainingText:
    """Split `corpus` (or take `validation` ids as the held-out text) and batch it; a
    held-out stream is moved to `device` (documents go there batch by batch)."""
    read = {"stream": _stream, "documents": _documents, "files": _files,
            "file documents": _file_documents}[corpus.layout]
    return read(corpus, cfg, validation, ranks, report, device)


def _stream(corpus: PreparedCorpus, cfg: TrainConfig, validation: torch.Tensor | None,
            ranks: Ranks, report: Reporter, device: torch.device) -> TrainingText:
    if validation is None:
        train_ids, val_ids = split_ids(corpus.ids, cfg.val_frac, corpus.data.val_max_chars)
    else:
        train_ids, val_ids = corpus.ids, validation
    cfg = fit_to_text(cfg, train_ids.numel(), ranks.world, report)
    return TrainingText(
        batcher=StreamBatcher(train_ids, cfg.batch_size * ranks.world, cfg.seq_len),
        validation=StreamValidation(val_share(val_ids, ranks).to(device)), vocab=corpus.vocab,
        cfg=cfg, train_chars=train_ids.numel(), val_chars=val_ids.numel())


def _documents(corpus: PreparedCorpus, cfg: TrainConfig, validation: torch.Tensor | None,
               ranks: Ranks, report: Reporter, device: torch.device) -> TrainingText:
    mode, newline = corpus.data.documents, corpus.vocab.index.get("\n")
    docs = find_documents(corpus.ids, newline, mode)
    if len(docs) == 1 and validation is None:
        report.on_message(f"`documents` {mode}: the corpus is one document (it has no "
                          f"{'line breaks' if mode == 'lines' else 'blank lines'}); it is "
                          "learned in windows of `seq_len` from its start, and its last "
                          "`val_frac` is held out as a document of its own")
    if validation is None:
        train_docs, val_docs = split_documents(docs, cfg.val_frac, cfg.seed,
                                               corpus.data.val_max_chars)
        val_ids = corpus.ids
    else:
        train_docs, val_ids = docs, validation
        val_docs = find_documents(validation, newline, mode)
    if len(train_docs) == 0 or len(val_docs) == 0:
        raise CorpusError(f"no documents to {'train on' if not len(train_docs) else 'validate'}"
                          f" (`documents` {mode}: are they all empty?)")
    vocab = corpus.vocab.with_end(len(docs))
    batcher, cfg = _document_batcher(corpus.ids, train_docs, vocab, cfg, ranks, report)
    share = val_docs.pick(torch.arange(ranks.rank, len(val_docs), ranks.world))
    return TrainingText(
        batcher=batcher, validation=DocumentValidation(val_ids, share, vocab.end_id),
        vocab=vocab, cfg=cfg, train_chars=train_docs.chars, val_chars=val_docs.chars,
        documents=(len(train_docs), len(val_docs)), padding=batcher.padding)


def _document_batcher(ids: torch.Tensor, train_docs: Documents, vocab: Vocab,
                      cfg: TrainConfig, ranks: Ranks, report: Reporter
                      ) -> tuple[DocumentBatcher, TrainConfig]:
    """Batches of the training documents, `batch_size` shrunk to how many there are."""
    streams = min(cfg.batch_size * ranks.world, len(train_docs))
    if streams < cfg.batch_size * ranks.world:
        batch = max(1, streams // ranks.world)
        report.on_message(f"{len(train_docs)} training documents fill only {streams} rows: "
                          f"`batch_size` shrunk from {cfg.batch_size} to {batch}")
        cfg = dataclasses.replace(cfg, batch_size=batch)
    batcher = DocumentBatcher(ids, train_docs, vocab.end_id, cfg.batch_size * ranks.world,
                              cfg.seq_len, cfg.seed, cfg.batch_order)
    return batcher, cfg


def _files(corpus: PreparedCorpus, cfg: TrainConfig, validation: torch.Tensor | None,
           ranks: Ranks, report: Reporter, device: torch.device) -> TrainingText:
    """Many files read as one stream: held out and validated per source, drawn by
    weight; labels are read, never scored."""
    train, held = _held_per_source(corpus, cfg, report)
    ignore = corpus.first_label
    parts = {name: StreamValidation(stream_text(corpus, mine, False, cfg.seed).joined(), ignore)
             for name, mine in _per_source(corpus, held)}
    ids = stream_text(corpus, train, bool(corpus.data.weights), cfg.seed)
    cfg = fit_to_text(cfg, ids.numel(), ranks.world, report)
    batch = cfg.batch_size * ranks.world
    batcher = (LabelledStreams(ids, batch, cfg.seq_len, ignore) if ignore is not None
               else StreamBatcher(ids, batch, cfg.seq_len))
    return _sourced_text(corpus, cfg, batcher, parts, train, held)


def _file_documents(corpus: PreparedCorpus, cfg: TrainConfig, validation: torch.Tensor | None,
                    ranks: Ranks, report: Reporter, device: torch.device) -> TrainingText:
    """Many files, each a document or cut into documents: held out per source."""
    train, held = _held_per_source(corpus, cfg, report)
    parts = {name: DocumentValidation(corpus.ids, mine.docs, corpus.vocab.end_id)
             for name, mine in _per_source(corpus, held)}
    batcher, cfg = _document_batcher(corpus.ids, train.docs, corpus.vocab, cfg, ranks, report)
    return _sourced_text(corpus, cfg, batcher, parts, train, held,
                         documents=(len(train.docs), len(held.docs)), padding=batcher.padding)


def _held_per_source(corpus: PreparedCorpus, cfg: TrainConfig, report: Reporter):
    """The files' training and held-out parts, `val_frac` of each source held out."""
    check_sources(corpus.files, report)
    train, held = split_by_source(file_units(corpus), corpus.files, cfg.val_frac, cfg.seed,
                                  corpus.data.val_max_chars)
    if len(train.docs) == 0 or train.docs.chars == 0:
        raise CorpusError("no training text is left once validation is held out")
    return train, held


def _per_source(corpus: PreparedCorpus, held):
    """(source name, its held-out part) for each source that has one."""
    sources = corpus.files.source_index
    for s, name in enumerate(corpus.files.source_names):
        mine = held.of(sources[held.files] == s)
        if len(mine.docs) and mine.docs.chars:
            yield name, mine


def _sourced_text(corpus: PreparedCorpus, cfg: TrainConfig, batcher, parts, train, held,
                  **documents) -> TrainingText:
    return TrainingText(
        batcher=batcher, validation=SourcedValidation(parts), vocab=corpus.vocab, cfg=cfg,
        train_chars=train.docs.chars, val_chars=held.docs.chars,
        sources=shares(train, held, corpus.files), **documents)
