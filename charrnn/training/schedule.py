"""The run's budget and the learning rate that follows it.

A run stops at whichever of its rules ends first (steps, epochs, seconds); the schedule
reads the same fraction, so the rate reaches its floor just as training must stop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from charrnn.config import TrainConfig


@dataclass(frozen=True)
class Budget:
    """A run's stop rules: a step count (from --steps and --epochs) and seconds."""

    steps: int | None
    seconds: float | None

    @classmethod
    def of(cls, cfg: TrainConfig, windows_per_epoch: int) -> Budget:
        steps = cfg.steps
        if cfg.epochs is not None:
            by_epochs = max(1, math.ceil(cfg.epochs * windows_per_epoch))
            steps = by_epochs if steps is None else min(steps, by_epochs)
        return cls(steps, cfg.time_limit)

    def used(self, step: int, elapsed: float, reserve: float) -> float:
        """How much of the budget is used: steps, or time plus `reserve` for the final
        evaluation, so the schedule reaches its end just when training must stop."""
        parts = [0.0]
        if self.steps is not None:
            parts.append(step / self.steps)
        if self.seconds is not None:
            parts.append((elapsed + reserve) / self.seconds)
        return max(parts)


def learning_rate(cfg: TrainConfig, step: int, fraction: float) -> float:
    """Linear warm-up over the first steps; then cosine or linear decay to
    min_lr_frac * lr as `fraction` of the run's budget (steps or time) goes from 0 to 1,
    or (schedule "constant") the peak rate throughout."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return cfg.lr
    low, done = cfg.lr * cfg.min_lr_frac, min(1.0, fraction)
    if cfg.lr_schedule == "linear":
        return low + (cfg.lr - low) * (1 - done)
    return low + (cfg.lr - low) * 0.5 * (1 + math.cos(math.pi * done))
