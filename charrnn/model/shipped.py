"""Models that ship with charrnn, found by name: `--checkpoint english`, `load("english")`,
`--init-from english`. Each is a checkpoint in `shipped/` beside this module, with its
model card (what it read, how it was trained, how well it does) as `<name>.md`."""

from __future__ import annotations

from pathlib import Path

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
