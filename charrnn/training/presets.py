"""Model size presets, and the size a time budget should buy by default.

A model too big for its budget never sees the data often enough; one too small stops
improving early. The thresholds below come from runs on Tiny Shakespeare on a 2-core
CPU (`python bench/quality.py`): the budget is scaled by the machine's thread count, so
a 4-core machine is offered a larger model for the same minutes. Explicit settings
(`--hidden-size`, `--dropout`, ...) always override a preset's values. `medium` is the
config dataclasses' own defaults, read from them, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from charrnn.config import ModelConfig, TrainConfig
from charrnn.errors import ConfigError

_M, _T = ModelConfig(), TrainConfig()
SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"hidden_size": 128, "num_layers": 1, "embed_size": 32, "dropout": 0.0,
             "lr": 5e-3, "weight_decay": 0.0},
    "small": {"hidden_size": 256, "num_layers": 1, "embed_size": 64, "dropout": 0.0,
              "lr": 5e-3, "weight_decay": 0.0},
    "medium": {"hidden_size": _M.hidden_size, "num_layers": _M.num_layers,
               "embed_size": _M.embed_size, "dropout": _M.dropout, "lr": _T.lr,
               "weight_decay": _T.weight_decay},
    "large": {"hidden_size": 512, "num_layers": 1, "embed_size": 64, "dropout": 0.25,
              "lr": 7e-3, "weight_decay": 0.1, "min_lr_frac": 0.02},
    "xl": {"hidden_size": 512, "num_layers": 2, "embed_size": 64, "dropout": 0.4,
           "lr": 4e-3, "weight_decay": 0.1, "min_lr_frac": 0.02},
}
# (largest budget in 2-core seconds, size): the first row whose budget is not exceeded
_BY_BUDGET = ((60.0, "tiny"), (240.0, "small"), (480.0, "medium"), (1200.0, "large"),
              (float("inf"), "xl"))
REFERENCE_THREADS = 2


def size_for_budget(seconds: float | None, threads: int) -> str:
    """The preset that a budget of `seconds` on `threads` threads trains best; `medium`
    for a run without a time budget (one that stops by steps or epochs)."""
    if seconds is None:
        return "medium"
    scaled = seconds * max(1, threads) / REFERENCE_THREADS
    return next(name for limit, name in _BY_BUDGET if scaled <= limit)


def preset(size: str) -> dict[str, Any]:
    """The settings of a size preset by name; an unknown name is one line."""
    if size not in SIZES:
        raise ConfigError(f"--size must be one of {', '.join(SIZES)}, not {size!r}")
    return dict(SIZES[size])
