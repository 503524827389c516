"""Run planning: what a person asks for -> the configs, the run folder, what to resume.

`charrnn train` and `charrnn.train()` both plan through `plan_run`, so a time budget
buys the same preset and a resumed run inherits the same settings from either. The
rules, each written here once:

- settings: any field of DataConfig, ModelConfig or TrainConfig by name (`time` is
  `time_limit`, as "90s", "5m", "1h30m" or seconds); those not given keep their defaults.
- size: the preset asked for; else, for a new run, the one its time budget buys on
  this machine for a corpus of its size (`presets.settings_for`: a small corpus gets a
  wide, strongly regularised model). Settings given explicitly override it.
- run folder: `out`, else `runs.default_run_dir`. A folder that holds a run is refused
  unless `resume` (continue it) or `overwrite` (replace it once training starts).
- resume: settings not given come from the run itself; stop rules always come from the
  caller (they count the whole run); a contradiction is refused before any work.
- many files: `corpus` may be several paths (folders, files, globs: `data/files.py`);
  they are read as one corpus of many files, as is a single path that is a folder or
  glob, or one given `documents` files, `label_from` or `weights`. The run folder and
  `checkpoints/` are left out of them (`runs.written_folders`), as are the cache and
  every run folder; a corpus folder that is one of them is refused.
- init_from: a new run that starts from another model's weights (`parent.py`): its
  architecture and level come from that model, and the fine-tuning preset
  (`presets.finetune_settings`) replaces the size a budget would buy.

Planning reads files but writes none, so a refusal leaves everything on disk as it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charrnn.config import (
    STOP_RULES,
    DataConfig,
    ModelConfig,
    TrainConfig,
    parse_duration,
)
from charrnn.data.builtin import BUILTIN_CAP_BYTES, BUILTIN_NAME, builtin_corpus_file
from charrnn.data.files import corpus_name, find_files, is_many
from charrnn.data.vocab import Vocab
from charrnn.errors import CharRNNError, ConfigError
from charrnn.model import checkpoint, runs
from charrnn.model.record import RunRecord
from charrnn.training.parent import Parent, inherited, load_parent
from charrnn.training.presets import finetune_settings, preset, settings_for
from charrnn.training.resumable import check_settings

_CONFIGS = (DataConfig, ModelConfig, TrainConfig)
SETTINGS = (frozenset(f.name for cls in _CONFIGS for f in dataclasses.fields(cls))
            - {"vocab_size", "label_count"})
ALIASES = {"time": "time_limit"}  # the CLI's --time


@dataclass(frozen=True)
class RunPlan:
    """Everything a run needs to know before its corpus is read."""

    name: str  # what the run folder is named after
    corpus: Path | None  # the text file to learn; None: the built-in corpus (or many files)
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    run_dir: Path
    resume: checkpoint.Checkpoint | None = None  # the run's latest, when continuing it
    replaces_run: bool = False  # run_dir's old checkpoints go once training starts
    size: str | None = None  # the preset applied (None: settings inherited or explicit)
    val_file: Path | None = None
    device: str = "auto"  # see device.py
    precision: str = "auto"
    parent: Parent | None = None  # the model a fine-tuning run starts from
    paths: tuple[str, ...] = ()  # a corpus of many files: the paths given (folders, globs)

    @property
    def speaks(self) -> Vocab | None:
        """The vocabulary the corpus is read in when it is not its own: a fine-tuning
        run's, merged from its parent's (and kept by the run when it is resumed)."""
        if self.parent is not None:
            return self.parent.vocab
        if self.resume is not None and self.resume.record.parent is not None:
            return self.resume.record.vocab
        return None

    @property
    def written(self) -> dict[Path, str]:
        """The folders this run writes, which its corpus leaves out (see the module doc)."""
        return runs.written_folders(self.run_dir)

    @property
    def source(self) -> Path:
        """The file to read (the built-in corpus is written to the cache on first use)."""
        return self.corpus if self.corpus is not None else builtin_corpus_file()


def plan_run(corpus: str | Path | Sequence[str | Path] | None = None, *,
             size: str | None = None,
             out: str | Path | None = None, resume: bool = False, overwrite: bool = False,
             val_file: str | Path | None = None, threads: int | None = None,
             device: str = "auto", precision: str = "auto",
             init_from: str | Path | None = None, **settings: Any) -> RunPlan:
    """Plan a run on `corpus` (None: the built-in corpus); see the module doc for the
    rules. `threads` (default: torch's) scales the budget when choosing a size."""
    given = normalise(settings)
    if init_from is not None and resume:
        raise ConfigError("init_from starts a new run from another model; a resumed run "
                          "continues from its own checkpoint: leave out one of them",
                          field="init_from")
    paths = _paths(corpus)
    name = corpus_name(list(paths)) if paths else BUILTIN_NAME
    run_dir = Path(out) if out is not None else runs.default_run_dir(name, resume)
    previous = _previous_run(run_dir, resume, overwrite)
    parent = load_parent(init_from) if init_from is not None else None
    chars = _corpus_chars(paths, _config(DataConfig, given), run_dir)
    size, chosen = _preset(size, previous, parent, given, threads, chars)
    kept = inherit(previous.record) if previous is not None else {}
    options = {**kept, **chosen, **given}  # explicit beats preset beats the run's own
    data, model, train = (_config(cls, options) for cls in _CONFIGS)
    if previous is not None:
        check_settings(previous, model, train)
    many = paths is not None and is_many(list(paths), data)
    if many and val_file is not None:
        raise ConfigError("val_file cannot validate a corpus of many files: it holds out "
                          "whole files of each source itself; leave `val_file` out",
                          field="val_file")
    return RunPlan(name=name, corpus=Path(paths[0]) if paths and not many else None,
                   paths=tuple(str(p) for p in paths) if many else (),
                   data=data, model=model, train=train, run_dir=run_dir, resume=previous,
                   replaces_run=previous is None and runs.has_run(run_dir), size=size,
                   val_file=Path(val_file) if val_file is not None else None,
                   device=device, precision=precision, parent=parent)


def _preset(size: str | None, previous: checkpoint.Checkpoint | None, parent: Parent | None,
            given: dict[str, Any], threads: int | None,
            chars: int | None) -> tuple[str | None, dict[str, Any]]:
    """The preset's name and settings: the size asked for; for a new run without one,
    what its budget buys for its corpus; for a fine-tuning run, the parent's
    architecture and the fine-tuning settings for its corpus."""
    if parent is not None:
        if size is not None:
            raise ConfigError(f"size {size!r} contradicts `init_from`: a fine-tuned model "
                              "keeps its parent's size; leave one out", field="size")
        chosen = finetune_settings(chars)
        return "fine-tune", {**chosen, **inherited(parent, given)}
    if size is not None:
        return size, preset(size)
    if previous is not None:
        return None, {}
    return settings_for(TrainConfig(**_stops(given)).budgeted.time_limit,
                        threads or _torch_threads(), chars)


def normalise(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings by config field name, `time` parsed; an unknown name is one line."""
    named = {ALIASES.get(key, key): value for key, value in settings.items()}
    unknown = sorted(set(named) - SETTINGS)
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}; settings are the fields of "
                          "DataConfig, ModelConfig and TrainConfig")
    if isinstance(named.get("time_limit"), str):
        named["time_limit"] = parse_duration(named["time_limit"])
    return named


def inherit(record: RunRecord) -> dict[str, Any]:
    """The settings a resumed run keeps from its checkpoint: all but the stop rules."""
    saved = {**record.data.to_dict(),
             **(record.train.to_dict() if record.train is not None else {}),
             **record.model.to_dict()}
    return {k: v for k, v in saved.items() if k in SETTINGS and k not in STOP_RULES}


def _previous_run(run_dir: Path, resume: bool, overwrite: bool) -> checkpoint.Checkpoint | None:
    """The checkpoint to continue from, or None for a fresh run; refuses to bury a run."""
    if resume and (run_dir / runs.LATEST).is_file():
        return checkpoint.load(run_dir / runs.LATEST)
    if runs.has_run(run_dir) and not overwrite:
        raise CharRNNError(f"{run_dir} already holds a trained run; pass `resume` to continue "
                           "it, `overwrite` to replace it, or choose another `out`")
    return None


def _stops(options: dict[str, Any]) -> dict[str, Any]:
    return {k: options[k] for k in STOP_RULES if options.get(k) is not None}


def _config(cls, options: dict[str, Any]):
    fields = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in options.items() if k in fields}).validate()


def _paths(corpus: str | Path | Sequence[str | Path] | None) -> tuple[str | Path, ...] | None:
    if corpus is None:
        return None
    if isinstance(corpus, (str, Path)):
        return (corpus,)
    paths = tuple(corpus)
    if not paths:
        raise ConfigError("corpus is an empty list of paths; give at least one", field="corpus")
    return paths


def _corpus_chars(paths: tuple[str | Path, ...] | None, data: DataConfig,
                  run_dir: Path) -> int | None:
    """About how many characters the corpus holds (its size in bytes), for the preset;
    the built-in corpus is its cap. Many files are found now, so a path that names
    nothing (or a folder the run writes) is refused before any work."""
    if paths is None:
        return BUILTIN_CAP_BYTES
    try:
        if is_many(list(paths), data):
            files = find_files(list(paths), data, runs.written_folders(run_dir))
            return sum(f.path.stat().st_size for f in files)
        return Path(paths[0]).stat().st_size
    except OSError:
        return None  # a missing file is refused with its own message when it is read


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()
