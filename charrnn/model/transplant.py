"""A parent model's weights carried into a child's vocabulary, row by symbol.

Three tensors have a row per symbol: the embedding, the head's weight and its bias.
Every symbol the parent knew keeps its rows, found by what it stands for (a character,
or the end of a document), never by its id: the child's vocabulary may order, add or drop
symbols. A symbol new to the parent reads the mean of the parent's embeddings and writes
nothing (a zero head row, a bias as low as the parent's lowest), so at step 0 the child
gives every text of the parent's characters the logits the parent gave it: over the
characters it knew, the parent's distribution is unchanged. Everything else (the
recurrent layers) is the parent's as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

VOCAB_ROWS = ("embed.weight", "head.weight", "head.bias")


def transplant(weights: dict[str, torch.Tensor], parent: Sequence[str | None],
               child: Sequence[str | None], tied: bool = False,
               counts: tuple[Sequence[int], Sequence[int]] | None = None
               ) -> dict[str, torch.Tensor]:
    """`weights` (a parent's, by parameter name) for a model whose ids stand for
    `child`; `parent[i]` and `child[i]` say what id i stands for (see
    `data.vocab.symbol_keys`). With `tied`, the head's weight is the embedding.
    `counts`: each vocabulary's symbol counts (parent's, child's), for the new biases."""
    rows = {symbol: i for i, symbol in enumerate(parent)}
    source = torch.tensor([rows.get(symbol, -1) for symbol in child])
    known = source >= 0
    moved = dict(weights)
    embed = weights["embed.weight"]
    moved["embed.weight"] = _rows(embed, source, known, embed.mean(dim=0))
    head = weights["head.weight"]
    moved["head.weight"] = (moved["embed.weight"] if tied
                            else _rows(head, source, known, torch.zeros_like(head[0])))
    bias = weights["head.bias"]
    moved["head.bias"] = _rows(bias, source, known, bias.min())
    if counts is not None:
        for i in torch.nonzero(~known).flatten().tolist():
            moved["head.bias"][i] = _frequent_bias(bias, *counts, i)
    return moved


def _frequent_bias(bias: torch.Tensor, parent_counts: Sequence[int],
                   child_counts: Sequence[int], new: int) -> float:
    """The bias that makes child symbol `new` about as probable as it is frequent."""
    total = sum(parent_counts)
    offsets = sorted(float(b) - math.log(c / total)
                     for b, c in zip(bias.tolist(), parent_counts, strict=False) if c > 0)
    if not offsets or child_counts[new] <= 0:
        return float(bias.min())
    return offsets[len(offsets) // 2] + math.log(child_counts[new] / sum(child_counts))


def new_symbols(parent: Sequence[str | None], child: Sequence[str | None]) -> list[str | None]:
    """The child's symbols the parent did not know, in id order."""
    known = set(parent)
    return [symbol for symbol in child if symbol not in known]


def _rows(table: torch.Tensor, source: torch.Tensor, known: torch.Tensor,
          fill: torch.Tensor) -> torch.Tensor:
    """`table`'s rows at `source` where `known`, else `fill`."""
    picked = table[source.clamp(min=0)].clone()
    picked[~known] = fill.to(table.dtype)
    return picked
