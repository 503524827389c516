"""What a run or checkpoint holds, for `charrnn info` and `charrnn list`, read from the
checkpoint's JSON and tensor shapes without building a model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from charrnn.errors import CheckpointError
from charrnn.model import checkpoint
from charrnn.model.checkpoint import weights_of
from charrnn.units import bits


def _bpc(nats: Any) -> float | None:
    return bits(nats) if isinstance(nats, (int, float)) else None


def _parameters(weights: dict, model: dict) -> int:
    """Trainable numbers; a head tied to the embedding is stored twice but counted once."""
    total = sum(t.numel() for t in weights.values())
    if model.get("tie_weights") and "head.weight" in weights:
        total -= weights["head.weight"].numel()
    return total


def describe(path: str | Path | None = None,
             root: Path = checkpoint.DEFAULT_ROOT) -> dict[str, Any]:
    """A run folder (its latest checkpoint), a checkpoint file, or None (the newest run)."""
    if path is None:
        path = checkpoint.resolve(None, root).parent
    path = Path(path)
    if path.is_dir() and (path / checkpoint.LATEST).is_file():
        path = path / checkpoint.LATEST
    ckpt = checkpoint.load(checkpoint.resolve(path, root))
    meta = ckpt.meta
    metrics = meta.get("metrics", {})
    vocab = meta.get("vocab", {})
    corpus = meta.get("corpus", {})
    return {
        "checkpoint": str(ckpt.path),
        "run": str(ckpt.path.parent),
        "format_version": meta.get("version"),
        "model": meta.get("model"),
        "train": meta.get("train"),
        "data": meta.get("data"),
        "level": vocab.get("level"),
        "vocab_size": len(vocab.get("counts", [])),
        "parameters": _parameters(weights_of(ckpt.tensors), meta.get("model") or {}),
        "step": meta.get("step"),
        "epoch": meta.get("epoch"),
        "latest_val_bpc": _bpc(metrics.get("val_loss")),
        "best_val_bpc": _bpc(metrics.get("best_val_loss")),
        "best_step": metrics.get("best_step"),
        "training_seconds": meta.get("elapsed_seconds"),
        "corpus": {"source": corpus.get("source"), "sha256": corpus.get("sha256"),
                   "symbols": corpus.get("symbols")},
        "created": meta.get("created"),
    }


def list_runs(root: Path = checkpoint.DEFAULT_ROOT) -> list[dict[str, Any]]:
    """One description per run folder under root, newest first; unreadable ones flagged."""
    runs = []
    folders = [d for d in root.iterdir() if d.is_dir()] if root.is_dir() else []
    for folder in folders:
        files = [f for f in (folder / checkpoint.LATEST, folder / checkpoint.BEST) if f.is_file()]
        if not files:
            continue
        newest = max(f.stat().st_mtime for f in files)
        try:
            info = describe(folder, root)
        except CheckpointError as exc:
            info = {"run": str(folder), "error": str(exc)}
        runs.append({**info, "modified": newest})
    return sorted(runs, key=lambda r: r["modified"], reverse=True)
