"""Recurrent layers whose state restarts from zero in the middle of a window.

Packed document batches hold several documents one after another in a row, so the
state must return to zero wherever a document begins. torch's fused RNN kernels cannot
do that, so these layers step through time themselves with the same weights (a model
trained this way is an ordinary `CharRNN`).

The LSTM, which every default uses, has its own backward: letting autograd record the
loop would add one (4H x H) weight gradient per step, which ran 2-3x slower than the
fused kernel here; this backward forms the weight gradient in one product at the end and
runs as fast as torch's own. GRU and vanilla RNN layers are recorded by autograd: right,
and slower.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
    outputs = []
    for t in range(pre.shape[0]):
        h = h * keep[t]
        hidden = F.linear(h, weight_hh, bias_hh)
        if kind == "gru":
            r_x, z_x, n_x = pre[t].chunk(3, 1)
            r_h, z_h, n_h = hidden.chunk(3, 1)
            r, z = torch.sigmoid(r_x + r_h), torch.sigmoid(z_x + z_h)
            h = (1 - z) * torch.tanh(n_x + r * n_h) + z * h
        else:
            h = torch.tanh(pre[t] + hidden)
        outputs.append(h)
    return torch.stack(outputs), h


class _LSTMLayer(torch.autograd.Function):
    """One LSTM layer over time (gates in torch's order: i, f, g, o) from `pre`, the
    input's part of the gates (time, batch, 4H) with both biases in."""

    @staticmethod
    def forward(ctx, pre, weight_hh, h, c, keep):
        steps, size = pre.shape[0], h.shape[-1]
        gates = torch.empty_like(pre)  # after their nonlinearities
        h_before = pre.new_empty(steps, *h.shape)
        c_before, c_after, outputs = (torch.empty_like(h_before) for _ in range(3))
        for t in range(steps):
            h, c = h * keep[t], c * keep[t]
            h_before[t], c_before[t] = h, c
            raw = torch.addmm(pre[t], h, weight_hh.t())
            act = gates[t]
            torch.sigmoid(raw[:, : 2 * size], out=act[:, : 2 * size])
            torch.tanh(raw[:, 2 * size : 3 * size], out=act[:, 2 * size : 3 * size])
            torch.sigmoid(raw[:, 3 * size :], out=act[:, 3 * size :])
            i, f, g, o = act.chunk(4, 1)
            c = torch.addcmul(f * c, i, g, out=c_after[t])
            h = torch.mul(o, torch.tanh(c), out=outputs[t])
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
            i, f, g, o = gates[t].chunk(4, 1)
            d_i, d_f, d_g, d_o = d_pre[t].chunk(4, 1)
            tanh_c = torch.tanh(c_after[t])
            torch.mul(d_h * tanh_c, o * (1 - o), out=d_o)
            d_c = d_c + d_h * o * (1 - tanh_c * tanh_c)
            torch.mul(d_c * g, i * (1 - i), out=d_i)
            torch.mul(d_c * c_before[t], f * (1 - f), out=d_f)
            torch.mul(d_c * i, 1 - g * g, out=d_g)
            d_c = d_c * f * keep[t]
            d_h = torch.mm(d_pre[t], weight_hh) * keep[t]
        size = h_before.shape[-1]
        d_weight = torch.mm(d_pre.reshape(-1, 4 * size).t(), h_before.reshape(-1, size))
        return d_pre, d_weight, d_h, d_c, None
