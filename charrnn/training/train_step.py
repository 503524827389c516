"""One teacher-forced step, the optimiser it updates, and a window that fits the text."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from charrnn.config import TrainConfig
from charrnn.data.documents import IGNORE
from charrnn.data.streams import StreamBatcher
from charrnn.errors import CorpusError
from charrnn.model.network import CharRNN, State, detach_state
from charrnn.training.device import autocast
from charrnn.training.report import Reporter


def make_optimizer(model: CharRNN, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; weight decay (when set) applies to weight matrices, not biases. The fused
    implementation updates each tensor in one pass, not a loop of element-wise ops,
    where the device has it."""
    fused = {"fused": True} if next(model.parameters()).device.type in ("cpu", "cuda") else {}
    if not cfg.weight_decay:
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0, **fused)
    params = list(model.parameters())
    return torch.optim.AdamW([
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ], lr=cfg.lr, **fused)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
               y: torch.Tensor, state: State, grad_clip: float,
               dtype: torch.dtype = torch.float32,
               bptt_steps: int | None = None,
               restarts: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
    """One teacher-forced step on a window: forward from the carried state (under bf16
    autocast if asked), mean cross-entropy, backward, clip the global gradient norm,
    update. `model` may be wrapped in DistributedDataParallel. Returns the loss (a
    tensor, so no device sync is forced here) and the state after the window.

    `bptt_steps` K2 shorter than the window (K1) cuts the gradient's path every K2
    characters (truncated BPTT with k2 < k1): every position still gets its loss, but
    its gradient reaches back at most K2 steps. `restarts` marks where a packed row's
    next document begins (the state returns to zero there)."""
    with autocast(x.device, dtype):
        logits, state = forward_cut(model, x, state, bptt_steps, restarts)
        targets = y.reshape(-1)  # documents' padding (IGNORE) is not scored
        total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets,
                                ignore_index=IGNORE, reduction="sum")
        # the mean over scored places; a window of padding alone (a process's rows of a
        # batch's last window) counts zero, not 0 / 0
        loss = total / (targets != IGNORE).sum().clamp_min(1)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.detach(), state


def forward_cut(model: torch.nn.Module, x: torch.Tensor, state: State,
                bptt_steps: int | None,
                restarts: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
    """The window's logits, its state's gradient path cut every `bptt_steps` characters
    (one fused call when there is nothing to cut, as without it)."""
    if bptt_steps is None or bptt_steps >= x.shape[1]:
        return model(x, state) if restarts is None else model(x, state, restarts)
    pieces = []
    for start in range(0, x.shape[1], bptt_steps):
        if start:
            state = detach_state(state)
        piece = slice(start, start + bptt_steps)
        logits, state = (model(x[:, piece], state) if restarts is None
                         else model(x[:, piece], state, restarts[:, piece]))
        pieces.append(logits)
    return torch.cat(pieces, dim=1), state


def fit_to_text(cfg: TrainConfig, chars: int, processes: int,
                report: Reporter) -> TrainConfig:
    """`cfg` with the window and the batch shrunk (and the user told) where a short
    training text of `chars` characters cannot fill them."""
    if chars < 2:
        raise CorpusError("the training text needs at least 2 characters")
    if chars - 1 < cfg.seq_len:
        report.on_message(f"training text has only {chars} characters: "
                          f"`seq_len` shrunk from {cfg.seq_len} to {chars - 1}")
        cfg = dataclasses.replace(cfg, seq_len=chars - 1)
    streams = StreamBatcher.fitting_batch_size(chars, cfg.batch_size * processes, cfg.seq_len)
    if streams < cfg.batch_size * processes:
        if streams < processes:
            raise CorpusError(f"training text of {chars} characters is too short "
                              f"for {processes} processes of `seq_len` {cfg.seq_len}")
        batch = streams // processes
        report.on_message(
            f"training text of {chars} characters fills only {streams} streams of "
            f"{cfg.seq_len}: `batch_size` shrunk from {cfg.batch_size} to {batch}")
        cfg = dataclasses.replace(cfg, batch_size=batch)
    return cfg
