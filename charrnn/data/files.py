"""Many files in: which files a corpus of folders, files and globs holds, and for each
its name, source, label and weight.

People keep their writing in folders (an album a file, a correspondent a folder), so a
corpus may be any mix of paths:

    folder     every file under it, in path order (hidden files and folders skipped)
    file       that file
    glob       every file it matches (`*`, `?`, `[...]`, and `**` for any depth)

A glob is walked as a folder is: from its fixed part down, hidden names skipped, and a
link to a folder never followed (one `loop -> .` link would otherwise repeat every file
at every depth); a file linked under two names is read once, by its resolved path.
Nothing charrnn writes is read back as text: a folder is left out when it is the corpus
cache, the run folder being written, or any run folder (one that holds a checkpoint or
metrics.jsonl, `RUN_FILES`); a corpus folder that is one of them is refused. So `charrnn
train .` learns the same files each time, and `--resume` finds its corpus unchanged.

Each file is named by its path inside the folder it was found in (or as matched), and
belongs to a *source*: its label when files are labelled, else the folder it is in.
Sources are what validation is reported for and what `--weight` shares are shown for.

- `label_from` "dirname": a file's label is the name of the folder it is in;
  "filename": its own name without the extension (one file per author, say); "tab":
  each line's, a file of LABEL<TAB>text lines (`labelled_lines.py`).
- `weights` "PATTERN=WEIGHT": files whose name (or source) matches PATTERN are drawn
  WEIGHT times as often (as if repeated; 0.5 is every other epoch); the last pattern a
  file matches wins, and a file no pattern matches weighs 1. A weight is above 0 and at
  most `MAX_WEIGHT` (100): an epoch then holds at most 100 times the files' text.
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from charrnn.config import DataConfig
from charrnn.data.cache_folder import cache_root
from charrnn.errors import CorpusError
from charrnn.paths import exists, is_dir

_MAGIC = set("*?[")
MAX_LABEL = 64
MAX_WEIGHT = 100.0
# What a run folder holds (`model/runs.py` names them; a test keeps the two the same).
RUN_FILES = frozenset({"latest.safetensors", "best.safetensors", "metrics.jsonl"})


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
    left_out: tuple[str, ...] = ()  # charrnn's own folders met and not read: "path (why)"

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
    return (len(paths) != 1 or is_dir(paths[0]) or _is_glob(str(paths[0]))
            or data.documents == "files" or data.label_from is not None or bool(data.weights))


def corpus_name(paths: list[str | Path]) -> str:
    """What a run on these paths is named after: the first folder's name, or the first
    file's stem (a glob's fixed part: `letters/*.txt` is letters)."""
    first = str(paths[0])
    fixed = Path(first[: min((first.index(c) for c in _MAGIC if c in first), default=len(first))]
                 or ".")
    if _is_glob(first) and not first.endswith("/"):
        fixed = fixed if str(fixed).endswith("/") or is_dir(fixed) else fixed.parent
    return (fixed.resolve().name if is_dir(fixed) else fixed.stem) or "corpus"


@dataclass(frozen=True)
class Found:
    """The files a corpus's paths name, and charrnn's own folders among them that were
    not read, each as "path (why)"."""

    files: list[CorpusFile]
    left_out: tuple[str, ...] = ()


def find_files(paths: list[str | Path], data: DataConfig,
               leave_out: Mapping[Path, str] | None = None) -> list[CorpusFile]:
    """Every file the paths name, each with its name, source, label and weight (see
    `found_files`)."""
    return found_files(paths, data, leave_out).files


def found_files(paths: list[str | Path], data: DataConfig,
                leave_out: Mapping[Path, str] | None = None) -> Found:
    """Every file the paths name, each real file once; `leave_out` names more folders
    charrnn writes (folder -> what it is, e.g. the run folder) to leave out beside the
    cache and run folders. A path that names nothing, a folder with no files, a weight
    pattern that matches no file and a label name that cannot be typed are each one
    clear error."""
    if not paths:
        raise CorpusError("no corpus paths were given")
    outputs = _Outputs(leave_out)
    found: dict[Path, tuple[Path, str, str]] = {}  # resolved path -> (path, name, folder)
    for given in paths:
        for path, name, folder in _expand(str(given), outputs):
            found.setdefault(path.resolve(), (path, name, folder))
    files = [_described(path, name, folder, data.label_from)
             for path, name, folder in found.values()]
    return Found(_weighed(files, data.weights),
                 tuple(f"{where} ({why})" for where, why in outputs.met.items()))


def _is_glob(text: str) -> bool:
    return bool(_MAGIC & set(text))


class _Outputs:
    """The folders charrnn writes, which a walk leaves out (the cache, folders the caller
    names, any run folder), and those it met."""

    def __init__(self, named: Mapping[Path, str] | None):
        named = {cache_root(): "the corpus cache", **(named or {})}
        self.named = {Path(p).resolve(): why for p, why in named.items()}
        self.met: dict[str, str] = {}  # folder as walked -> what it is

    def why(self, folder: Path, names: list[str]) -> str | None:
        """What `folder` (holding files `names`) is, if charrnn writes it; else None."""
        why = self.named.get(folder.resolve())
        return why or ("a run folder" if RUN_FILES.intersection(names) else None)


def _walk(root: Path, outputs: _Outputs, depth: int | None = None) -> Iterator[Path]:
    """Every file under `root`, in path order, at most `depth` names deep (None: any):
    hidden names, links to folders and charrnn's own folders left out, so each real
    folder is read once (`os.walk` never follows a link to a folder)."""
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        why = outputs.why(here, names)
        if why is not None:
            if here == root:
                raise CorpusError(f"corpus folder {root} is {why}, which charrnn writes: it "
                                  "is not read as text; give the folder of your texts, and "
                                  "an `out` outside it")
            outputs.met[str(here)] = why
            dirs[:] = []
            continue
        deeper = depth is None or len(here.relative_to(root).parts) + 2 <= depth
        dirs[:] = sorted(d for d in dirs if deeper and not d.startswith(".")
                         and not (here / d).is_symlink())
        yield from (here / n for n in sorted(names)
                    if not n.startswith(".") and (here / n).is_file())


def _globbed(given: str, outputs: _Outputs) -> list[tuple[Path, str]]:
    """(path, name as matched) of each file a glob matches, walked from its fixed part
    as a folder is (see `_walk`)."""
    parts = given.replace(os.sep, "/").split("/")
    fixed = next(i for i, part in enumerate(parts) if _is_glob(part))
    base = "/".join(parts[:fixed]) or ("/" if fixed else "")
    pattern = [part for part in parts[fixed:] if part not in ("", ".")]
    root = Path(base or ".")
    if not root.is_dir():
        return []
    depth = None if "**" in pattern else len(pattern)
    matches = []
    for path in _walk(root, outputs, depth):
        inside = path.relative_to(root).parts
        if _matches(inside, pattern):
            matches.append((path, Path(base, *inside).as_posix()))
    return matches


def _matches(names: tuple[str, ...], pattern: list[str]) -> bool:
    """Whether a path's names match a glob's: `**` any number of folders, the rest one
    name each (`*`, `?`, `[...]`)."""
    if not pattern:
        return not names
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_matches(names[i:], rest) for i in range(len(names) + 1))
    return bool(names) and fnmatch.fnmatchcase(names[0], head) and _matches(names[1:], rest)


def _expand(given: str, outputs: _Outputs) -> list[tuple[Path, str, str]]:
    """(path, name, folder) for each file one command-line path names."""
    if _is_glob(given):
        matches = _globbed(given, outputs)
        if not matches:
            raise CorpusError(f"no file matches {given}")
        return [(path, name, _folder_name(path.parent)) for path, name in matches]
    path = Path(given)
    if not exists(path):
        raise CorpusError(f"corpus file not found: {given}")
    if not path.is_dir():
        return [(path, path.name, _folder_name(path.parent))]
    inside = list(_walk(path, outputs))
    if not inside:
        raise CorpusError(f"folder {given} holds no files" + (
            f" (left out: {', '.join(outputs.met)})" if outputs.met else ""))
    return [(p, p.relative_to(path).as_posix(), _folder_name(p.parent, path)) for p in inside]


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
    """'letters/*=3' -> ('letters/*', 3.0); anything else is one clear error. A weight
    is above 0 and at most MAX_WEIGHT, so that the copies an epoch draws (and the text
    they make) are bounded before any is made."""
    pattern, _, value = text.rpartition("=")
    try:
        weight = float(value)
    except ValueError:
        weight = math.nan
    if not pattern or not math.isfinite(weight) or not 0 < weight <= MAX_WEIGHT:
        raise CorpusError(f"weights {text!r} must look like PATTERN=WEIGHT with a number "
                          f"above 0 and at most {MAX_WEIGHT:g}, e.g. 'letters/*=3'",
                          field="weights")
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
