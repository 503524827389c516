"""Reading training text: files with clear errors, and the built-in offline corpus."""

from __future__ import annotations

import hashlib
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from charrnn.errors import CorpusError

BUILTIN_NAME = "python-stdlib"
BUILTIN_CAP_BYTES = 4_000_000
_SKIP_DIRS = {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test"}


@dataclass(frozen=True)
class Corpus:
    """A training text and where it came from (stored in the checkpoint)."""

    text: str
    name: str  # the default run name
    source: str  # a path, or a description of the built-in corpus
    sha256: str

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "source": self.source, "sha256": self.sha256,
                "chars": len(self.text)}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_corpus(path: str | Path) -> Corpus:
    """A UTF-8 text file (a byte-order mark is dropped) as a Corpus, or one clear error."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"corpus file not found: {path}")
    if path.is_dir():
        raise CorpusError(f"corpus path is a directory, not a text file: {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read corpus {path}: {exc.strerror or exc}") from None
    if not data:
        raise CorpusError(f"corpus file is empty: {path}")
    if data.count(0) > max(1, len(data) // 100):
        raise CorpusError(f"corpus looks like binary data (it is full of NUL bytes): {path}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"corpus is not valid UTF-8 (bad byte at offset {exc.start}): {path}"
        ) from None
    if not text:
        raise CorpusError(f"corpus file holds no text: {path}")
    return Corpus(text=text, name=path.stem or "corpus", source=str(path), sha256=_sha256(data))


def _stdlib_files(root: Path) -> list[Path]:
    files = []
    for file in root.rglob("*.py"):
        rel = file.relative_to(root)
        if not any(part in _SKIP_DIRS for part in rel.parts[:-1]):
            files.append(file)
    return sorted(files, key=lambda f: f.relative_to(root).as_posix())


def builtin_corpus(cap_bytes: int = BUILTIN_CAP_BYTES) -> Corpus:
    """The running interpreter's standard-library source, in sorted path order, capped.

    Needs no network, so a first `charrnn train` works offline; the same Python version
    always yields the same text.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    parts: list[bytes] = []
    size = 0
    for file in _stdlib_files(root):
        try:
            data = file.read_bytes()
            data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if size + len(data) > cap_bytes:
            break
        parts.append(data)
        size += len(data)
    blob = b"".join(parts)
    if not blob:
        raise CorpusError(f"no Python standard-library source found under {root}")
    text = blob.decode("utf-8").replace("\r\n", "\n")
    return Corpus(text=text, name=BUILTIN_NAME, source=f"Python standard library ({root})",
                  sha256=_sha256(blob))
