"""Training text and validation text: the held-out part is the text's end.

A corpus whose order is not a fair sample (a sorted list, a library in path order) must
be arranged before this (see `builtin.py`), or validated on its own file (`--val-file`).
"""

from __future__ import annotations

import torch

from charrnn.errors import CorpusError


def split_ids(ids: torch.Tensor, val_frac: float,
              val_max: int = 1_000_000) -> tuple[torch.Tensor, torch.Tensor]:
    """The last `val_frac` of the text, at most `val_max` symbols (at least 2), is
    validation; everything before it is training text."""
    n_val = min(max(2, int(round(ids.numel() * val_frac))), max(2, val_max))
    if ids.numel() - n_val < 2:
        raise CorpusError(
            f"corpus of {ids.numel()} characters is too short to split into training "
            "and validation text; it needs at least 4"
        )
    return ids[:-n_val], ids[-n_val:]
