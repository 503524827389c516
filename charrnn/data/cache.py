"""Corpus -> a memory-mapped file of ids, prepared once and reused.

Preparing reads the file three times in chunks, so memory stays flat whatever its size:
a sha256 of the bytes (the cache key, with the level, encoding and newline mode), a
count of every symbol (the vocabulary), then the ids written as uint8 where the
vocabulary fits (int32 otherwise). Training slices its batches straight out of the
memory map. A second run on the same file only hashes it and opens the map.

A file can change between those reads (an editor saving, a log being written). So the
counting and encoding passes hash what they read too, and an entry is stored only if
both hashes are the key's and every symbol encoded was counted; otherwise nothing is
stored and `FileChanged` says so (an entry under one hash must hold that text's ids).

Cache folder (`cache_root()`)::

    <key>.ids    raw ids, native byte order
    <key>.json   vocabulary, id count and dtype; written last, so its presence means
                 the .ids file is complete
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from charrnn.atomic import atomic_writer, write_atomic
from charrnn.config import DataConfig
from charrnn.data.cache_folder import cache_root
from charrnn.data.reading import check_file, iter_bytes, iter_symbols, iter_text
from charrnn.data.vocab import UNICODE_SIZE, ByteVocab, Vocab, code_points, vocab_from_dict
from charrnn.errors import CorpusError

if TYPE_CHECKING:
    from charrnn.data.files import FileTable

CACHE_VERSION = 1
_DENSE_FROM = 1 << 18  # code points in a chunk: from here on counted in a dense table
Progress = Callable[[str, int, int], None]  # (phase, bytes done, bytes total)
_DTYPES = {"uint8": torch.uint8, "int32": torch.int32}


class FileChanged(CorpusError):
    """A file that changed while it was prepared: nothing of it was stored."""

    def __init__(self, path: Path):
        super().__init__(f"{path} changed while it was being prepared, so nothing of it was "
                         "cached; run again once it is no longer being written")



@dataclass(frozen=True)
class PreparedCorpus:
    """A corpus as ids (memory-mapped), its vocabulary, and where it came from."""

    ids: torch.Tensor
    vocab: Vocab
    name: str
    source: str
    sha256: str
    data: DataConfig
    cached: bool  # True when an existing cache was opened
    seconds: float  # time spent hashing and preparing or opening
    size_bytes: int
    files: FileTable | None = None  # a corpus of many files: where each lies (collection.py)

    @property
    def layout(self) -> str:
        """How the corpus is laid out: "stream" (one text), "documents" (one file cut
        into a list of texts), "files" (many, read as one stream) or "file documents"
        (many, each cut into documents or a document itself)."""
        many = self.files is not None
        if self.data.documents is None:
            return "files" if many else "stream"
        return "file documents" if many else "documents"

    @property
    def first_label(self) -> int | None:
        """The first label id of a corpus of labelled files (labels are read, never
        scored); None without labels."""
        return self.vocab.end_id + 1 if self.vocab.labels else None

    @property
    def left_out(self) -> tuple[str, ...]:
        """charrnn's own folders that a corpus of many files did not read."""
        return self.files.left_out if self.files is not None else ()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "sha256": self.sha256,
                "symbols": self.ids.numel(), "level": self.data.level,
                "encoding": self.data.encoding,
                **(self.files.describe() if self.files is not None else {})}


def _noop(phase: str, done: int, total: int) -> None: ...


def file_sha256(path: Path, progress: Progress = _noop) -> str:
    digest, done, total = hashlib.sha256(), 0, path.stat().st_size
    for block in iter_bytes(path):
        digest.update(block)
        done += len(block)
        progress("hashing", done, total)
    return digest.hexdigest()


def cache_key(sha256: str, data: DataConfig) -> str:
    newlines = "keepnl" if data.keep_newlines else "nl"
    encoding = "raw" if data.level == "byte" else data.encoding.lower().replace("_", "-")
    return f"{sha256[:32]}-{data.level}-{encoding}-{newlines}-v{CACHE_VERSION}"


def entry_paths(sha256: str, data: DataConfig) -> tuple[Path, Path]:
    """Where the cache entry of a text with this hash, read with these options, lies:
    its .ids file and its .json metadata."""
    root, key = cache_root(), cache_key(sha256, data)
    return root / f"{key}.ids", root / f"{key}.json"


def _blocks(path: Path, data: DataConfig, progress: Progress, phase: str, digest):
    """The file in chunks (code points for char, bytes for byte), each raw byte also
    given to `digest`."""
    total, done = path.stat().st_size, 0
    if data.level == "byte":
        for block in iter_bytes(path, digest=digest):
            done += len(block)
            progress(phase, done, total)
            yield block
    else:
        yield from iter_text(path, data, on_bytes=lambda n: progress(phase, n, total),
                             digest=digest)


def _unchanged(path: Path, digest, sha256: str) -> None:
    """Refuse a pass that read other bytes than the key's (see the module doc)."""
    if digest.hexdigest() != sha256:
        raise FileChanged(path)


def _count(path: Path, data: DataConfig, progress: Progress, sha256: str) -> Vocab:
    digest = hashlib.sha256()
    if data.level == "byte":
        counts = torch.zeros(256, dtype=torch.int64)
        for block in _blocks(path, data, progress, "counting", digest):
            counts += torch.bincount(torch.frombuffer(bytearray(block), dtype=torch.uint8),
                                     minlength=256)
        _unchanged(path, digest, sha256)
        if counts.sum() == 0:
            raise CorpusError(f"corpus holds no bytes: {path}")
        return ByteVocab(counts.tolist())
    found: dict[int, int] = {}
    for text in _blocks(path, data, progress, "counting", digest):
        for point, count in _present(code_points(text)):
            found[point] = found.get(point, 0) + count
    _unchanged(path, digest, sha256)
    if not found:
        raise CorpusError(f"corpus holds no text (only a byte-order mark?): {path}")
    points = sorted(found)
    return Vocab([chr(p) for p in points], [found[p] for p in points])


def _present(points: torch.Tensor) -> list[tuple[int, int]]:
    """(code point, count) of each code point in a chunk. A big chunk is counted in a
    table of every code point (one pass); a small one by sorting it, so that a folder of
    small files never allocates that 9 MB table per file (freed tables a file at a time,
    between the small objects kept for every file, are memory the process never gets
    back: `bench/many_files.py`)."""
    if points.numel() >= _DENSE_FROM:
        dense = torch.bincount(points, minlength=UNICODE_SIZE)
        present = torch.nonzero(dense).flatten()
        values, counts = present, dense[present]
    else:
        values, counts = torch.unique(points, return_counts=True)
    return list(zip(values.tolist(), counts.tolist(), strict=True))


def _write_ids(path: Path, data: DataConfig, vocab: Vocab, target: Path,
               progress: Progress, sha256: str) -> int:
    """The file's ids into `target`, which is replaced only if the pass read the key's
    bytes and met no symbol the count did not (a failure leaves no file behind)."""
    count, digest = 0, hashlib.sha256()
    with atomic_writer(target) as handle:
        for chunk in _blocks(path, data, progress, "encoding", digest):
            if isinstance(chunk, bytes):
                ids = torch.frombuffer(bytearray(chunk), dtype=torch.uint8)
            else:
                ids = vocab.lookup(chunk)
                if bool((ids < 0).any()):
                    raise FileChanged(path)
                ids = ids.to(vocab.dtype)
            handle.write(ids.numpy().tobytes())
            count += ids.numel()
        _unchanged(path, digest, sha256)
    return count


def open_ids(ids_path: Path, count: int, dtype: str) -> torch.Tensor:
    """A cache entry's ids, memory-mapped (`dtype` as its metadata names it)."""
    return torch.from_file(str(ids_path), shared=False, size=count, dtype=_DTYPES[dtype])


def read_ids(ids_path: Path, dtype: str, piece: int = 1 << 22) -> Iterator[torch.Tensor]:
    """A cache entry's ids in pieces of at most `piece` ids, read rather than mapped: for
    a pass over more entries than a process may map, or a file too big to hold."""
    size = torch.empty(0, dtype=_DTYPES[dtype]).element_size()
    for block in iter_bytes(ids_path, piece * size):
        yield torch.frombuffer(bytearray(block), dtype=_DTYPES[dtype])


def read_meta(meta_path: Path, ids_path: Path) -> dict[str, Any] | None:
    """A complete cache entry's metadata, or None if it is missing or damaged."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        itemsize = torch.empty(0, dtype=_DTYPES[meta["dtype"]]).element_size()
        if ids_path.stat().st_size != meta["count"] * itemsize:
            return None
        return meta
    except (OSError, ValueError, KeyError, TypeError):
        return None


def prepare(path: str | Path, data: DataConfig | None = None, name: str | None = None,
            progress: Progress | None = None, sha256: str | None = None) -> PreparedCorpus:
    """The corpus at `path` as memory-mapped ids, from the cache or prepared now;
    `progress` hears each phase's bytes; `sha256`, the file's when already known."""
    progress = progress or _noop
    data = (data or DataConfig()).validate()
    path = check_file(path)
    started = time.perf_counter()
    sha = sha256 or file_sha256(path, progress)
    ids_path, meta_path = entry_paths(sha, data)
    meta = read_meta(meta_path, ids_path)
    cached = meta is not None
    if meta is None:
        vocab = _count(path, data, progress, sha)
        try:
            count = _write_ids(path, data, vocab, ids_path, progress, sha)
            meta = {"count": count, "dtype": str(vocab.dtype).removeprefix("torch."),
                    "vocab": vocab.to_dict(), "sha256": sha, "source": str(path)}
            write_atomic(meta_path, json.dumps(meta).encode())
        except OSError as exc:
            raise CorpusError(f"cannot write the corpus cache in {ids_path.parent}: "
                              f"{exc.strerror or exc}") from None
    vocab = vocab_from_dict(meta["vocab"])
    ids = open_ids(ids_path, meta["count"], meta["dtype"])
    return PreparedCorpus(
        ids=ids, vocab=vocab, name=name or path.stem or "corpus", source=str(path),
        sha256=sha, data=data, cached=cached, seconds=time.perf_counter() - started,
        size_bytes=path.stat().st_size,
    )


def encode_validation(path: str | Path, vocab: Vocab, data: DataConfig,
                      limit: int) -> tuple[torch.Tensor, int, list[str]]:
    """A separate validation file as ids (at most `limit`), leaving out characters the
    training vocabulary lacks; returns (ids, how many were left out, a few of them)."""
    path = check_file(path, "validation")
    parts, kept, dropped, examples = [], 0, 0, []
    for text in iter_symbols(path, data):
        ids = vocab.lookup(text)
        unknown = ids < 0
        if bool(unknown.any()):
            dropped += int(unknown.sum())
            for ch in vocab.unknown(text):
                if len(examples) < 5 and ch not in examples:
                    examples.append(ch)
            ids = ids[~unknown]
        parts.append(ids[: limit - kept].long())
        kept += parts[-1].numel()
        if kept >= limit:
            break
    if kept < 2:
        raise CorpusError(f"validation file {path} holds fewer than 2 usable characters")
    return torch.cat(parts), dropped, examples
