"""What training tells its caller: the `Reporter` protocol and the records it carries.

The training loop prints nothing; the CLI passes a reporter that draws progress (see
`charrnn.interface.display`), and library users get `SilentReporter` unless they pass their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class RunInfo:
    run_dir: Path
    level: str
    parameters: int
    vocab_size: int
    train_chars: int
    val_chars: int
    batch_size: int
    seq_len: int
    total_steps: int | None
    time_limit: float | None
    resumed_from: int | None  # the step a resumed run continues from
    threads: int = 1  # CPU threads torch computes with
    device: str = "cpu"
    precision: str = "fp32"
    processes: int = 1  # of a distributed job (torchrun)
    streams: tuple[int, int, int] = (0, 1, 1)  # this process's rows [a, b) of n streams
    documents: tuple[int, int] | None = None  # training and validation documents
    padding: float | None = None  # share of the document batches that is padding
    parent: dict | None = None  # a fine-tuning run's lineage (training/parent.py)
    sources: tuple = ()  # a corpus of many files: each source's `sourced.SourceShare`
    labels: tuple[str, ...] = ()  # a model of labelled files: its labels
    left_out: tuple[str, ...] = ()  # charrnn's own folders in the corpus, not read


@dataclass(frozen=True)
class StepStats:
    step: int
    epoch: int
    loss: float
    lr: float
    chars_per_sec: float
    elapsed: float
    fraction: float  # of the run's budget used, 0..1


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    steps: int
    epochs: float
    elapsed: float
    chars_seen: int
    val_loss: float
    best_val_loss: float
    best_step: int
    parameters: int
    interrupted: bool = False  # stopped early on request; `latest` holds where it stopped
    stopped_early: bool = False  # by --patience
    parent: dict | None = None  # a fine-tuning run's lineage, its zero-shot loss included
    by_source: dict[str, float] | None = None  # many files: the last evaluation's per source

    @property
    def zero_shot_loss(self) -> float | None:
        """The parent's loss on this run's validation text before any step."""
        return (self.parent or {}).get("zero_shot_loss")


@dataclass(frozen=True)
class EvalDetail:
    """What an evaluation found beyond its loss: each source's loss (nats per symbol; a
    corpus of many files) and a short sample (per label; "" for an unlabelled model)."""

    step: int
    by_source: dict[str, float]
    samples: dict[str, str]


class Reporter(Protocol):
    """What training tells. A reporter may also have `on_detail(EvalDetail)` (after each
    evaluation); one without it is not told."""

    def on_start(self, info: RunInfo) -> None: ...
    def on_step(self, stats: StepStats) -> None: ...
    def on_eval(self, step: int, val_loss: float, improved: bool) -> None: ...
    def on_message(self, text: str) -> None: ...
    def on_end(self, result: TrainResult) -> None: ...


class SilentReporter:
    """A Reporter that ignores everything (the default for library use)."""

    def on_detail(self, detail: EvalDetail) -> None: ...

    def on_start(self, info: RunInfo) -> None: ...
    def on_step(self, stats: StepStats) -> None: ...
    def on_eval(self, step: int, val_loss: float, improved: bool) -> None: ...
    def on_message(self, text: str) -> None: ...
    def on_end(self, result: TrainResult) -> None: ...
