"""Models that ship with charrnn, found by name: `--checkpoint english`, `load("english")`,
`--init-from english`. Each is a checkpoint in `shipped/` beside this module, with its
model card (what it read, how it was trained, how well it does) as `<name>.md`."""

from __future__ import annotations

import functools
from pathlib import Path

from charrnn.errors import CharRNNError
from charrnn.model import checkpoint

FOLDER = Path(__file__).resolve().parent / "shipped"


def names() -> list[str]:
    """The names of the models that ship, sorted."""
    return sorted(p.name.removesuffix(checkpoint.SUFFIX)
                  for p in FOLDER.glob(f"*{checkpoint.SUFFIX}"))


def path_of(name: str) -> Path | None:
    """The checkpoint of the shipped model `name`, or None when none ships by that name."""
    return FOLDER / f"{name}{checkpoint.SUFFIX}" if name in names() else None


def card(name: str) -> Path:
    """The model card beside a shipped model."""
    return FOLDER / f"{name}.md"


def name_of(sha256: str | None) -> str | None:
    """The shipped model whose weights have this checksum (a fine-tune's lineage records
    its parent's), or None: a child of `english` finds its parent again after `english`
    moved on and the model it started from ships as `english-small`."""
    if not sha256:
        return None
    return _checksums(FOLDER, tuple(names())).get(sha256)


@functools.cache
def _checksums(folder: Path, listed: tuple[str, ...]) -> dict[str, str]:
    """Each shipped model's weights checksum -> its name (read once per process)."""
    found = {}
    for name in listed:
        try:
            found[checkpoint.load(folder / f"{name}{checkpoint.SUFFIX}")
                  .record.tensors_sha256] = name
        except CharRNNError:
            continue
    return found
