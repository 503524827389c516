"""metrics.jsonl: one JSON object per logged training step, in the run folder.

Each line holds step, elapsed seconds, characters seen, the mean training loss since the
previous line, the validation loss (null between evaluations), the learning rate and the
training speed. Lines are appended and flushed as they come, so a crash loses at most
the line being written; a resumed run first drops lines past the step it resumes from,
so the file always describes the run that the checkpoints continue.

On resume only that crash's torn last line (no newline after it, and not a whole record)
is dropped silently. Any other line that is not a record is not what a crash leaves: it
is appended to metrics.jsonl.damaged beside the file, byte for byte, and reported, so no
resume ever deletes a line that might matter.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from charrnn.atomic import write_atomic
from charrnn.errors import CharRNNError
from charrnn.model.runs import METRICS

FIELDS = ("step", "elapsed", "chars", "train_loss", "val_loss", "lr", "chars_per_sec")
EXTRA = ("val_by_source", "samples")  # written only where there are some
DAMAGED_SUFFIX = ".damaged"  # metrics.jsonl.damaged: the lines a resume set aside


def _record(line: bytes) -> dict[str, Any] | None:
    """The record a metrics line holds, or None when it holds none (torn or damaged)."""
    try:
        record = json.loads(line)
    except ValueError:  # not JSON, or not UTF-8
        return None
    return record if isinstance(record, dict) and isinstance(record.get("step"), int) else None


def _python_warning(text: str) -> None:
    warnings.warn(text, RuntimeWarning, stacklevel=5)  # points at the MetricsLog(...) call


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics file (a run folder or the file), skipping any line that
    holds none (a torn last line, a damaged one)."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS
    return [r for r in map(_record, path.read_bytes().split(b"\n")) if r is not None]


class MetricsLog:
    """Appends records to <run_dir>/metrics.jsonl (see module doc). `warn` hears of lines
    set aside on resume (the training loop passes its reporter's `on_message`); without
    it they are a Python warning, since a library must not print."""

    def __init__(self, run_dir: Path, resume_step: int | None,
                 warn: Callable[[str], None] | None = None, deferred: bool = False):
        """`deferred`: a run replacing an older one keeps its records in memory, and the
        older run's file as it is, until `start` (its first checkpoint)."""
        self.path = Path(run_dir) / METRICS
        self.held: list[str] | None = [] if deferred else None
        if deferred:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if resume_step is None or not self.path.exists():
                self.path.write_bytes(b"")
                return
            self._resume(resume_step, warn or _python_warning)
        except OSError as exc:
            raise self._error(exc) from None

    def start(self) -> None:
        """A deferred log replaces the file with the records held so far, and appends
        from now on."""
        if self.held is None:
            return
        content, self.held = "".join(line + "\n" for line in self.held), None
        try:
            write_atomic(self.path, content.encode("utf-8"))
        except OSError as exc:
            raise self._error(exc) from None

    def _resume(self, resume_step: int, warn: Callable[[str], None]) -> None:
        """Keep the records up to `resume_step`; set damaged lines aside before rewriting."""
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        if _record(lines[-1]) is None:  # b"" after the last newline, or a torn write
            lines.pop()
        kept, damaged = [], []
        for number, line in enumerate(lines, 1):
            record = _record(line)
            if record is None and line.strip():
                damaged.append((number, line))
            elif record is not None and record["step"] <= resume_step:
                kept.append(line)
        if damaged:
            self._set_aside(damaged, warn)
        content = b"".join(line + b"\n" for line in kept)
        if content != data:
            write_atomic(self.path, content)

    def _set_aside(self, damaged: list[tuple[int, bytes]], warn: Callable[[str], None]) -> None:
        """Append the damaged lines to metrics.jsonl.damaged (synced before the rewrite that
        drops them) and say so in one line."""
        aside = self.path.with_name(self.path.name + DAMAGED_SUFFIX)
        with open(aside, "ab") as handle:
            handle.write(b"".join(line + b"\n" for _, line in damaged))
            handle.flush()
            os.fsync(handle.fileno())
        numbers = ", ".join(str(number) for number, _ in damaged)
        warn(f"{self.path}: unreadable line(s) {numbers} moved to {aside}")

    def _error(self, exc: OSError) -> CharRNNError:
        return CharRNNError(f"could not write {self.path}: {exc.strerror or exc}")

    def append(self, **record: Any) -> None:
        line = json.dumps({**{name: record.get(name) for name in FIELDS},
                           **{name: record[name] for name in EXTRA if record.get(name)}})
        if self.held is not None:
            self.held.append(line)
            return
        try:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError as exc:
            raise self._error(exc) from None
