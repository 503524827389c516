"""Many files in: which files a corpus of folders, files and globs holds, and for each
its name, source, label and weight.

People keep their writing in folders (an album a file, a correspondent a folder), so a
corpus may be any mix of paths:

    folder     every file under it, in path order (hidden files and folders skipped)
    file       that file
    glob       every file it matches (`*`, `?`, `[...]`, and `**` for any depth)

Each file is named by its path inside the folder it was found in (or as matched), and
belongs to a *source*: its label when files are labelled, else the folder it is in.
Sources are what validation is reported for and what `--weight` shares are shown for.

- `label_from` "dirname": a file's label is the name of the folder it is in;
  "filename": its own name without the extension (one file per author, say); "tab":
  each line's, a file of LABEL<TAB>text lines (`labelled_lines.py`).
- `weights` "PATTERN=WEIGHT": files whose name (or source) matches PATTERN are drawn
  WEIGHT times as often (as if repeated; 0.5 is every other epoch); the last pattern a
  file matches wins, and a file no pattern matches weighs 1.
"""

from __future__ import annotations

import fnmatch
import glob
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from charrnn.config import DataConfig
from charrnn.errors import CorpusError

_MAGIC = set("*?[")
MAX_LABEL = 64


@dataclass(frozen=True)
class CorpusFile:
    """One file of a many-file corpus, as training sees it."""

    path: Path
    name: str  # its path inside the folder it was found in (or as matched), with "/"
    source: str  # what it is validated and weighted as part of: its label, or folder
    label: str | None
    weight: float = 1.0


@dataclass(frozen=True)
class FileTable:
    """Where each file's text lies in the joined ids, and what it is: its name, source,
    label and weight. `starts` and `lengths` (int64) leave out the symbols around it."""

    names: tuple[str, ...]
    sources: tuple[str, ...]
    labels: tuple[str | None, ...]
    weights: tuple[float, ...]
    starts: torch.Tensor
    lengths: torch.Tensor
    skipped: dict[str, int] = field(default_factory=dict)  # why -> how many files
    paths: tuple[str, ...] = ()  # the folders, files and globs the corpus was given as

    def __len__(self) -> int:
        return len(self.names)

    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.sources)))

    @property
    def source_index(self) -> torch.Tensor:
        """Each file's source as its place in `source_names`."""
        place = {name: i for i, name in enumerate(self.source_names)}
        return torch.tensor([place[s] for s in self.sources], dtype=torch.long)

    def describe(self) -> dict[str, Any]:
        return {"files": len(self), "sources": list(self.source_names),
                "skipped": dict(self.skipped), "paths": list(self.paths)}


def is_many(paths: list[str | Path], data: DataConfig) -> bool:
    """Whether `paths` is read as many files (a folder, a glob, several paths, or any
    option that only files have), not as one text file read as before."""
    return (len(paths) != 1 or Path(paths[0]).is_dir() or _is_glob(str(paths[0]))
            or data.documents == "files" or data.label_from is not None or bool(data.weights))


def corpus_name(paths: list[str | Path]) -> str:
    """What a run on these paths is named after: the first folder's name, or the first
    file's stem (a glob's fixed part: `letters/*.txt` is letters)."""
    first = str(paths[0])
    fixed = Path(first[: min((first.index(c) for c in _MAGIC if c in first), default=len(first))]
                 or ".")
    if _is_glob(first) and not first.endswith("/"):
        fixed = fixed if str(fixed).endswith("/") or fixed.is_dir() else fixed.parent
    return (fixed.resolve().name if fixed.is_dir() else fixed.stem) or "corpus"


def find_files(paths: list[str | Path], data: DataConfig) -> list[CorpusFile]:
    """Every file the paths name, each with its name, source, label and weight; a path
    that names nothing, a folder with no files, a weight pattern that matches no file
    and a label name that cannot be typed are each one clear error."""
    if not paths:
        raise CorpusError("no corpus paths were given")
    found: dict[Path, tuple[str, str]] = {}  # path -> (name, folder)
    for given in paths:
        for path, name, folder in _expand(str(given)):
            found.setdefault(path, (name, folder))
    files = [_described(path, name, folder, data.label_from)
             for path, (name, folder) in found.items()]
    return _weighed(files, data.weights)


def _is_glob(text: str) -> bool:
    return bool(_MAGIC & set(text))


def _expand(given: str) -> list[tuple[Path, str, str]]:
    """(path, name, folder) for each file one command-line path names."""
    if _is_glob(given):
        matches = sorted(m for m in glob.glob(given, recursive=True)
                         if Path(m).is_file() and not _hidden(Path(m).parts))
        if not matches:
            raise CorpusError(f"no file matches {given}")
        return [(Path(m), Path(m).as_posix(), _folder_name(Path(m).parent)) for m in matches]
    path = Path(given)
    if not path.exists():
        raise CorpusError(f"corpus file not found: {given}")
    if not path.is_dir():
        return [(path, path.name, _folder_name(path.parent))]
    inside = []
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        inside += [Path(root) / n for n in sorted(names) if not n.startswith(".")]
    if not inside:
        raise CorpusError(f"folder {given} holds no files")
    return [(p, p.relative_to(path).as_posix(), _folder_name(p.parent, path)) for p in inside]


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") and part not in (".", "..") for part in parts)


def _folder_name(folder: Path, root: Path | None = None) -> str:
    """A folder as a source's name: inside a corpus folder, its path there (the corpus
    folder itself by its own name); elsewhere, its own name."""
    if root is not None and folder != root:
        return folder.relative_to(root).as_posix()
    return folder.resolve().name or "."


def _described(path: Path, name: str, folder: str, label_from: str | None) -> CorpusFile:
    label = None
    if label_from == "dirname":
        label = path.resolve().parent.name
    elif label_from == "filename":
        label = path.name.split(".")[0] if not path.name.startswith(".") else path.stem
    if label is not None:
        check_label(label, f"the label of {name}")
    return CorpusFile(path=path, name=name, source=label if label is not None else folder,
                      label=label)


def check_label(label: str, what: str = "label") -> str:
    """A label name someone can type: letters, digits, spaces inside, and - _ . only."""
    if not label or len(label) > MAX_LABEL or label != label.strip() or not all(
            c.isalnum() or c in " -_." for c in label):
        raise CorpusError(f"{what} {label!r} is not a usable label name: use letters, "
                          f"digits, spaces, '-', '_' and '.' (at most {MAX_LABEL})",
                          field="label")
    return label


def parse_weight(text: str) -> tuple[str, float]:
    """'letters/*=3' -> ('letters/*', 3.0); anything else is one clear error."""
    pattern, _, value = text.rpartition("=")
    try:
        weight = float(value)
    except ValueError:
        weight = math.nan
    if not pattern or not math.isfinite(weight) or weight <= 0:
        raise CorpusError(f"weight {text!r} must look like PATTERN=WEIGHT with a positive "
                          "number, e.g. 'letters/*=3'", field="weights")
    return pattern, weight


def _weighed(files: list[CorpusFile], weights: tuple[str, ...]) -> list[CorpusFile]:
    """Each file with the weight of the last pattern it matches (1 if none)."""
    result = list(files)
    for text in weights:
        pattern, weight = parse_weight(text)
        matched = [i for i, f in enumerate(result) if fnmatch.fnmatchcase(f.name, pattern)
                   or fnmatch.fnmatchcase(f.source, pattern)]
        if not matched:
            raise CorpusError(f"weight pattern {pattern!r} matches no file of the corpus "
                              f"(names look like {result[0].name!r})", field="weights")
        for i in matched:
            f = result[i]
            result[i] = CorpusFile(f.path, f.name, f.source, f.label, weight)
    return result
