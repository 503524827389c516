"""LABEL<TAB>text lines (`label_from` "tab", with `documents` lines): a list whose lines
carry their own labels, such as a spreadsheet of quotes and their speakers.

Each such file is split once into one text per label, written beside the corpus cache
(keyed by the file's hash), so everything after this reads a labelled line exactly as it
reads a line of a file labelled by its folder: the label is the file's, the line is a
document, and each label is a source that is validated on its own.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from charrnn.atomic import write_atomic
from charrnn.config import DataConfig
from charrnn.data.cache import cache_root
from charrnn.data.files import CorpusFile, check_label
from charrnn.data.reading import iter_text
from charrnn.errors import CorpusError

VERSION = 1


def split_by_label(file: CorpusFile, sha: str, data: DataConfig) -> list[tuple[CorpusFile, str]]:
    """The file as one text per label, each a `CorpusFile` with a key of its own (the
    file's hash and the label: what the text is made from)."""
    folder = cache_root() / "labelled" / f"{sha[:32]}-{data.encoding.lower()}-v{VERSION}"
    index = folder / "labels.json"
    try:
        labels = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        labels = _write(file, data, folder)
        write_atomic(index, json.dumps(labels).encode())
    return [(CorpusFile(path=folder / f"{n}.txt", name=f"{file.name}#{label}", source=label,
                        label=label, weight=file.weight),
             hashlib.sha256(f"{sha}:{label}".encode()).hexdigest())
            for n, label in enumerate(labels)]


def _write(file: CorpusFile, data: DataConfig, folder: Path) -> list[str]:
    """Split the file's lines by label into folder/<n>.txt; the labels, in order met."""
    texts: dict[str, list[str]] = {}
    for number, line in enumerate(_lines(file.path, data), 1):
        if not line.strip():
            continue
        label, tab, text = line.partition("\t")
        if not tab:
            raise CorpusError(f"line {number} of {file.path} has no tab: with `label_from` "
                              "tab every line reads LABEL<TAB>text", field="label_from")
        check_label(label, f"the label on line {number} of {file.path}")
        if text.strip():
            texts.setdefault(label, []).append(text)
    if not texts:
        raise CorpusError(f"{file.path} holds no LABEL<TAB>text line with any text")
    folder.mkdir(parents=True, exist_ok=True)
    for n, lines in enumerate(texts.values()):
        write_atomic(folder / f"{n}.txt", ("\n".join(lines) + "\n").encode(data.encoding))
    return list(texts)


def _lines(path: Path, data: DataConfig):
    """The file's lines, read in chunks as any corpus is (encoding, newlines)."""
    held = ""
    for chunk in iter_text(path, data):
        *whole, held = (held + chunk).split("\n")
        yield from whole
    if held:
        yield held
