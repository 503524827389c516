"""Fine-tuning: a run that starts from another model's weights (`init_from`).

The child takes the parent's weights only: not its optimiser, step, streams or schedule.
It keeps the parent's architecture and level (a setting that contradicts them is one
line), and speaks a vocabulary merged by character (`data.vocab.merged`): the parent's
characters keep their rows, the corpus's new ones are added (`model.transplant`: as
probable at first as they are frequent in the corpus), and a
parent of a stream may start a child of documents or the other way round (the end symbol
is then new, or dropped). The run records its lineage (the parent's name, weights
checksum and step, and its zero-shot loss on the child's validation text), which a
resumed run carries on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from charrnn.config import ModelConfig
from charrnn.data.cache import PreparedCorpus
from charrnn.data.vocab import Vocab, merged_with_ends, recoded, symbol_keys
from charrnn.errors import CheckpointError, ConfigError
from charrnn.model import checkpoint, runs
from charrnn.model.checkpoint import weights_of
from charrnn.model.record import Lineage
from charrnn.model.transplant import new_symbols, transplant

ARCHITECTURE = ("model", "hidden_size", "num_layers", "embed_size", "tie_weights")


@dataclass(frozen=True)
class Parent:
    """The model a run starts from, as asked for (`name`) and as read."""

    name: str
    checkpoint: checkpoint.Checkpoint

    @property
    def vocab(self) -> Vocab:
        return self.checkpoint.record.vocab

    @property
    def model(self) -> ModelConfig:
        return self.checkpoint.record.model

    @property
    def level(self) -> str:
        return self.vocab.level

    def lineage(self) -> Lineage:
        """What the child's checkpoints record of it."""
        record = self.checkpoint.record
        return Lineage(self.name, self.checkpoint.path.name, record.tensors_sha256,
                       record.step, record.corpus.name)

    def weights_for(self, child: Vocab) -> dict[str, torch.Tensor]:
        """The parent's evaluated weights, carried into the child's vocabulary."""
        return transplant(weights_of(self.checkpoint.tensors), symbol_keys(self.vocab),
                          symbol_keys(child), self.model.tie_weights,
                          (self.vocab.counts, child.counts))

    def new_characters(self, child: Vocab) -> list[str | None]:
        """The child's symbols the parent never saw (None: the end of a document)."""
        return new_symbols(symbol_keys(self.vocab), symbol_keys(child))


def load_parent(name: str | Path) -> Parent:
    """The model `name` names: a run folder, a checkpoint file, or a shipped model."""
    try:
        found = checkpoint.load(runs.resolve(name))
    except CheckpointError as exc:
        raise CheckpointError(f"init_from: {exc}", field="init_from") from None
    return Parent(str(name), found)  # loading checked it whole (`model/contents.py`)


def inherited(parent: Parent, given: dict[str, Any]) -> dict[str, Any]:
    """The settings a child takes from its parent: its architecture and level. One that
    the caller gave differently is refused, naming it."""
    taken = {**{k: getattr(parent.model, k) for k in ARCHITECTURE}, "level": parent.level}
    for name, value in taken.items():
        if name in given and given[name] != value:
            raise ConfigError(f"{name} {given[name]!r} contradicts the model it starts from "
                              f"({parent.name}: {value!r}); leave it out", field=name)
    return taken


def adopt(corpus: PreparedCorpus, vocab: Vocab) -> PreparedCorpus:
    """The corpus in the vocabulary merged from `vocab` and its own, ids recoded."""
    speaks = merged_with_ends(vocab, corpus.vocab)  # many files: their end and labels too
    if speaks.chars == corpus.vocab.chars:
        return dataclasses.replace(corpus, vocab=speaks)
    return dataclasses.replace(corpus, vocab=speaks,
                               ids=recoded(corpus.ids, corpus.vocab, speaks))
