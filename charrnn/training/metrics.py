"""metrics.jsonl: one JSON object per logged training step, in the run folder.

Each line holds step, elapsed seconds, characters seen, the mean training loss since the
previous line, the validation loss (null between evaluations), the learning rate and the
training speed. Lines are appended and flushed as they come, so a crash loses at most
the line being written; a resumed run first drops lines past the step it resumes from,
so the file always describes the run that the checkpoints continue.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from charrnn.atomic import write_atomic
from charrnn.errors import CharRNNError
from charrnn.model.runs import METRICS

FIELDS = ("step", "elapsed", "chars", "train_loss", "val_loss", "lr", "chars_per_sec")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics file (a run folder or the file), skipping a torn line."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    return records


class MetricsLog:
    """Appends records to <run_dir>/metrics.jsonl (see module doc)."""

    def __init__(self, run_dir: Path, resume_step: int | None):
        self.path = Path(run_dir) / METRICS
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if resume_step is None or not self.path.exists():
                self.path.write_bytes(b"")
                return
            records = read_metrics(self.path)
            kept = [r for r in records if r["step"] <= resume_step]
            if len(kept) < len(records) or not self.path.read_bytes().endswith(b"\n"):
                write_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept).encode())
        except OSError as exc:
            raise self._error(exc) from None

    def _error(self, exc: OSError) -> CharRNNError:
        return CharRNNError(f"could not write {self.path}: {exc.strerror or exc}")

    def append(self, **record: Any) -> None:
        line = json.dumps({name: record.get(name) for name in FIELDS})
        try:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError as exc:
            raise self._error(exc) from None
