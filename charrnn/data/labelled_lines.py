"""LABEL<TAB>text lines (`label_from` "tab", with `documents` lines): a list whose lines
carry their own labels, such as a spreadsheet of quotes and their speakers.

Each such file is split once into one text per label, written beside the corpus cache
(keyed by the file's hash and every option that changes what the texts hold: the
encoding and the newline mode), so everything after this reads a labelled line exactly
as it reads a line of a file labelled by its folder: the label is the file's, the line
is a document, and each label is a source that is validated on its own. Each text is
then keyed by its own hash, like any file.

The split reads the file once, in chunks, and writes each line's text as it comes: time
is linear in the file and memory is a chunk's, however long a line is (a line is never
held whole). At most `OPEN_FILES` label files are open at once; the others are reopened
when their label comes again. The split is stored only if the file's hash is still the
one it is keyed by (`cache.FileChanged` otherwise).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO

from charrnn.atomic import write_atomic
from charrnn.config import DataConfig
from charrnn.data.cache import FileChanged, cache_root, file_sha256
from charrnn.data.files import MAX_LABEL, CorpusFile, check_label
from charrnn.data.reading import iter_text
from charrnn.errors import CorpusError

VERSION = 2
OPEN_FILES = 64  # label files held open at once while splitting


def split_by_label(file: CorpusFile, sha: str, data: DataConfig) -> list[tuple[CorpusFile, str]]:
    """The file as one text per label, each a `CorpusFile` with its text's hash."""
    folder = split_folder(sha, data)
    index = folder / "labels.json"
    try:
        split = json.loads(index.read_text(encoding="utf-8"))
        labels, shas = split["labels"], split["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        labels, shas = _split(file, sha, data, folder)
        write_atomic(index, json.dumps({"labels": labels, "sha256": shas}).encode())
    return [(CorpusFile(path=folder / f"{n}.txt", name=f"{file.name}#{label}", source=label,
                        label=label, weight=file.weight), part_sha)
            for n, (label, part_sha) in enumerate(zip(labels, shas, strict=True))]


def split_folder(sha: str, data: DataConfig) -> Path:
    """Where the split of a file with this hash lies, for these options: every option
    that changes the texts (their encoding, the newline mode) is in its name."""
    encoding = codecs.lookup(data.encoding).name
    newlines = "keepnl" if data.keep_newlines else "nl"
    return cache_root() / "labelled" / f"{sha[:32]}-{encoding}-{newlines}-v{VERSION}"


def _split(file: CorpusFile, sha: str, data: DataConfig,
           folder: Path) -> tuple[list[str], list[str]]:
    """Split the file's lines by label into folder/<n>.txt; the labels in the order
    their first text came, and each text's hash."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with _Splitter(file.path, data.encoding, folder) as splitter:
        for chunk in iter_text(file.path, data, digest=digest):
            splitter.feed(chunk)
        labels = splitter.finish()
    if digest.hexdigest() != sha:
        raise FileChanged(file.path)
    if not labels:
        raise CorpusError(f"{file.path} holds no LABEL<TAB>text line with any text")
    return labels, [file_sha256(folder / f"{n}.txt") for n in range(len(labels))]


class _Splitter:
    """LABEL<TAB>text lines fed in chunks of any size, each line's text written to its
    label's file as it comes. A line starts in its head (until the tab: at most
    MAX_LABEL characters are kept); its text is written, and taken back (the file cut
    to where it began) if it turns out blank, as a blank line is skipped."""

    def __init__(self, path: Path, encoding: str, folder: Path):
        self.path, self.encoding, self.folder = path, encoding, folder
        self.line = 1
        self.head, self.blank_head = "", True
        self.label: str | None = None  # the label whose text is being written
        self.start, self.blank = 0, True  # where that text began; all whitespace so far
        self.number: dict[str, int] = {}  # label -> its file's number, in the order met
        self.kept: dict[str, int] = {}  # label -> the line of its first text
        self.encoders: dict[str, codecs.IncrementalEncoder] = {}
        self.open: OrderedDict[str, BinaryIO] = OrderedDict()  # least recently used first

    def __enter__(self) -> _Splitter:
        return self

    def __exit__(self, *_) -> None:
        while self.open:
            self.open.popitem()[1].close()

    def feed(self, chunk: str) -> None:
        at = 0
        while at < len(chunk):
            at = self._head(chunk, at) if self.label is None else self._text(chunk, at)

    def finish(self) -> list[str]:
        """End the last line; name the files by the order of each label's first text
        (a label whose texts were all blank has none); return the labels in that order."""
        if self.label is not None:
            self._end_text()
        elif not self.blank_head:
            raise self._no_tab()
        self.__exit__()
        labels = sorted(self.kept, key=self.kept.__getitem__)
        for n, label in enumerate(labels):
            os.replace(self._part(label), self.folder / f"{n}.txt")
        for label in set(self.number) - set(self.kept):
            self._part(label).unlink()
        return labels

    def _head(self, chunk: str, at: int) -> int:
        tab, newline = chunk.find("\t", at), chunk.find("\n", at)
        stop = min((p for p in (tab, newline) if p >= 0), default=len(chunk))
        piece = chunk[at:stop]
        self.blank_head = self.blank_head and not piece.strip()
        self.head += piece[: MAX_LABEL + 1 - len(self.head)]
        if not self.blank_head and len(self.head) > MAX_LABEL:
            raise self._no_tab(f" in its first {MAX_LABEL + 1} characters")
        if stop == len(chunk):
            return stop
        if chunk[stop] == "\n":
            if not self.blank_head:
                raise self._no_tab()
            self._next_line()
        elif self.blank_head:  # "  <TAB>": a blank line, or a label that is not one
            self.head = (self.head + "\t")[: MAX_LABEL + 1]
        else:
            if self.head not in self.number:
                check_label(self.head, f"the label on line {self.line} of {self.path}")
            self._begin(self.head)
        return stop + 1

    def _begin(self, label: str) -> None:
        self.label = label
        self.start, self.blank = self._handle(label).tell(), True

    def _text(self, chunk: str, at: int) -> int:
        newline = chunk.find("\n", at)
        piece = chunk[at : newline if newline >= 0 else len(chunk)]
        self.blank = self.blank and not piece.strip()
        if newline < 0:
            if piece:
                self._write(piece)
            return len(chunk)
        self._end_text(piece)
        return newline + 1

    def _end_text(self, tail: str = "") -> None:
        """End the text with `tail` and a newline, or take a blank one back."""
        if not self.blank:
            self._write(tail + "\n")
            self.kept.setdefault(self.label, self.line)
        elif (handle := self._handle(self.label)).tell() != self.start:
            handle.seek(self.start)
            handle.truncate()
        self.label = None
        self._next_line()

    def _next_line(self) -> None:
        self.line += 1
        self.head, self.blank_head = "", True

    def _write(self, text: str) -> None:
        self._handle(self.label).write(self.encoders[self.label].encode(text))

    def _handle(self, label: str) -> BinaryIO:
        """The label's file, open at its end (at most OPEN_FILES are kept open)."""
        handle = self.open.pop(label, None)
        if handle is None:
            if len(self.open) >= OPEN_FILES:
                self.open.popitem(last=False)[1].close()
            handle = self._reopen(label)
        self.open[label] = handle
        return handle

    def _reopen(self, label: str) -> BinaryIO:
        if label not in self.number:  # a new file, with its byte-order mark if any
            self.number[label] = len(self.number)
            encoder = self.encoders[label] = codecs.getincrementalencoder(self.encoding)()
            self._part(label).write_bytes(encoder.encode(""))
        return open(self._part(label), "ab")

    def _part(self, label: str) -> Path:
        return self.folder / f"{self.number[label]}.{os.getpid()}.part"

    def _no_tab(self, where: str = "") -> CorpusError:
        return CorpusError(f"line {self.line} of {self.path} has no tab{where}: with "
                           f"`label_from` tab every line reads LABEL<TAB>text (a label of at "
                           f"most {MAX_LABEL} characters)", field="label_from")
