"""Recurrent layers whose state restarts from zero in the middle of a window.

Packed document batches hold several documents one after another in a row, so the
state must return to zero wherever a document begins. torch's fused RNN kernels cannot
do that, so these layers step through time themselves with the same weights (a model
trained this way is an ordinary `CharRNN`).

The cell's step is `model/cell_equations.py`'s; these layers add the time loop, the
restarts and the products. The LSTM, which every default uses, has its own backward
(the step's derivative, `LSTMStep.backward`): letting autograd record the loop would add
one (4H x H) weight gradient per step, which ran 2-3x slower than the fused kernel here;
this backward forms the weight gradient in one product at the end and runs as fast as
torch's own. GRU and vanilla RNN layers are recorded by autograd: right, and slower.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from charrnn.model.cell_equations import AUTOGRAD, TORCH, TORCH_LSTM_ORDER, LSTMStep, cell_step


def recur_with_restarts(kind: str, x: torch.Tensor, weights: list[dict[str, torch.Tensor]],
                        state: tuple[torch.Tensor, ...], restarts: torch.Tensor,
                        dropout) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """x (batch, time, in) through the layers' `weights` (weight_ih, weight_hh, bias_ih,
    bias_hh each); `restarts` (batch, time; bool) is set where the state restarts before
    that step.
    `dropout` is applied between layers, as torch's multi-layer RNN does. Returns the
    last layer's outputs and the state after the last step (as torch's RNN returns it)."""
    keep = (~restarts).t().unsqueeze(-1).to(x.dtype)  # (time, batch, 1): 0 at a restart
    inputs = x.transpose(0, 1)  # time-major: one step is one contiguous slice
    finals = []
    for k, w in enumerate(weights):
        if k:
            inputs = dropout(inputs)
        pre = F.linear(inputs, w["weight_ih"], w["bias_ih"])
        if kind == "lstm":
            with torch.autocast(x.device.type, enabled=False):  # its out= buffers are fp32
                inputs, h, c = _LSTMLayer.apply(
                    (pre + w["bias_hh"]).to(w["weight_hh"].dtype), w["weight_hh"],
                    state[0][k], state[1][k], keep)
            finals.append((h, c))
        else:
            inputs, h = _autograd_layer(kind, pre, w["weight_hh"], w["bias_hh"],
                                        state[0][k], keep)
            finals.append((h,))
    return inputs.transpose(0, 1), tuple(torch.stack(s) for s in zip(*finals, strict=True))


def _autograd_layer(kind: str, pre: torch.Tensor, weight_hh: torch.Tensor,
                    bias_hh: torch.Tensor, h: torch.Tensor, keep: torch.Tensor):
    """A GRU or tanh RNN layer stepped in Python (gates in torch's order: r, z, n)."""
    cell, outputs = cell_step(kind, h.shape[-1], AUTOGRAD), []
    for t in range(pre.shape[0]):
        h = h * keep[t]
        hidden = F.linear(h, weight_hh, bias_hh)
        h = cell.step(pre[t], hidden, h) if kind == "gru" else cell.step(pre[t] + hidden)
        outputs.append(h)
    return torch.stack(outputs), h


class _LSTMLayer(torch.autograd.Function):
    """One LSTM layer over time (gates in torch's order: i, f, g, o) from `pre`, the
    input's part of the gates (time, batch, 4H) with both biases in."""

    @staticmethod
    def forward(ctx, pre, weight_hh, h, c, keep):
        steps = pre.shape[0]
        ctx.cell = cell = LSTMStep(h.shape[-1], TORCH, TORCH_LSTM_ORDER)
        gates = torch.empty_like(pre)  # after their nonlinearities
        h_before = pre.new_empty(steps, *h.shape)
        c_before, c_after, outputs = (torch.empty_like(h_before) for _ in range(3))
        for t in range(steps):
            h, c = h * keep[t], c * keep[t]
            h_before[t], c_before[t] = h, c
            torch.addmm(pre[t], h, weight_hh.t(), out=gates[t])
            cell.step(gates[t], c, outputs[t], c_after[t])
            h, c = outputs[t], c_after[t]
        ctx.save_for_backward(weight_hh, keep, gates, h_before, c_before, c_after)
        return outputs, h.clone(), c.clone()

    @staticmethod
    def backward(ctx, d_outputs, d_h, d_c):
        weight_hh, keep, gates, h_before, c_before, c_after = ctx.saved_tensors
        d_pre = torch.empty_like(gates)
        d_h = torch.zeros_like(h_before[0]) if d_h is None else d_h.clone()
        d_c = torch.zeros_like(h_before[0]) if d_c is None else d_c.clone()
        for t in range(gates.shape[0] - 1, -1, -1):
            if d_outputs is not None:
                d_h = d_h + d_outputs[t]
            d_c = ctx.cell.backward(gates[t], c_before[t], c_after[t], d_h, d_c, d_pre[t])
            d_c = d_c * keep[t]
            d_h = torch.mm(d_pre[t], weight_hh) * keep[t]
        size = h_before.shape[-1]
        d_weight = torch.mm(d_pre.reshape(-1, 4 * size).t(), h_before.reshape(-1, size))
        return d_pre, d_weight, d_h, d_c, None
