"""Questions about a path that a user typed, answered without an OSError.

A string can be something no file can be named: a paragraph longer than a name may be
(ENAMETOOLONG), a NUL (ValueError), a folder that cannot be searched. `pathlib` raises
for those; a command that takes "a file or a text", or a file name read from a
checkpoint, wants the plain answer "there is no such file" instead.
"""

from __future__ import annotations

from pathlib import Path


def is_file(path: str | Path | None) -> bool:
    """Whether `path` names a file here; False for anything no file can be named."""
    try:
        return bool(path) and Path(path).is_file()
    except (OSError, ValueError):
        return False


def exists(path: str | Path | None) -> bool:
    """Whether `path` names anything here; False for anything nothing can be named."""
    try:
        return bool(path) and Path(path).exists()
    except (OSError, ValueError):
        return False


def is_dir(path: str | Path | None) -> bool:
    """Whether `path` names a folder here; False for anything no folder can be named."""
    try:
        return bool(path) and Path(path).is_dir()
    except (OSError, ValueError):
        return False
