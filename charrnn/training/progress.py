"""What the training loop carries from step to step, in one object.

`Scores` travels in every checkpoint, so a resumed run keeps its best loss and its
--patience count; `Progress` adds the step, the clock, and the sums behind the next
metrics line.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from charrnn.model.record import Losses


def finite(value: float) -> float | None:
    """JSON has no inf or nan: those are written as null."""
    return value if math.isfinite(value) else None


@dataclass
class Scores:
    """What the run has measured so far (nats per character)."""

    train_loss: float = math.nan
    val_loss: float = math.nan
    best_loss: float = math.inf
    best_step: int = 0
    stale: int = 0  # evaluations since the best

    def record(self, val_loss: float, step: int) -> bool:
        """Note an evaluation; whether it is a new best."""
        self.val_loss = val_loss
        improved = val_loss < self.best_loss
        if improved:
            self.best_loss, self.best_step, self.stale = val_loss, step, 0
        else:
            self.stale += 1
        return improved

    def to_record(self) -> Losses:
        """As a checkpoint records them (a loss not measured yet: None)."""
        return Losses(finite(self.train_loss), finite(self.val_loss), finite(self.best_loss),
                      self.best_step, self.stale)

    @classmethod
    def from_record(cls, saved: Losses) -> Scores:
        def value(loss: float | None, missing: float) -> float:
            return missing if loss is None else loss

        return cls(train_loss=value(saved.train_loss, math.nan),
                   val_loss=value(saved.val_loss, math.nan),
                   best_loss=value(saved.best_val_loss, math.inf),
                   best_step=saved.best_step or 0, stale=saved.evals_since_best)


@dataclass
class Progress:
    """Where the run is: its step and scores, its clock, and the current metrics window."""

    started: float  # the clock's reading when the run began (earlier sessions included)
    step: int = 0
    chars: int = 0  # characters trained on, all processes together (documents: no padding)
    scores: Scores = field(default_factory=Scores)
    lr: float = 0.0
    step_seconds: float = 0.0  # the last step's duration
    eval_seconds: float = 0.0  # the last evaluation's, or an estimate before the first
    evaluated_at: int = -1  # the step of the last evaluation
    window_loss: float = 0.0  # sums over the steps since the last metrics line
    window_steps: int = 0
    window_seconds: float = 0.0
    window_chars: int = 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def reserve(self) -> float:
        """Seconds to keep for the next step and the final evaluation, with a margin for
        this machine's speed changing."""
        return 2.0 * self.step_seconds + 1.5 * self.eval_seconds

    def stepped(self, loss: float, seconds: float, chars: int) -> None:
        """Count a finished step of `seconds` on `chars` characters with training loss
        `loss`."""
        self.step += 1
        self.chars += chars
        self.window_chars += chars
        self.scores.train_loss = loss
        self.step_seconds = seconds
        self.window_loss += loss
        self.window_steps += 1
        self.window_seconds += seconds

    def take_window(self) -> tuple[float | None, int, float]:
        """The mean training loss, the characters and the seconds of the steps since the
        last metrics line; a new window starts."""
        mean = self.window_loss / self.window_steps if self.window_steps else None
        taken = (mean, self.window_chars, self.window_seconds)
        self.window_loss, self.window_steps, self.window_seconds = 0.0, 0, 0.0
        self.window_chars = 0
        return taken
