"""A dedicated one-character inference step, exact in fp32 and several times faster than
calling `nn.LSTM` once per character.

Generation advances one character at a time, so the cost is per-step overhead plus
reading the weights once. The weights are arranged once for matrix-vector work:

- layer 0's input projection of every character (embedding @ W_ih + biases) becomes a
  table, so the first layer's input product is a row lookup;
- each higher LSTM/RNN layer multiplies [x, h] by one concatenated [W_ih; W_hh];
- the large matrix products use weights pre-packed by oneDNN for the batch size at hand
  (twice as fast here as BLAS, whose small-batch path repacks the weights on every call);
  small ones (the output head) use plain `addmm`, which skips oneDNN's ~40 µs call cost,
  as do all of them where this torch build lacks the packed op;
- gate arithmetic runs in place; no autograd.

Optionally (`weights="fp16"` or `"int8"`) the recurrent products read smaller weights
through PyTorch's dynamic-quantisation kernels (fbgemm): fp16 weights, or int8 weights
with one scale per output row and the input quantised per call. They read a half or a
quarter of the bytes, so a step is faster, at the cost measured in `bench/decode.py`.
The input table and the output head stay fp32. The int8 kernels quantise their input
over the whole batch; every input they see is a hidden state, inside [-1, 1], so one
extra row holding -1 and 1 pins that range for every call: a row's result never depends
on the other rows, and a beam's score is the log-probability `logprob` gives its text.

The state layout is the model's ((num_layers, batch, hidden) tensors), so `select_state`
reorders beams as usual; every call returns fresh state tensors and never writes into the
ones it was given.
"""

from __future__ import annotations

import contextlib
import warnings

import torch
import torch.nn.functional as F

from charrnn.errors import ConfigError
from charrnn.model.network import CharRNN, State

WEIGHTS = ("fp32", "fp16", "int8")


def _packed_ops_work() -> bool:
    try:
        w = torch.ops.mkldnn._reorder_linear_weight(torch.ones(2, 2), 1)
        out = torch.ops.mkldnn._linear_pointwise(torch.ones(1, 2), w, None, "none", [], "")
        return bool(torch.equal(out, torch.full((1, 2), 2.0)))
    except (AttributeError, RuntimeError):
        return False


def _x86_engine() -> str | None:
    engines = torch.backends.quantized.supported_engines
    return next((e for e in ("x86", "fbgemm") if e in engines), None)


@contextlib.contextmanager
def _quantized_engine():
    """fbgemm-family packing (the fast x86 kernels), whatever engine was set globally."""
    engine = _x86_engine()
    if engine is None:
        raise ConfigError("this PyTorch build has no x86 (fbgemm) kernels for fp16/int8 "
                          "weights; use fp32 weights")
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        with warnings.catch_warnings():  # quantised int8 tensors are marked deprecated
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.backends.quantized.engine = previous


def _pack_reduced(weight: torch.Tensor, bias: torch.Tensor | None, weights: str):
    """Weights packed for the fp16 or int8 dynamic kernels, and the op that applies them."""
    ops = torch.ops.quantized
    try:
        with _quantized_engine():
            if weights == "fp16":
                return ops.linear_prepack_fp16(weight, bias), ops.linear_dynamic_fp16
            scale = (weight.abs().amax(dim=1) / 127).clamp_min(1e-12).double()
            zero = torch.zeros(weight.shape[0], dtype=torch.long)
            q = torch.quantize_per_channel(weight, scale, zero, 0, torch.qint8)
            packed = ops.linear_prepack(q, bias)
            anchor = torch.zeros(1, weight.shape[1])
            anchor[0, :2] = torch.tensor([-1.0, 1.0])

            def int8(x: torch.Tensor, p) -> torch.Tensor:  # 7-bit input (reduce_range):
                # no overflow in fbgemm's 16-bit pair sums
                return ops.linear_dynamic(torch.cat([x, anchor]), p, True)[:-1]

            return packed, int8
    except (AttributeError, RuntimeError) as err:
        raise ConfigError(f"this PyTorch build cannot run {weights} weights ({err}); "
                          "use fp32 weights") from None


class Linear:
    """y = x @ weight^T + bias, by the fastest route for the weight's size (see module doc)."""

    packed_ops = _packed_ops_work()
    _MAX_PACKS = 4
    _SMALL = 1 << 18  # weights under this many entries: addmm beats oneDNN's call cost

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None,
                 weights: str = "fp32"):
        self.weight = weight.detach().float().contiguous()
        self.bias = None if bias is None else bias.detach().float().contiguous()
        self.reduced = None
        if weights != "fp32":
            self.reduced = _pack_reduced(self.weight, self.bias, weights)
        self.packed = (self.reduced is None and self.packed_ops
                       and self.weight.numel() >= self._SMALL)
        self.weight_t = None if self.packed or self.reduced else self.weight.T.contiguous()
        self._packs: dict[int, torch.Tensor] = {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.reduced is not None:
            packed, op = self.reduced
            return op(x, packed)
        if not self.packed:
            if self.bias is None:
                return x @ self.weight_t
            return torch.addmm(self.bias, x, self.weight_t)
        rows = x.shape[0]
        pack = self._packs.get(rows)
        if pack is None:
            if len(self._packs) >= self._MAX_PACKS:
                self._packs.clear()
            pack = self._packs[rows] = torch.ops.mkldnn._reorder_linear_weight(self.weight, rows)
        return torch.ops.mkldnn._linear_pointwise(x, pack, self.bias, "none", [], "")


class InferenceStep:
    """`model`'s next-character step with its weights arranged once (see the module doc);
    `self.model` names the cell ("lstm", "gru" or "rnn") as `ModelConfig.model` does."""

    def __init__(self, model: CharRNN, weights: str = "fp32"):
        if weights not in WEIGHTS:
            raise ConfigError(f"--weights must be one of {', '.join(WEIGHTS)}, not {weights!r}")
        cfg = model.config
        self.model, self.layers, self.hidden = cfg.model, cfg.num_layers, cfg.hidden_size
        self.weights = weights
        rnn = model.rnn
        with torch.no_grad():
            def weight(name: str, layer: int) -> torch.Tensor:
                return getattr(rnn, f"{name}_l{layer}").detach().float()

            table = model.embed.weight.float() @ weight("weight_ih", 0).T + weight("bias_ih", 0)
            if self.model != "gru":  # GRU keeps b_hh apart: its reset gate scales W_hn h + b_hn
                table = table + weight("bias_hh", 0)
            self.table = table.contiguous()
            if self.model == "gru":  # separate input and hidden products, as the cell needs
                self.hh = [Linear(weight("weight_hh", k), weight("bias_hh", k), weights)
                           for k in range(self.layers)]
                self.ih = [Linear(weight("weight_ih", k), weight("bias_ih", k), weights)
                           for k in range(1, self.layers)]
            else:  # layer 0: h @ W_hh (biases are in the table); above: [x, h] @ [W_ih W_hh]
                self.hh = [Linear(weight("weight_hh", 0), None, weights)]
                self.cat = [Linear(torch.cat([weight("weight_ih", k), weight("weight_hh", k)], 1),
                                   weight("bias_ih", k) + weight("bias_hh", k), weights)
                            for k in range(1, self.layers)]
            self.head = Linear(model.head.weight, model.head.bias)

    def _lstm(self, gates: torch.Tensor, c_prev: torch.Tensor, h: torch.Tensor,
              c: torch.Tensor) -> None:
        n = self.hidden
        s = gates.sigmoid()
        g = gates[:, 2 * n : 3 * n].tanh()
        torch.mul(s[:, n : 2 * n], c_prev, out=c)
        c.addcmul_(s[:, :n], g)
        torch.tanh(c, out=h)
        h.mul_(s[:, 3 * n :])

    def _gru(self, gi: torch.Tensor, h_prev: torch.Tensor, k: int, h: torch.Tensor) -> None:
        n = self.hidden
        gh = self.hh[k](h_prev)
        rz = (gi[:, : 2 * n] + gh[:, : 2 * n]).sigmoid_()
        cand = torch.addcmul(gi[:, 2 * n :], rz[:, :n], gh[:, 2 * n :]).tanh_()
        torch.sub(h_prev, cand, out=h)
        h.mul_(rz[:, n:]).add_(cand)

    @torch.inference_mode()
    def __call__(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """ids (batch,) -> next-character log-probabilities (batch, vocab), new state."""
        h_in = state[0]
        h_out = torch.empty_like(h_in)
        c_out = torch.empty_like(state[1]) if self.model == "lstm" else None
        x = None
        for k in range(self.layers):
            h_prev = h_in[k]
            if self.model == "gru":
                gi = self.table.index_select(0, ids) if k == 0 else self.ih[k - 1](x)
                self._gru(gi, h_prev, k, h_out[k])
            else:
                if k == 0:
                    gates = self.hh[0](h_prev).add_(self.table.index_select(0, ids))
                else:
                    gates = self.cat[k - 1](torch.cat([x, h_prev], 1))
                if self.model == "lstm":
                    self._lstm(gates, state[1][k], h_out[k], c_out[k])
                else:
                    torch.tanh(gates, out=h_out[k])
            x = h_out[k]
        logprobs = F.log_softmax(self.head(x), dim=-1)
        return logprobs, (h_out, c_out) if c_out is not None else (h_out,)
