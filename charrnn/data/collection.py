"""Many files -> one memory-mapped id file, each file prepared and cached on its own.

Every file is prepared as any corpus is (`cache.prepare`: its encoding, byte-order mark,
newlines and level), in its own cache entry keyed by its content, so editing one file
re-reads only that one. The files are then joined into one id file in the vocabulary of
them all, each between the symbols that say where a text begins and ends::

    <label A> text of file 1 <end> <label B> text of file 2 <end> ...

(`<label X>` only when files are labelled). The joined file is cached too, keyed by the
files' hashes, names and labels, so a second run only hashes the files. A file that is
empty, or not text in the corpus's encoding (binary data, say), is skipped and counted,
or refused with `strict`; one that changes while it is read is refused (`FileChanged`).

A file's ids are mapped only while it is prepared, one file at a time, and read back
in pieces to be joined: a folder may hold more files than a process may map at once
(`vm.max_map_count`, 65,530 maps by default on Linux), and a file of a gigabyte is
joined in a piece's memory.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from charrnn.atomic import atomic_writer, write_atomic
from charrnn.config import DataConfig
from charrnn.data.cache import (
    FileChanged,
    PreparedCorpus,
    Progress,
    cache_key,
    cache_root,
    entry_paths,
    file_sha256,
    open_ids,
    prepare,
    read_ids,
    read_meta,
)
from charrnn.data.files import CorpusFile, FileTable, corpus_name, found_files
from charrnn.data.labelled_lines import split_by_label
from charrnn.data.vocab import ByteVocab, Vocab, recoding, vocab_from_dict
from charrnn.errors import CorpusError

JOINED_VERSION = 1


def prepare_files(paths: list[str | Path], data: DataConfig | None = None,
                  name: str | None = None, progress: Progress | None = None,
                  leave_out: Mapping[Path, str] | None = None) -> PreparedCorpus:
    """The files `paths` name (folders, files, globs: `files.found_files`, which leaves
    out charrnn's own folders and `leave_out`) as one corpus of memory-mapped ids with
    its `FileTable`, from the cache or prepared now."""
    data = (data or DataConfig()).validate()
    progress = progress or (lambda *_: None)
    started = time.perf_counter()
    found = found_files(list(paths), data, leave_out)
    files = found.files
    shas, empty = _hashes(files, progress)
    if data.label_from == "tab":  # a file of LABEL<TAB>text lines: a text per label
        files, shas, empty = _split_by_labels(files, shas, empty, data)
    key = _joined_key(files, shas, data)
    root = cache_root()
    ids_path, meta_path = root / f"{key}.ids", root / f"{key}.json"
    meta = read_meta(meta_path, ids_path)
    cached = meta is not None
    if meta is None:
        meta = _join(files, shas, empty, data, ids_path, progress)
        try:
            write_atomic(meta_path, json.dumps(meta).encode())
        except OSError as exc:
            raise CorpusError(f"cannot write the corpus cache in {root}: "
                              f"{exc.strerror or exc}") from None
    if data.strict and meta["skipped"]:
        raise CorpusError(f"{meta['first_skipped']} (`strict`: every file must be readable, "
                          "non-empty text)", field="strict")
    weight_of = {f.name: f.weight for f in files}
    listed = meta["files"]
    table = FileTable(
        names=tuple(f["name"] for f in listed), sources=tuple(f["source"] for f in listed),
        labels=tuple(f["label"] for f in listed),
        weights=tuple(weight_of.get(f["name"], 1.0) for f in listed),
        starts=torch.tensor([f["start"] for f in listed], dtype=torch.long),
        lengths=torch.tensor([f["length"] for f in listed], dtype=torch.long),
        skipped=meta["skipped"], paths=tuple(str(p) for p in paths), left_out=found.left_out)
    return PreparedCorpus(
        ids=open_ids(ids_path, meta["count"], meta["dtype"]),
        vocab=vocab_from_dict(meta["vocab"]), name=name or corpus_name(list(paths)),
        source=" ".join(str(p) for p in paths), sha256=key, data=data, cached=cached,
        seconds=time.perf_counter() - started,
        size_bytes=sum(f.path.stat().st_size for f in files), files=table)


def _hashes(files: list[CorpusFile], progress: Progress) -> tuple[list[str], set[int]]:
    """Each file's sha256 (the empty ones' are marked)."""
    shas, empty = [], set()
    for i, f in enumerate(files):
        try:
            if f.path.stat().st_size == 0:
                empty.add(i)
            shas.append(file_sha256(f.path))
        except OSError as exc:
            raise CorpusError(f"cannot read {f.path}: {exc.strerror or exc}") from None
        progress("hashing files", i + 1, len(files))
    return shas, empty


def _split_by_labels(files: list[CorpusFile], shas: list[str], empty: set[int],
                     data: DataConfig) -> tuple[list[CorpusFile], list[str], set[int]]:
    """Each non-empty file as its texts per label (`labelled_lines.py`); empty ones kept
    as they are, to be skipped and counted."""
    split_files, split_shas, still_empty = [], [], set()
    for i, (f, sha) in enumerate(zip(files, shas, strict=True)):
        if i in empty:
            still_empty.add(len(split_files))
            split_files.append(f)
            split_shas.append(sha)
            continue
        for part, part_sha in split_by_label(f, sha, data):
            split_files.append(part)
            split_shas.append(part_sha)
    return split_files, split_shas, still_empty


def _joined_key(files: list[CorpusFile], shas: list[str], data: DataConfig) -> str:
    digest = hashlib.sha256(f"joined-v{JOINED_VERSION}".encode())
    for f, sha in zip(files, shas, strict=True):
        digest.update(f"{sha}\t{f.name}\t{f.source}\t{f.label or ''}\n".encode())
    return cache_key(digest.hexdigest(), data) + "-files"


@dataclass(frozen=True)
class _Part:
    """A prepared file, its ids left in the cache until they are joined."""

    file: CorpusFile
    vocab: Vocab
    ids_path: Path
    count: int
    dtype: str

    def write_recoded(self, handle, vocab: Vocab) -> None:
        """Its ids, as `vocab`'s, onto `handle`: read from the cache a piece at a time
        (no map, and never the whole file in memory)."""
        table = recoding(self.vocab, vocab)
        for ids in read_ids(self.ids_path, self.dtype):
            handle.write(table[ids.long()].numpy().tobytes())


def _join(files: list[CorpusFile], shas: list[str], empty: set[int], data: DataConfig,
          ids_path: Path, progress: Progress) -> dict[str, Any]:
    """Prepare each file, join them in the vocabulary of them all, and return the joined
    entry's metadata; no file's ids are mapped while they are joined (see the module doc)."""
    parts, skipped, reasons = _prepared(files, shas, empty, data, progress)
    if not parts:
        what = ", ".join(f"{n} {why}" for why, n in skipped.items())
        raise CorpusError(f"no readable text among the corpus's {len(files)} file(s) "
                          f"({what}); {reasons[0]}")
    kept = Counter(p.file.label for p in parts if p.file.label is not None)
    for label in sorted({f.label for f in files if f.label is not None} - set(kept)):
        raise CorpusError(f"label {label!r} has no readable file left (its files are empty "
                          "or not text); fix or remove them", field="label_from")
    vocab = _joined_vocab([p.vocab for p in parts], data, kept)
    listed, at = [], 0
    with atomic_writer(ids_path) as handle:
        for part in parts:
            f = part.file
            before = [vocab.label_id(f.label)] if f.label is not None else []
            handle.write(torch.tensor(before, dtype=vocab.dtype).numpy().tobytes())
            part.write_recoded(handle, vocab)
            handle.write(torch.tensor([vocab.end_id], dtype=vocab.dtype).numpy().tobytes())
            listed.append({"name": f.name, "source": f.source, "label": f.label,
                           "start": at + len(before), "length": part.count})
            at += len(before) + part.count + 1
    return {"count": at, "dtype": str(vocab.dtype).removeprefix("torch."),
            "vocab": vocab.to_dict(), "files": listed, "skipped": dict(skipped),
            "first_skipped": reasons[0] if reasons else None,
            "sha256": shas and hashlib.sha256("".join(shas).encode()).hexdigest()}


def _prepared(files: list[CorpusFile], shas: list[str], empty: set[int], data: DataConfig,
              progress: Progress) -> tuple[list[_Part], Counter, list[str]]:
    """Each file prepared into the cache (its map closed again), and those skipped: how
    many for each reason, and the reasons. A file that changed while it was read is
    refused, never skipped: the joined entry is keyed by the hash it began with."""
    parts, skipped, reasons = [], Counter(), []
    for i, f in enumerate(files):
        progress("reading files", i + 1, len(files))
        if i in empty:
            skipped["empty"] += 1
            reasons.append(f"{f.path} is empty")
            continue
        try:
            corpus = prepare(f.path, data, f.name, sha256=shas[i])
        except FileChanged:
            raise
        except CorpusError as exc:
            skipped["not text"] += 1
            reasons.append(str(exc))
            continue
        parts.append(_Part(f, corpus.vocab, entry_paths(shas[i], data)[0],
                           corpus.ids.numel(), str(corpus.ids.dtype).removeprefix("torch.")))
        del corpus  # its memory map closes here, not at the join
    return parts, skipped, reasons


def _joined_vocab(vocabs: list[Vocab], data: DataConfig, labels: Counter) -> Vocab:
    """Every file's symbols with their summed counts, the end symbol (once per file) and
    the labels (sorted by name)."""
    counts: Counter = Counter()
    for vocab in vocabs:
        counts.update(dict(zip(vocab.chars, vocab.counts, strict=False)))
    if data.level == "byte":
        base = ByteVocab([counts.get(c, 0) for c in ByteVocab().chars])
    else:
        chars = sorted(counts)
        base = Vocab(chars, [counts[c] for c in chars])
    return base.with_end(len(vocabs), {name: labels[name] for name in sorted(labels)})
