"""Scoring any text with a trained model (`charrnn eval`, `LanguageModel.evaluate`).

The text is read as one stream in chunks, the state carried from chunk to chunk, through
the same `Decoder` that sampling and beam search use, so the loss is exact however the
text is cut and describes the model as it decodes (`--weights` included). Many files
are read by the data layer as training read them (`data/collection.py`) and scored file
by file, per source (`files_loss`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from charrnn.data.cache import PreparedCorpus
from charrnn.data.documents import IGNORE, Documents, document_batch
from charrnn.decoding.codec import TextCodec
from charrnn.decoding.decoder import Decoder, read_pieces
from charrnn.errors import CorpusError
from charrnn.units import bits


@dataclass(frozen=True)
class TextLoss:
    """How well a model predicts a text: total nats over every character of it."""

    nats: float
    chars: int  # symbols scored: for documents, each one's end symbol counts too
    documents: int = 0  # how many documents (a `DocumentsLoss` reads a list of them)

    @property
    def nats_per_char(self) -> float:
        return self.nats / self.chars

    @property
    def nats_per_document(self) -> float | None:
        return None

    @property
    def bits_per_char(self) -> float:
        return bits(self.nats_per_char)

    @property
    def perplexity(self) -> float:
        return math.exp(self.nats_per_char)

    def to_dict(self) -> dict[str, float | int | None]:
        return {"nats_per_char": self.nats_per_char, "bits_per_char": self.bits_per_char,
                "perplexity": self.perplexity, "chars": self.chars}

    def describe(self, unit: str) -> str:
        """One line, in `unit` ("characters" or "bytes")."""
        return (f"{self.nats_per_char:.4f} nats/char, {self.bits_per_char:.4f} bits/char, "
                f"perplexity {self.perplexity:.3f} over {self.chars:,} {unit}")


@dataclass(frozen=True)
class DocumentsLoss(TextLoss):
    """The loss of a list of texts, each read from the start with its end symbol: also
    per document."""

    @property
    def nats_per_document(self) -> float:
        return self.nats / self.documents

    def to_dict(self) -> dict[str, float | int | None]:
        return super().to_dict() | {"documents": self.documents,
                                    "nats_per_document": self.nats_per_document}

    def describe(self, unit: str) -> str:
        return (f"{super().describe(unit)} in {self.documents:,} documents "
                f"({self.nats_per_document:.3f} nats per document, end symbols counted)")


def text_loss(decoder: Decoder, chunks: Iterable[torch.Tensor], piece: int = 4096,
              on_chars: Callable[[int], None] | None = None,
              prime: torch.Tensor | None = None) -> TextLoss:
    """Score a text given as consecutive id chunks, one stream with its state carried from
    chunk to chunk, so the result is exact however the text is cut. The first character
    is scored like any start of a text (see `decoder.py`), after `prime` (a label, say)
    when given; `on_chars` hears progress."""
    start = decoder.start(prime if prime is not None else torch.zeros(0, dtype=torch.long))
    total, count = 0.0, 0
    for reading in read_pieces(decoder, start, (chunk[None, :] for chunk in chunks), piece):
        total -= float(reading.first[0])
        total -= float(reading.rest[0])
        count += reading.ids.numel()
        if on_chars is not None:
            on_chars(count)
    if count == 0:
        raise CorpusError("there is no text to evaluate")
    return TextLoss(total, count)


def documents_loss(decoder: Decoder, texts: list[torch.Tensor], batch: int = 64
                   ) -> TextLoss:
    """Score each document (`texts`, ids) from the start, its end symbol included, the way a model
    of documents was trained: batches of similar length, padding not scored."""
    end = decoder.end_id
    if end is None:
        raise CorpusError("this model was not trained on `documents`")
    if not texts:
        raise CorpusError("there are no documents to evaluate (are they all empty?)")
    lengths = torch.tensor([d.numel() for d in texts])
    ids = torch.cat([d.long() for d in texts])
    docs = Documents(torch.cumsum(lengths, 0) - lengths, lengths)
    total = 0.0
    for members in torch.argsort(lengths).split(batch):
        inputs, targets = document_batch(ids, docs.pick(members), end)
        out, _ = decoder.feed(inputs, decoder.model.initial_state(members.numel()))
        scored = targets != IGNORE
        total -= float(out.gather(2, targets.clamp(min=0)[..., None])[..., 0][scored]
                       .double().sum())
    return DocumentsLoss(total, int(lengths.sum()) + len(texts), len(texts))


def files_loss(decoder: Decoder, codec: TextCodec, corpus: PreparedCorpus
               ) -> dict[str, TextLoss]:
    """Loss on a prepared corpus of many files, per source and in all (key ""): each
    file (or each of its documents, for a model of lines or paragraphs) from the start
    of a text under its label, its end symbol counted where texts have one."""
    files, vocab, text_format = corpus.files, codec.vocab, decoder.text_format
    index = vocab.index  # a symbol of the corpus's vocabulary -> the model's id (or -1)
    recoding = torch.tensor([index.get(c, -1) for c in corpus.vocab.chars]
                            + [-1] * (len(corpus.vocab) - corpus.vocab.text_size))
    sums: dict[str, list[float]] = {}
    for source, label, start, length in zip(files.sources, files.labels,
                                            files.starts.tolist(), files.lengths.tolist(),
                                            strict=True):
        text = recoding[corpus.ids[start : start + length].long()]
        if bool((text < 0).any()):  # the codec's error names the characters
            codec.encode(corpus.vocab.decode(corpus.ids[start : start + length]))
        found = text_format.documents_in(text, index.get("\n"))
        prime = codec.prime("", label=label)  # (None where files carry no label)
        for a, n in zip(found.starts.tolist(), found.lengths.tolist(), strict=True):
            loss = text_loss(decoder, [text_format.ended(text[a : a + n])], prime=prime)
            for key in (source, ""):
                got = sums.setdefault(key, [0.0, 0, 0])
                got[0], got[1], got[2] = got[0] + loss.nats, got[1] + loss.chars, got[2] + 1
    return {key: DocumentsLoss(nats, count, docs) if text_format.ends else TextLoss(nats, count)
            for key, (nats, count, docs) in sorted(sums.items())}
