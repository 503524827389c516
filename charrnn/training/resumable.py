"""Whether a run may be resumed with the corpus and settings asked for: refusals are one
line, before any work is done."""

from __future__ import annotations

from charrnn.config import STOP_RULES, DataConfig, ModelConfig, TrainConfig
from charrnn.data.cache import PreparedCorpus
from charrnn.errors import CheckpointError
from charrnn.model import checkpoint

_CHANGEABLE = (*STOP_RULES, "eval_every", "checkpoint_every", "log_every", "patience")


def check_resumable(ckpt: checkpoint.Checkpoint, corpus: PreparedCorpus,
                    model_config: ModelConfig, train_config: TrainConfig,
                    processes: int = 1) -> None:
    """Refuse, with one line, to resume a run on another corpus or other settings."""
    meta = ckpt.meta
    if meta.get("processes", 1) != processes:
        raise CheckpointError(
            f"{ckpt.path} was trained by {meta.get('processes', 1)} process(es); resume it "
            f"with the same number (this job has {processes})")
    if meta.get("corpus", {}).get("sha256") != corpus.sha256:
        raise CheckpointError(
            f"{ckpt.path} was trained on another corpus "
            f"({meta.get('corpus', {}).get('source')}); resume with the same file")
    if DataConfig.from_dict(meta.get("data")).to_dict() != corpus.data.to_dict():
        raise CheckpointError(f"{ckpt.path} was trained with data options {meta.get('data')}")
    check_settings(ckpt, model_config, train_config)


def check_settings(ckpt: checkpoint.Checkpoint, model_config: ModelConfig,
                   train_config: TrainConfig) -> None:
    """Refuse model or training settings that differ from the run's (stop rules and
    checkpoint cadence may change)."""
    meta = ckpt.meta
    saved = ModelConfig.from_dict(meta.get("model")).to_dict()
    wanted = {**model_config.to_dict(), "vocab_size": saved["vocab_size"],
              "label_count": saved["label_count"]}
    saved_train = TrainConfig.from_dict(meta.get("train")).to_dict()
    for name, value in [*wanted.items(), *train_config.to_dict().items()]:
        before = saved.get(name, saved_train.get(name))
        if name not in _CHANGEABLE and value != before:
            raise CheckpointError(f"{name} {value} contradicts the run being resumed "
                                  f"({before}); leave it out or start a new run", field=name)
