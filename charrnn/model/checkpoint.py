"""The only code that knows the on-disk format.

A checkpoint is one safetensors file: the tensors, plus a JSON document (format version,
configs, vocabulary, step, metrics, corpus, and a sha256 of the tensor bytes) stored in
the safetensors header metadata. One file means one atomic rename per save, and loading
parses JSON and raw arrays only: nothing is ever unpickled, so a hostile file cannot
run code. Which files make a run folder is `runs.py`'s business.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from charrnn.atomic import write_atomic
from charrnn.errors import CheckpointError
from charrnn.model.contents import check_contents
from charrnn.model.record import RunRecord

FORMAT_NAME = "charrnn"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"
_META_KEY = "charrnn"
MODEL, AVERAGE = "model.", "average."  # tensor-name prefixes: trained and averaged weights
_MAX_HEADER = 100_000_000
# How the first files read their corpus, before the data section existed: UTF-8, line
# ends as they were, the whole validation split (no cap).
FIRST_DATA = {"encoding": "utf-8", "level": "char", "keep_newlines": True,
              "val_max_chars": 2**62}


@dataclass
class Checkpoint:
    """A checkpoint as read: its run's `record` (what the package asks), its tensors,
    and `meta`, the upgraded JSON document itself (for a script that wants the raw
    document; charrnn's own modules read the record)."""

    path: Path
    meta: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    record: RunRecord


def _tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over every tensor's name, dtype, shape and raw bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()


def save(path: Path, tensors: dict[str, torch.Tensor], meta: RunRecord | dict[str, Any]
         ) -> None:
    """Save tensors (moved to CPU, made contiguous) and the run's record (or a JSON-able
    document) atomically."""
    if isinstance(meta, RunRecord):
        meta = meta.to_document()
    cpu = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    document = {"format": FORMAT_NAME, "version": FORMAT_VERSION,
                "tensors_sha256": _tensor_digest(cpu), **meta}
    blob = save_tensors(cpu, metadata={_META_KEY: json.dumps(document, ensure_ascii=False)})
    try:
        write_atomic(Path(path), blob)
    except OSError as exc:
        raise CheckpointError(f"could not write {path}: {exc.strerror or exc}") from None


def model_tensors(model: torch.nn.Module, prefix: str = MODEL) -> dict[str, torch.Tensor]:
    """The weights by name; a tied head gets its own copy (safetensors stores no aliases,
    and loading writes the same values into the shared matrix twice)."""
    tensors = {prefix + name: t for name, t in model.state_dict().items()}
    if model.config.tie_weights:
        tensors[prefix + "head.weight"] = tensors[prefix + "head.weight"].clone()
    return tensors


def weights_of(tensors: dict[str, torch.Tensor], prefix: str | None = None
               ) -> dict[str, torch.Tensor]:
    """Model weights out of a checkpoint's tensors, without their prefix: by default the
    averaged weights where the checkpoint has them (they are what was evaluated)."""
    if prefix is None:
        prefix = AVERAGE if any(k.startswith(AVERAGE) for k in tensors) else MODEL
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def _first_digest(blob: bytes, header_len: int) -> str:
    """The checksum files written before the per-tensor digest carry: sha256 of the
    safetensors data section."""
    return hashlib.sha256(blob[8 + header_len :]).hexdigest()


def upgraded(document: dict[str, Any], tensors: dict[str, torch.Tensor]
             ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A document and tensors of any file written since the first release, as this
    version reads them (the format version has stayed 1; fields were added, each with
    the value older runs behaved by: the configs' `legacy`). Files written before exact
    resume held only the weights, their names without `model.`; the first ones'
    vocabulary had no level (characters were the only one) and they had no data section
    (`FIRST_DATA`)."""
    if not any(name.startswith((MODEL, AVERAGE)) for name in tensors):
        tensors = {MODEL + name: t for name, t in tensors.items()}
    vocab = document.get("vocab")
    if isinstance(vocab, dict) and "level" not in vocab:
        document = {**document, "vocab": {**vocab, "level": "char"}}
    if "data" not in document:  # before data options: UTF-8 read as it was, all validated
        document = {**document, "data": FIRST_DATA}
    return document, tensors


def _refuse(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"cannot load checkpoint {path}: {why}")


def load(path: str | Path) -> Checkpoint:
    """Read and verify a checkpoint, its contents included (`contents.py`: the shape it
    states is its tensors' shape, within bounds, every number in range) before anything
    is built from it; any problem is one CheckpointError line."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint not found: {path}") from None
    except IsADirectoryError:
        raise _refuse(path, "it is a directory") from None
    except OSError as exc:
        raise _refuse(path, exc.strerror or str(exc)) from None
    if len(blob) < 8:
        raise _refuse(path, "the file is too short to be a checkpoint")
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > min(_MAX_HEADER, len(blob) - 8):
        raise _refuse(path, "not a charrnn checkpoint, or a truncated one")
    try:
        header = json.loads(blob[8 : 8 + header_len])
        document = json.loads(header["__metadata__"][_META_KEY])
    except (ValueError, KeyError, TypeError, RecursionError):
        raise _refuse(path, "not a charrnn checkpoint (no charrnn metadata)") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise _refuse(path, "not a charrnn checkpoint")
    version = document.get("version")
    if not isinstance(version, int):
        raise _refuse(path, "it has no format version")
    if version > FORMAT_VERSION:
        raise _refuse(
            path, f"written by a newer charrnn (format {version}; this one reads up to "
            f"{FORMAT_VERSION}); upgrade charrnn"
        )
    try:
        tensors = load_tensors(blob)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise _refuse(path, f"truncated or corrupt tensor data ({exc})") from None
    if document.get("tensors_sha256") not in (_tensor_digest(tensors),
                                              _first_digest(blob, header_len)):
        raise _refuse(path, "tensor checksum mismatch (the file is corrupt or truncated)")
    document, tensors = upgraded(document, tensors)
    stored = {MODEL: weights_of(tensors, MODEL)}
    if any(name.startswith(AVERAGE) for name in tensors):
        stored[AVERAGE] = weights_of(tensors, AVERAGE)
    try:
        check_contents(document, stored)
        record = RunRecord.from_document(document)
    except CheckpointError as exc:
        raise _refuse(path, str(exc)) from None
    return Checkpoint(path=path, meta=document, tensors=tensors, record=record)
