"""Run folders: which files make a run, finding the newest, naming a new one, describing one.

The one owner of the layout; everything else asks here::

    checkpoints/<run>/latest.safetensors   the full training state: written at every
                                           evaluation, every --checkpoint-every, on Ctrl-C
                                           and at the end (what --resume reads)
    checkpoints/<run>/best.safetensors     the weights with the lowest validation loss
    checkpoints/<run>/metrics.jsonl        one line per logged step (training/metrics.py)

`describe` and `list_runs` (what `charrnn info` and `charrnn list` show) read the
checkpoint's JSON and tensor shapes without building a model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from charrnn.errors import CheckpointError
from charrnn.model import checkpoint, shipped
from charrnn.model.checkpoint import weights_of
from charrnn.paths import exists, is_dir
from charrnn.units import bits

DEFAULT_ROOT = Path("checkpoints")
LATEST = "latest" + checkpoint.SUFFIX
BEST = "best" + checkpoint.SUFFIX
METRICS = "metrics.jsonl"


def checkpoint_files(run: Path) -> list[Path]:
    """The run's checkpoints that exist, the one to load first: best, then latest."""
    return [f for f in (run / BEST, run / LATEST) if f.is_file()]


def has_run(run: Path) -> bool:
    """Whether `run` holds a trained run's checkpoints."""
    return bool(checkpoint_files(Path(run)))


def clear(run: Path) -> None:
    """Remove a run's checkpoints so a fresh run cannot be mixed with an old one."""
    for name in (LATEST, BEST):
        (Path(run) / name).unlink(missing_ok=True)


def written_folders(run: Path, root: Path = DEFAULT_ROOT) -> dict[Path, str]:
    """The folders a run writes, each with what it is: a corpus read from a folder
    leaves them out (`data/files.py`), as it does the cache and any other run folder."""
    return {Path(run): "the run folder", Path(root): "where charrnn keeps its runs"}


def new_run_dir(name: str, root: Path = DEFAULT_ROOT) -> Path:
    """root/<name>, or <name>-2, -3... : the first that holds no run yet."""
    candidate, n = root / name, 1
    while has_run(candidate):
        n += 1
        candidate = root / f"{name}-{n}"
    return candidate


def default_run_dir(name: str, resume: bool, root: Path = DEFAULT_ROOT) -> Path:
    """Where a run on corpus `name` goes without --out: resuming continues root/<name>;
    a new run takes the next free name, so an earlier run is never overwritten."""
    return root / name if resume else new_run_dir(name, root)


def _newest(root: Path) -> Path:
    runs = [d for d in root.iterdir() if d.is_dir() and has_run(d)] if root.is_dir() else []
    if not runs:
        raise CheckpointError(
            f"no checkpoint found under {root}/; train one with 'charrnn train' "
            "or pass `checkpoint`"
        )
    return max(runs, key=lambda d: max(f.stat().st_mtime_ns for f in checkpoint_files(d)))


def resolve(path: str | Path | None, root: Path = DEFAULT_ROOT) -> Path:
    """A checkpoint file from a file, a run folder, the name of a model that ships with
    charrnn (where no file or folder has that name), or (None) the most recent run under
    root. A run folder means its best checkpoint (lowest validation loss), else its latest.
    """
    if path is None:
        return checkpoint_files(_newest(root))[0]
    if not exists(path) and shipped.path_of(str(path)) is not None:
        return shipped.path_of(str(path))
    if not exists(path):
        raise CheckpointError(f"checkpoint not found: {path} (models that ship with "
                              f"charrnn: {', '.join(shipped.names()) or 'none'})")
    path = Path(path)
    if path.is_dir():
        files = checkpoint_files(path)
        if not files:
            hidden = shipped.path_of(str(path))  # a folder of that name hides it
            raise CheckpointError(f"no checkpoint in run folder {path}" + (
                f" (it hides the model {path} that ships with charrnn: rename the "
                f"folder, or give that model's file, {hidden})" if hidden else ""))
        return files[0]
    return path


def run_name(path: Path) -> str:
    """What a checkpoint file is called: a shipped model's name, else its run folder's."""
    if path.parent == shipped.FOLDER:
        return path.name.removesuffix(checkpoint.SUFFIX)
    return path.parent.name


def newest_run(root: Path = DEFAULT_ROOT) -> Path:
    """The folder of the most recently written run under root."""
    return _newest(root)


def _bpc(nats: Any) -> float | None:
    return bits(nats) if isinstance(nats, (int, float)) else None


def _parameters(weights: dict, tied: bool) -> int:
    """Trainable numbers; a head tied to the embedding is stored twice but counted once."""
    total = sum(t.numel() for t in weights.values())
    if tied and "head.weight" in weights:
        total -= weights["head.weight"].numel()
    return total


def describe(path: str | Path | None = None, root: Path = DEFAULT_ROOT) -> dict[str, Any]:
    """A run folder (its latest checkpoint), a checkpoint file, or None (the newest run)."""
    path = Path(path) if path is not None else _newest(root)
    if is_dir(path) and (path / LATEST).is_file():
        path = path / LATEST
    ckpt = checkpoint.load(resolve(path, root))
    record, corpus, metrics = ckpt.record, ckpt.record.corpus, ckpt.record.metrics
    return {
        "checkpoint": str(ckpt.path),
        "run": str(ckpt.path.parent),
        "format_version": record.version,
        "model": record.model.to_dict(),  # older runs' fields filled in
        "train": record.train.to_dict() if record.train is not None else {},
        "data": record.data.to_dict(),
        "validation": record.validation,  # "split" (the corpus's own) or the --val-file
        "level": record.vocab.level,
        "vocab_size": len(record.vocab),
        "parameters": _parameters(weights_of(ckpt.tensors), record.model.tie_weights),
        "step": record.step,
        "epoch": record.epoch,
        "latest_val_bpc": _bpc(metrics.val_loss),
        "best_val_bpc": _bpc(metrics.best_val_loss),
        "best_step": metrics.best_step,
        "training_seconds": record.elapsed_seconds,
        "corpus": {key: corpus.to_dict()[key] for key in DESCRIBED_CORPUS},
        "labels": list(record.vocab.labels),
        "text_format": record.text_format.to_dict(),
        "latest_val_bpc_by_source": {k: _bpc(v) for k, v in record.val_by_source.items()},
        "created": record.created,
        "parent": _parent(record.parent),
    }


# what `describe` says of a run's corpus (not the paths it was given: a server shows this)
DESCRIBED_CORPUS = ("source", "sha256", "symbols", "files", "sources", "skipped")


def list_runs(root: Path = DEFAULT_ROOT) -> list[dict[str, Any]]:
    """One description per run folder under root, newest first; unreadable ones flagged."""
    runs = []
    folders = [d for d in root.iterdir() if d.is_dir()] if root.is_dir() else []
    for folder in folders:
        files = checkpoint_files(folder)
        if not files:
            continue
        newest = max(f.stat().st_mtime for f in files)
        try:
            info = describe(folder, root)
        except CheckpointError as exc:
            info = {"run": str(folder), "error": str(exc)}
        runs.append({**info, "modified": newest})
    return sorted(runs, key=lambda r: r["modified"], reverse=True)


def _parent(lineage) -> dict[str, Any] | None:
    """A fine-tune's lineage, with `ships_as`: the shipped model whose weights it started
    from, where that one now ships under another name (`shipped.name_of`)."""
    if lineage is None:
        return None
    found = lineage.to_dict()
    ships = shipped.name_of(lineage.sha256)
    if ships is not None and ships != lineage.name:
        found["ships_as"] = ships
    return found
