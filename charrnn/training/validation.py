"""Validation loss during training: every held-out character scored once.

The held-out text is cut into up to 16 contiguous streams that run side by side (for
speed); each starts from the zero state and carries its state from chunk to chunk, and
the characters that do not fill the last row are scored afterwards by continuing the last
stream's state. The result is the true per-character mean over the whole text, not an
estimate from sampled windows, but not `charrnn eval`'s figure either: that reads the
text as one stream, so only its first characters lack context, where here each stream's
do (a little higher). In a distributed job each process scores its own contiguous share.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from charrnn.data.documents import IGNORE, Documents, document_batch
from charrnn.errors import CorpusError
from charrnn.model.network import CharRNN, State, select_state
from charrnn.training.distributed import Ranks


def _score(model: CharRNN, x: torch.Tensor, y: torch.Tensor, state: State, chunk: int,
           ignore_from: int | None = None):
    """Summed negative log-likelihood of y given x, chunk by chunk, and the final state;
    targets of id `ignore_from` or above (labels) are not scored."""
    total = 0.0
    for start in range(0, x.shape[1], chunk):
        xs, ys = x[:, start : start + chunk].long(), y[:, start : start + chunk].long()
        if ignore_from is not None:
            ys = ys.masked_fill(ys >= ignore_from, IGNORE)
        logits, state = model(xs, state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ys.reshape(-1),
                                 ignore_index=IGNORE, reduction="sum").item()
    return total, state


def scored_count(ids: torch.Tensor, ignore_from: int | None) -> int:
    """How many of `ids` after the first are predicted and scored."""
    targets = ids[1:]
    return int((targets < ignore_from).sum()) if ignore_from is not None else targets.numel()


@torch.inference_mode()
def mean_nll(model: CharRNN, ids: torch.Tensor, streams: int = 16, chunk: int = 256,
             ignore_from: int | None = None) -> float:
    """Mean negative log-likelihood in nats per predicted character of `ids` (targets of
    id `ignore_from` or above are neither scored nor counted)."""
    count = ids.numel() - 1
    if count < 1:
        raise ValueError("need at least two characters to measure a loss")
    scored = scored_count(ids, ignore_from)
    streams = max(1, min(streams, count // chunk or 1))
    row = count // streams
    was_training = model.training
    model.eval()
    try:
        x = ids[: streams * row].view(streams, row)
        y = ids[1 : streams * row + 1].view(streams, row)
        total, state = _score(model, x, y, model.initial_state(streams), chunk, ignore_from)
        rest = count - streams * row
        if rest:
            last = select_state(state, torch.tensor([streams - 1], device=ids.device))
            tail_x = ids[streams * row : count].view(1, rest)
            tail_y = ids[streams * row + 1 : count + 1].view(1, rest)
            extra, _ = _score(model, tail_x, tail_y, last, chunk, ignore_from)
            total += extra
    finally:
        model.train(was_training)
    return total / max(scored, 1)


@torch.inference_mode()
def documents_nll(model: CharRNN, ids: torch.Tensor, docs: Documents, end: int,
                  batch: int = 64, chunk: int = 256) -> tuple[float, int]:
    """Summed negative log-likelihood of every document, each read from the zero state
    with its end symbol scored, and the number of symbols scored."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for members in torch.argsort(docs.lengths).split(batch):
            x, y = document_batch(ids, docs.pick(members), end)
            x, y = x.to(model.head.weight.device), y.to(model.head.weight.device)
            state = model.initial_state(x.shape[0])
            for start in range(0, x.shape[1], chunk):
                logits, state = model(x[:, start : start + chunk], state)
                total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                         y[:, start : start + chunk].reshape(-1),
                                         ignore_index=IGNORE, reduction="sum").item()
            count += int((y != IGNORE).sum())
    finally:
        model.train(was_training)
    return total, count


def val_share(val_ids: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """This process's contiguous piece of the validation text (pieces overlap by one
    character, so together they predict every character but the first exactly once)."""
    if not ranks.active:
        return val_ids
    count = val_ids.numel() - 1
    if count < ranks.world:
        raise CorpusError(f"validation text of {val_ids.numel()} characters is too short to "
                          f"share between {ranks.world} processes")
    size = count // ranks.world
    start = ranks.rank * size
    end = count if ranks.rank == ranks.world - 1 else start + size
    return val_ids[start : end + 1]
