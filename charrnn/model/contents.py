"""What a checkpoint must hold before anything is built from it.

A checkpoint states its own shape (`model`: hidden size, layers, vocabulary), and a
crafted file could state a shape of gigabytes around a few kilobytes of tensors, or a
count no integer type holds. `check_contents` reads every section that loading, resuming
or fine-tuning uses and compares the stated shape with the tensors' shapes (on torch's
"meta" device: no memory is allocated), so a bad file is refused with one line before a
model is built, a count is converted or anything on disk is touched. The bounds are in
`charrnn.config` (MAX_HIDDEN, MAX_LAYERS, ...) and docs/checkpoints.md.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from charrnn.config import DataConfig, ModelConfig, TrainConfig
from charrnn.data.vocab import MAX_COUNT, vocab_from_dict
from charrnn.errors import CheckpointError
from charrnn.model.network import CharRNN

_SECTIONS = ("train", "data", "metrics", "corpus", "parent", "val_by_source")
_COUNTS = ("step", "epoch", "window", "chars_seen", "processes")
_SCORES = ("train_loss", "val_loss", "best_val_loss")


def check_contents(document: dict[str, Any], weights: dict[str, dict[str, torch.Tensor]]
                   ) -> None:
    """Refuse (CheckpointError, the reason) a document, or sets of weights (by tensor-name
    prefix: the trained ones, their average), that do not describe one sound model of the
    shape the document states."""
    for name, what in (("model", "model settings"), ("vocab", "vocabulary")):
        if not isinstance(document.get(name), dict):
            raise CheckpointError(f"it has no {what}")
    for name in _SECTIONS:
        if document.get(name) is not None and not isinstance(document[name], dict):
            raise CheckpointError(f"its {name} section is not an object")
    check_numbers(document)
    config = ModelConfig.from_dict(document["model"])
    for section, kind in (("train", TrainConfig), ("data", DataConfig)):
        if section in document:
            kind.from_dict(document[section])
    vocab = vocab_from_dict(document["vocab"])
    if len(vocab) != config.vocab_size:
        raise CheckpointError(f"its vocabulary has {len(vocab)} symbols but its model "
                              f"expects {config.vocab_size}")
    check_weights(config, weights)


def check_numbers(document: dict[str, Any]) -> None:
    """Counts are integers in [0, MAX_COUNT]; times and scores are finite numbers."""
    for name in _COUNTS:
        value = document.get(name)
        if value is not None and not (_is_int(value) and 0 <= value <= MAX_COUNT):
            raise CheckpointError(f"its {name} is not a count between 0 and {MAX_COUNT}")
    for name in ("validation", "created"):
        if document.get(name) is not None and not isinstance(document[name], str):
            raise CheckpointError(f"its {name} is not text")
    elapsed = document.get("elapsed_seconds")
    if elapsed is not None and not (_is_finite(elapsed) and elapsed >= 0):
        raise CheckpointError("its elapsed_seconds is not a time")
    metrics = document.get("metrics") or {}
    for name in _SCORES:
        if metrics.get(name) is not None and not _is_number(metrics[name]):
            raise CheckpointError(f"its metrics' {name} is not a number")
    for name in ("best_step", "evals_since_best"):
        value = metrics.get(name)
        if value is not None and not (_is_int(value) and -1 <= value <= MAX_COUNT):
            raise CheckpointError(f"its metrics' {name} is not a count")


class _NoFilling(TorchFunctionMode):
    """Weights made on the meta device are left unfilled: they hold no numbers to fill,
    and torch's meta filling (`normal_`, `uniform_`) imports its compiler on first use,
    seconds that every command which loads a model would wait for."""

    FILLS = frozenset({"normal_", "uniform_", "fill_", "zero_", "kaiming_uniform_",
                       "kaiming_normal_", "xavier_uniform_", "xavier_normal_",
                       "orthogonal_", "trunc_normal_", "constant_", "zeros_", "ones_"})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in self.FILLS:
            filled = args[0] if args else kwargs.get("tensor", kwargs.get("self"))
            if isinstance(filled, torch.Tensor) and filled.is_meta:
                return filled
        return func(*args, **kwargs)


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The weights a model of `config` has, by name, with their shapes (nothing built)."""
    with torch.device("meta"), _NoFilling():
        model = CharRNN(config)
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def check_weights(config: ModelConfig, weights: dict[str, dict[str, torch.Tensor]]) -> None:
    """In each set of weights, every weight the config implies is present, of its shape,
    floating point and finite, and there is no other."""
    expected = expected_shapes(config)
    for prefix, named in weights.items():
        if set(named) != set(expected):
            odd = sorted(set(expected) - set(named)) or sorted(set(named) - set(expected))
            raise CheckpointError(f"its tensors do not match its model config "
                                  f"({prefix}{odd[0]})")
        for name, shape in expected.items():
            tensor = named[name]
            if tuple(tensor.shape) != shape:
                raise CheckpointError(
                    f"its tensors do not match its model config ({prefix}{name} is "
                    f"{tuple(tensor.shape)}, the config says {shape})")
            if not tensor.is_floating_point() or not bool(torch.isfinite(tensor).all()):
                raise CheckpointError(f"its weight {prefix}{name} is not finite floating "
                                      "point numbers")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value)
