"""Validation loss during training: every held-out character scored once, state carried.

The held-out text is cut into a few contiguous streams that run side by side (for
speed); each stream carries its state from chunk to chunk, and the characters that do
not fill the last row are scored afterwards by continuing the last stream's state. The
result is the true per-character mean over the whole text, not an estimate from sampled
windows. In a distributed job each process scores its own contiguous share.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from charrnn.errors import CorpusError
from charrnn.model.network import CharRNN, State, select_state
from charrnn.training.distributed import Ranks


def _score(model: CharRNN, x: torch.Tensor, y: torch.Tensor, state: State, chunk: int):
    """Summed negative log-likelihood of y given x, chunk by chunk, and the final state."""
    total = 0.0
    for start in range(0, x.shape[1], chunk):
        xs, ys = x[:, start : start + chunk].long(), y[:, start : start + chunk].long()
        logits, state = model(xs, state)
        total += F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), ys.reshape(-1), reduction="sum"
        ).item()
    return total, state


@torch.inference_mode()
def mean_nll(model: CharRNN, ids: torch.Tensor, streams: int = 16, chunk: int = 256) -> float:
    """Mean negative log-likelihood in nats per predicted character of `ids`."""
    count = ids.numel() - 1
    if count < 1:
        raise ValueError("need at least two characters to measure a loss")
    streams = max(1, min(streams, count // chunk or 1))
    row = count // streams
    was_training = model.training
    model.eval()
    try:
        x = ids[: streams * row].view(streams, row)
        y = ids[1 : streams * row + 1].view(streams, row)
        total, state = _score(model, x, y, model.initial_state(streams), chunk)
        rest = count - streams * row
        if rest:
            last = select_state(state, torch.tensor([streams - 1], device=ids.device))
            tail_x = ids[streams * row : count].view(1, rest)
            tail_y = ids[streams * row + 1 : count + 1].view(1, rest)
            extra, _ = _score(model, tail_x, tail_y, last, chunk)
            total += extra
    finally:
        model.train(was_training)
    return total / count


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


def estimate_eval_seconds(model: CharRNN, val_ids: torch.Tensor, probe: int = 8192) -> float:
    """How long evaluating and checkpointing will take, from timing a slice of the
    validation text, so a time budget keeps room for the last evaluation."""
    t0 = time.perf_counter()
    mean_nll(model, val_ids[: min(probe, val_ids.numel())])
    seconds = time.perf_counter() - t0
    return 1.2 * seconds * max(1.0, val_ids.numel() / probe) + 0.2
