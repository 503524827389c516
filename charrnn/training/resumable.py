"""Whether a run may be resumed with the corpus and settings asked for: refusals are one
line, before any work is done."""

from __future__ import annotations

import dataclasses

from charrnn.config import STOP_RULES, ModelConfig, TrainConfig
from charrnn.data.cache import PreparedCorpus
from charrnn.errors import CheckpointError
from charrnn.model import checkpoint

_CHANGEABLE = (*STOP_RULES, "eval_every", "checkpoint_every", "log_every", "patience")


def check_resumable(ckpt: checkpoint.Checkpoint, corpus: PreparedCorpus,
                    model_config: ModelConfig, train_config: TrainConfig,
                    processes: int = 1) -> None:
    """Refuse, with one line, to resume a run on another corpus or other settings."""
    record = ckpt.record
    if record.processes != processes:
        raise CheckpointError(
            f"{ckpt.path} was trained by {record.processes} process(es); resume it "
            f"with the same number (this job has {processes})")
    if record.corpus.sha256 != corpus.sha256:
        raise CheckpointError(
            f"{ckpt.path} was trained on another corpus "
            f"({record.corpus.source}); resume with the same file")
    if record.data.to_dict() != corpus.data.to_dict():
        raise CheckpointError(f"{ckpt.path} was trained with data options "
                              f"{record.data.to_dict()}")
    check_settings(ckpt, model_config, train_config)


def check_settings(ckpt: checkpoint.Checkpoint, model_config: ModelConfig,
                   train_config: TrainConfig) -> None:
    """Refuse model or training settings that differ from the run's (stop rules and
    checkpoint cadence may change)."""
    record = ckpt.record
    if record.train is None:
        raise CheckpointError(f"{ckpt.path} holds no training settings to resume with")
    wanted = dataclasses.replace(model_config, vocab_size=record.model.vocab_size,
                                 label_count=record.model.label_count)
    saved = {**record.train.to_dict(), **record.model.to_dict()}
    for name, value in [*wanted.to_dict().items(), *train_config.to_dict().items()]:
        before = saved.get(name)
        if name not in _CHANGEABLE and value != before:
            raise CheckpointError(f"{name} {value} contradicts the run being resumed "
                                  f"({before}); leave it out or start a new run", field=name)
