"""`LanguageModel`: the Python API behind `charrnn.load`, mirroring the CLI commands."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from charrnn.config import (
    BeamConfig,
    Constraints,
    DataConfig,
    SampleConfig,
    is_word_char,
    setting_error,
)
from charrnn.data import word_list
from charrnn.data.collection import prepare_files
from charrnn.data.reading import check_file, iter_symbols
from charrnn.data.vocab import Vocab
from charrnn.decoding.beam import beam_search
from charrnn.decoding.classify import Classification, classify
from charrnn.decoding.codec import TextCodec
from charrnn.decoding.constraints import guide_for
from charrnn.decoding.decoder import Decoder, logprob
from charrnn.decoding.known_words import Trie, trie_of
from charrnn.decoding.next_words import next_words
from charrnn.decoding.novelty import (
    KnownDocuments,
    Novelty,
    known_documents,
    novelty,
    training_corpus,
)
from charrnn.decoding.particles import sampled_steps
from charrnn.decoding.scoring import DocumentsLoss, TextLoss, documents_loss, files_loss, text_loss
from charrnn.decoding.session import Session, texts_of
from charrnn.errors import CharRNNError, CheckpointError, ConfigError
from charrnn.insight.surprise import Surprise, surprise
from charrnn.model import checkpoint, runs
from charrnn.model.checkpoint import weights_of
from charrnn.model.network import CharRNN
from charrnn.model.record import RunRecord

SAMPLING = SampleConfig()  # the defaults of every sampling signature here


class LanguageModel:
    """A trained model with its vocabulary: sample, beam-search and score text.

    `prime` is text the continuation follows; it is not part of what `sample` and `beam`
    return. An empty prime means the start of a text (see `charrnn.decoding.decoder`). For a
    byte-level model, lengths count bytes and returned text keeps undecodable bytes as
    surrogate escapes (`lm.vocab.display(text)` makes it printable).

    `weights` is the precision of the decoding step: "fp32" (exact, the default), or
    "fp16" / "int8" for faster, slightly approximate steps (see `charrnn.decoding.inference_step`);
    `logprob`, `beam` scores and `evaluate` then describe that approximate model.

    The engine under it is public: `decoder` (the next-character distribution) and
    `codec` (text to ids and back), which sessions and the batcher use as this does.
    """

    def __init__(self, model: CharRNN, vocab: Vocab, record: RunRecord | None = None,
                 path: Path | None = None, weights: str = "fp32", step_fn=None,
                 words: Sequence[str] | None = None):
        self.model = model.eval()
        self.vocab = vocab
        self.record = record or RunRecord(model.config, vocab, DataConfig(level=vocab.level))
        self.path = path
        self.weights = weights
        self.decoder = Decoder(model, vocab.counts, weights,
                               text_format=self.record.text_format, step_fn=step_fn)
        self.codec = TextCodec(vocab)
        self._known: KnownDocuments | None = None  # a documents model's lists, when asked
        self.words = words  # the corpus's word list, where the checkpoint keeps one
        self._trie: Trie | None = None

    @classmethod
    def from_checkpoint(cls, ckpt: checkpoint.Checkpoint,
                        weights: str = "fp32") -> LanguageModel:
        config, vocab = ckpt.record.model, ckpt.record.vocab  # checked against each other
        model = CharRNN(config)
        try:
            model.load_state_dict(weights_of(ckpt.tensors), strict=True)
        except RuntimeError:
            raise CheckpointError(
                f"cannot load checkpoint {ckpt.path}: its tensors do not match its model config"
            ) from None
        words = ckpt.tensors.get(word_list.TENSOR)
        return cls(model, vocab, ckpt.record, ckpt.path, weights,
                   words=None if words is None else word_list.from_tensor(words))

    def known_words(self) -> Trie | None:
        """The words of the model's corpus as a trie (for words_only): the list its
        checkpoint keeps, else the corpus read again where it is there, else None."""
        if self._trie is None:
            words = self.words
            if words is None and self.vocab.level == "char":
                try:
                    words = word_list.corpus_words(training_corpus(self.record)[0])
                except CharRNNError:
                    return None
            self._trie = trie_of(tuple(words)) if words is not None else None
        return self._trie

    def _known_for(self, constraints: Constraints | None) -> Trie | None:
        return self.known_words() if constraints and constraints.words_only else None

    @property
    def meta(self) -> dict[str, Any]:
        """The run's record as the checkpoint's JSON document (for scripts that want it;
        the package reads `record`)."""
        return self.record.to_document()

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels a model of labelled files learned (`label_from`), else ()."""
        return self.vocab.labels

    @property
    def default_label(self) -> str | None:
        """The label used when none is asked for: the one most training files carry."""
        text_format = self.record.text_format
        return text_format.label_name(text_format.default_label)

    @property
    def documents(self) -> str | None:
        """"lines" or "paragraphs" for a model of documents (`--documents`), else None."""
        return self.record.documents

    def stream(self, length: int, temperature: float = SAMPLING.temperature,
               prime: str = "", seed: int | None = None, top_k: int | None = SAMPLING.top_k,
               top_p: float | None = SAMPLING.top_p,
               repetition_penalty: float = SAMPLING.repetition_penalty,
               stop: str | Sequence[str] = (), label: str | None = None,
               constraints: Constraints | None = None,
               particles: int | None = None) -> Iterator[str]:
        """The continuation piece by piece, as it is generated (see `sample`).

        Bad options and unknown prime characters raise here, before the first piece.
        """
        steps = self._steps(1, length, SampleConfig(temperature, top_k, top_p,
                                                    repetition_penalty), prime, seed, stop,
                            label, constraints, particles)
        return self.codec.pieces(i for i in (int(ids[0]) for ids in steps) if i >= 0)

    def _steps(self, n: int, length: int, cfg: SampleConfig, prime: str,
               seed: int | None, stop: str | Sequence[str],
               label: str | None = None, constraints: Constraints | None = None,
               particles: int | None = None) -> Iterator[np.ndarray]:
        """The steps of `n` samples after the prime (`particles.sampled_steps`: masked,
        or by weighted rows where `particles` asks or applies by default); every option
        is checked once, before anything is drawn."""
        ids = self.codec.prime(prime, label=label)
        known = self._known_for(constraints)
        return sampled_steps(
            self.decoder, self.decoder.start(ids), ids, length, cfg, seed, n,
            self.codec.stops(stop),
            lambda rows: guide_for(constraints, self.vocab, rows, length, prime, known),
            particles, self.vocab.end_id)

    def sample(self, length: int, temperature: float = SAMPLING.temperature,
               prime: str = "", seed: int | None = None, top_k: int | None = SAMPLING.top_k,
               top_p: float | None = SAMPLING.top_p,
               repetition_penalty: float = SAMPLING.repetition_penalty,
               stop: str | Sequence[str] = (), label: str | None = None,
               constraints: Constraints | None = None, particles: int | None = None) -> str:
        """Up to `length` characters following `prime`; temperature 0 is greedy decoding.

        top_k / top_p restrict each draw to the k most likely characters / the smallest
        set holding probability top_p; repetition_penalty > 1 makes characters already in
        the prime or the text rarer; the text ends right after any `stop` string. A model
        of labelled files writes in `label`'s style (default: `default_label`).
        `constraints` (`charrnn.config.Constraints`): words the text must
        hold as whole words, words it must not, characters it must not; every text meets
        them (one ConfigError before anything is drawn where none can). `particles` N > 1
        draws each constrained text by N weighted rows, from the model's own distribution
        given the constraints rather than a masked one (`charrnn.decoding.particles`);
        None (the default) is DEFAULT_PARTICLES where that applies (a temperature above 0,
        no stop, no repetition penalty, not a model of documents), else 1 (masked).
        """
        return "".join(self.stream(length, temperature, prime, seed, top_k, top_p,
                                   repetition_penalty, stop, label, constraints, particles))

    def samples(self, n: int, length: int, temperature: float = SAMPLING.temperature,
                prime: str = "", seed: int | None = None, top_k: int | None = SAMPLING.top_k,
                top_p: float | None = SAMPLING.top_p,
                repetition_penalty: float = SAMPLING.repetition_penalty,
                stop: str | Sequence[str] = (), label: str | None = None,
                constraints: Constraints | None = None, particles: int | None = None) -> list[str]:
        """`n` independent samples generated together in one batch (options as `sample`)."""
        steps = list(self._steps(n, length, SampleConfig(temperature, top_k, top_p,
                                                         repetition_penalty), prime, seed, stop,
                                 label, constraints, particles))
        return texts_of(self.codec, steps, n)

    def next_words(self, prime: str = "", k: int = 5, label: str | None = None
                   ) -> list[tuple[str, float]]:
        """The k most likely next whole words after `prime`, best first, each with its
        exact probability (of its characters and of the character that ends it); a prime
        that ends inside a word gets that word's completions, whole (`next_words.py`)."""
        if self.vocab.level != "char":
            raise ConfigError("next words need a character-level model; this one reads bytes",
                              field="k")
        tail = len(prime)
        while tail and is_word_char(prime[tail - 1]):  # the word the prime ends inside
            tail -= 1
        return next_words(self.decoder, list(self.vocab.chars),
                          self.codec.prime(prime, label=label), prime[tail:], k)

    def session(self, prime: str = "", label: str | None = None,
                constraints: Constraints | None = None) -> Session:
        """A stateful text to write with the model: feed, predict, sample, suggest, beam,
        fork, undo (see `charrnn.decoding.session`); `label` as for `sample`. Every
        continuation it generates keeps to `constraints` (as `sample`'s), which
        `session.constraints = ...` changes."""
        return Session(self.decoder, self.codec, prime, label, constraints, self.known_words)

    def marks(self, documents: Sequence[str]) -> list[str]:
        """Each document marked "train" (a copy of a training document), "val" (of a
        held-out one) or "new"; the corpus is read again the first time (see novelty.py)."""
        if self._known is None:
            self._known = known_documents(self.record)
        return [self._known.mark(d) for d in documents]

    def new_documents(self, n: int, length: int = 500, prime: str = "",
                      seed: int | None = None, attempts: int = 20, **options: Any) -> list[str]:
        """`n` distinct sampled documents that are in neither training list (options as
        `samples`), drawing at most `attempts` batches of `n`; what follows `prime` is
        returned. A model that copies too much to get there says so."""
        found: list[str] = []
        base = seed if seed is not None else random.SystemRandom().randrange(2**31)
        for attempt in range(attempts):
            texts = self.samples(n, length, prime=prime, seed=base + attempt, **options)
            for text, mark in zip(texts, self.marks([prime + t for t in texts]), strict=True):
                if mark == "new" and text not in found:
                    found.append(text)
                if len(found) == n:
                    return found
        raise CharRNNError(f"only {len(found)} new document(s) of the {n} asked for in "
                           f"{attempts * n} samples: the model mostly repeats its training "
                           "list; a higher `temperature` or a longer `prime` may help")

    def novelty(self, texts: Sequence[str], max_n: int = 20) -> Novelty:
        """How much of `texts` is found in the training text: for L = 1..max_n the share
        of their length-L substrings found there, beside held-out text of the corpus,
        and the longest copied span (what `charrnn novelty` shows)."""
        return novelty(self.record, self.vocab, list(texts), max_n)

    def beam(self, length: int, width: int | None = None, prime: str = "", n_best: int = 1,
             stop: str | Sequence[str] = (), length_penalty: float = 0.0,
             no_repeat_ngram: int = 0, label: str | None = None,
             constraints: Constraints | None = None) -> list[tuple[str, float]]:
        """The n_best most likely continuations found by beam search: (text, log-prob nats),
        best first by log-prob / length^length_penalty. A beam ending with a `stop` string
        is finished there; no_repeat_ngram N forbids repeating any character N-gram. The
        width defaults to 8, or to n_best when more are asked for. With `constraints`
        (as `sample`), only texts that meet them, each with its exact log-probability."""
        if width is None:
            width = max(BeamConfig.width, n_best)
        cfg = BeamConfig(width, n_best, length_penalty, no_repeat_ngram).validate()
        prime_ids = self.codec.prime(prime, label=label)
        guide = guide_for(constraints, self.vocab, 1, length, prime,
                          self._known_for(constraints))
        results = beam_search(self.decoder, prime_ids, length, cfg, self.codec.stops(stop),
                              guide)
        return [(self.vocab.decode(ids), score) for ids, score in results]

    def logprob(self, text: str, prime: str = "", complete: bool = False,
                label: str | None = None) -> float:
        """Total log-probability in nats of `text` following `prime` (under `label`, for
        a model of labelled files); for a model of documents, `complete=True` adds that
        the document ends there (what a document beam's score counts)."""
        ids = self.codec.encode(text)
        if complete:
            ids = self.record.text_format.completed(ids)
        return logprob(self.decoder, self.codec.prime(prime, label=label), ids)

    def classify(self, text: str) -> Classification:
        """Which label most likely wrote `text`: each label's exact log-probability of it
        (read as the start of a text of that label), its prior (its share of the
        training files) and its posterior (see `charrnn.decoding.classify`)."""
        return classify(self.decoder, self.codec.encode(text), self._label_ids(),
                        self._priors())

    def classify_file(self, path: str | Path, max_chars: int | None = None) -> Classification:
        """`classify` a file's text (or its first `max_chars` characters), read as the
        training corpus was read."""
        text, _ = self.read_file(path, max_chars or 2**62)
        return self.classify(text)

    def evaluate_files(self, paths: Sequence[str | Path]) -> dict[str, TextLoss]:
        """Loss on many files (folders, files, globs), per source and in all (key ""):
        found, read and labelled by the data layer as the training corpus was
        (`prepare_files`), each file scored from the start of a text under its label,
        its end counted (a model of documents lines or paragraphs: each of its
        documents)."""
        data = dataclasses.replace(self.record.data, weights=())
        corpus = prepare_files(list(paths), data)
        return files_loss(self.decoder, self.codec, corpus)

    def _label_ids(self) -> dict[str, int]:
        """Each label's id; a model without labels is refused (there is nothing to
        classify a text as)."""
        labels = self.record.text_format.labelled("there is nothing to classify a text as")
        return {name: self.vocab.label_id(name) for name in labels}

    def _priors(self) -> dict[str, float]:
        counts = self.vocab.counts[len(self.vocab) - len(self.vocab.labels):]
        total = sum(counts) or 1
        return {name: max(c, 1) / total for name, c in zip(self.vocab.labels, counts,
                                                           strict=True)}

    def explain(self, text: str, top: int = 5) -> Surprise:
        """How surprised the model is by each character of `text` (read from the start of
        a text), in bits, and its `top` predictions there (see `charrnn.insight.surprise`)."""
        if top < 1:
            raise setting_error(f"top must be >= 1, not {top}")
        text_format = self.record.text_format
        names = [text_format.symbol_name(i) or self.vocab.display(self.vocab.decode([i]))
                 for i in range(len(self.vocab))]
        texts = text_format.texts_in(self.vocab.encode(text, "text"), self.vocab.index.get("\n"))
        return surprise(self.decoder, names, texts, top)

    def read_file(self, path: str | Path, max_chars: int) -> tuple[str, bool]:
        """The first `max_chars` characters of a file, read as the training corpus was
        (encoding, level), and whether there was more."""
        if max_chars < 1:
            raise setting_error(f"max_chars must be >= 1, not {max_chars}")
        pieces, size = [], 0
        for text in self._read(path):
            pieces.append(text)
            size += len(text)
            if size > max_chars:
                return "".join(pieces)[:max_chars], True
        return "".join(pieces), False

    def _read(self, path: str | Path, on_bytes: Callable[[int], None] | None = None
              ) -> Iterator[str]:
        """A file as text chunks, read as the training corpus was (encoding, newline
        handling, level)."""
        path = check_file(path, "text")
        return iter_symbols(path, self.record.data, on_bytes)

    def split_documents(self, text: str) -> list[str]:
        """A text cut into documents the way the training corpus was (lines or
        paragraphs; a model of files or of one stream reads it as one)."""
        ids = self.vocab.lookup(text).long()
        found = self.record.text_format.documents_in(ids, self.vocab.index.get("\n"))
        return [self.vocab.decode(ids[a : a + n])
                for a, n in zip(found.starts.tolist(), found.lengths.tolist(), strict=True)]

    def evaluate(self, text: str) -> TextLoss:
        """Loss on `text` read from its start: nats, bits per character and perplexity. A
        model of documents scores each document of the text from the start, its end
        symbol included, and also reports nats per document; a model of files reads the
        text as one file."""
        ids = self.vocab.encode(text, "text")
        return {"stream": self._stream_loss, "documents": self._documents_loss,
                "file": self._file_loss}[self.record.text_format.reading](ids)

    def _stream_loss(self, ids: torch.Tensor) -> TextLoss:
        return text_loss(self.decoder, [ids])

    def _documents_loss(self, ids: torch.Tensor) -> TextLoss:
        found = self.record.text_format.documents_in(ids, self.vocab.index.get("\n"))
        return documents_loss(self.decoder, [ids[a : a + n] for a, n in zip(
            found.starts.tolist(), found.lengths.tolist(), strict=True)])

    def _file_loss(self, ids: torch.Tensor) -> TextLoss:
        loss = text_loss(self.decoder, [self.record.text_format.ended(ids)])
        return DocumentsLoss(loss.nats, loss.chars, 1)

    def evaluate_file(self, path: str | Path, on_bytes: Callable[[int], None] | None = None,
                      max_chars: int | None = None) -> TextLoss:
        """Loss on a whole file (or its first `max_chars` characters), read in chunks the
        way the training corpus was read (same encoding, newline handling and level);
        `on_bytes` hears progress."""
        if max_chars is not None and max_chars < 1:
            raise setting_error(f"max_chars must be >= 1, not {max_chars}")
        texts = self._read(path, on_bytes)
        if self.record.text_format.reading == "stream":  # read in chunks as they come
            chunks = (self.vocab.encode(t, str(path)) for t in texts)
            return text_loss(self.decoder, chunks if max_chars is None else
                             _first(chunks, max_chars))
        text = "".join(texts)  # documents may span chunks: read the whole list
        return self.evaluate(text if max_chars is None else text[:max_chars])


def _first(chunks: Iterator[torch.Tensor], limit: int) -> Iterator[torch.Tensor]:
    """The first `limit` ids of a stream of id chunks."""
    for ids in chunks:
        yield ids[:limit]
        limit -= ids.numel()
        if limit <= 0:
            return


def load(path: str | Path | None = None, root: str | Path = runs.DEFAULT_ROOT,
         weights: str = "fp32") -> LanguageModel:
    """Load a checkpoint file, a run folder's best checkpoint, or (None) the newest run's;
    `weights` picks the decoding precision (see `LanguageModel`)."""
    ckpt = checkpoint.load(runs.resolve(path, Path(root)))
    return LanguageModel.from_checkpoint(ckpt, weights)
