"""Characters <-> ids: the sorted Unicode code points of a corpus, stored in the checkpoint."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

from charrnn.errors import CheckpointError, VocabError


def _code_points(text: str) -> torch.Tensor:
    """The text's code points as an int64 tensor, without a per-character Python loop."""
    if not text:
        return torch.zeros(0, dtype=torch.int64)
    raw = bytearray(text.encode("utf-32-le"))
    return torch.frombuffer(raw, dtype=torch.int32).to(torch.int64)


class Vocab:
    """A sorted character vocabulary with per-character counts from the training corpus.

    The counts give the distribution of a text's first character, which is what an empty
    prime means (see `decode.Decoder.start`).
    """

    def __init__(self, chars: Sequence[str], counts: Sequence[int] | None = None):
        if list(chars) != sorted(set(chars)) or not chars:
            raise VocabError("a vocabulary needs distinct characters in sorted order")
        if any(len(c) != 1 for c in chars):
            raise VocabError("every vocabulary entry must be a single character")
        self.chars: list[str] = list(chars)
        self.counts: list[int] = list(counts) if counts is not None else [1] * len(chars)
        if len(self.counts) != len(self.chars) or any(c < 0 for c in self.counts):
            raise VocabError("vocabulary counts must be one non-negative number per character")
        self.index = {c: i for i, c in enumerate(self.chars)}
        self._points = torch.tensor([ord(c) for c in self.chars], dtype=torch.int64)

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        if not text:
            raise VocabError("cannot build a vocabulary from empty text")
        points, counts = torch.unique(_code_points(text), sorted=True, return_counts=True)
        return cls([chr(p) for p in points.tolist()], counts.tolist())

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self.index

    def unknown(self, text: str) -> list[str]:
        """Characters of `text` the vocabulary lacks, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def encode(self, text: str, what: str = "text") -> torch.Tensor:
        """Text -> int64 ids; unknown characters raise a VocabError that names them."""
        points = _code_points(text)
        ids = torch.searchsorted(self._points, points).clamp_(max=len(self.chars) - 1)
        if points.numel() and not torch.equal(self._points[ids], points):
            missing = self.unknown(text)
            shown = ", ".join(repr(c) for c in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise VocabError(
                f"{what} contains {len(missing)} character(s) the model never saw: {shown}{more}"
            )
        return ids

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return "".join(self.chars[i] for i in ids)

    def to_dict(self) -> dict[str, Any]:
        return {"chars": "".join(self.chars), "counts": self.counts}

    @classmethod
    def from_dict(cls, data: Any) -> Vocab:
        if not isinstance(data, dict) or not isinstance(data.get("chars"), str):
            raise CheckpointError("checkpoint vocabulary is missing or malformed")
        counts = data.get("counts")
        if not isinstance(counts, list) or not all(isinstance(c, int) for c in counts):
            raise CheckpointError("checkpoint vocabulary counts are missing or malformed")
        try:
            return cls(list(data["chars"]), counts)
        except VocabError as exc:
            raise CheckpointError(f"checkpoint vocabulary is invalid: {exc}") from None
