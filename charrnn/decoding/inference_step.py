"""A dedicated one-character inference step, exact in fp32 and close to the floor that
reading the weights once per step sets.

Generation advances one character at a time, so a step's cost is reading its weight
matrices plus per-operation overhead. Both are cut to what the step needs:

- the weights are arranged once: layer 0's input projection of every character
  (embedding @ W_ih + biases) becomes a table, so the first layer's input product is a
  row lookup; each higher LSTM/RNN layer multiplies [x, h] by one concatenated
  [W_ih W_hh]; the rows are arranged as the cell's equations want them
  (`model/cell_equations.py`: LSTM gates (i, f, o, g), sigmoid rows halved);
- each product runs by the route measured fastest for its batch size (`matmul_routes.py`),
  timed again when its calls turn out slower than that measurement, and every
  RETIME_EVERY steps (a faster route missed in a noisy moment is found again);
- everything between the products is the cell's step (`cell_equations`, its `NUMPY`
  arithmetic) on buffers allocated once per batch size, in place, at about a
  microsecond per operation where an eager torch call costs several; from 16 rows whose
  products run on torch's threads, its sigmoid gates come from torch there
  (`NUMPY_BESIDE_TORCH`), on both cores.

The state layout is the model's ((num_layers, batch, hidden) tensors, and a labelled
model's (1, batch, 1) label in force, whose vector's input projection is a second table
and, with label adapters, whose output correction is added to the head's logits),
so `select_state` reorders beams as usual; every call returns fresh state tensors
(numpy-backed, no copy) and never writes into the ones it was given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from charrnn.config import check_weights
from charrnn.data.text_format import label_after
from charrnn.decoding.matmul_routes import Product, batch_class, choose_routes
from charrnn.model.cell_equations import NUMPY, NUMPY_BESIDE_TORCH, arranged_rows, cell_step
from charrnn.model.network import CharRNN, State


@dataclass
class _Buffers:
    """Scratch arrays for one batch size: a step writes these, never allocates them."""

    gates: np.ndarray  # (rows, gate width): the current layer's pre-activations
    hidden_gates: np.ndarray  # GRU: the hidden product, kept apart from the input one
    joined: np.ndarray  # (rows, input + hidden) for the concatenated [W_ih W_hh] product
    logits: np.ndarray
    exp: np.ndarray
    cell: object  # the cell's step for this many rows (`cell_step`), by its products' pool


class InferenceStep:
    """`model`'s next-character step with its weights arranged once (see the module doc);
    `self.model` names the cell ("lstm", "gru" or "rnn") as `ModelConfig.model` does."""

    def __init__(self, model: CharRNN, weights: str = "fp32"):
        check_weights(weights)
        cfg = model.config
        self.model, self.layers, self.hidden = cfg.model, cfg.num_layers, cfg.hidden_size
        self.weights = weights
        with torch.no_grad():
            self._arrange(model, weights)
        self._buffers: dict[int, _Buffers] = {}
        self.plans: dict[int, dict[str, float]] = {}  # batch class -> seconds per plan
        self.rechecks: dict[int, int] = {}  # batch class -> times a slow choice was redone
        self.retimes: dict[int, int] = {}  # batch class -> times it was timed in its turn
        self._slow: set[int] = set()  # batch classes whose routes ran slower than expected
        self._due: set[int] = set()  # batch classes whose turn to be timed again has come
        self._timed_at: dict[int, int] = {}  # batch class -> the step its routes were timed
        self._steps = 0  # steps taken, for timing every batch class's routes again
        for product in self.products:
            product.on_slower = self._slow.add

    def _arrange(self, model: CharRNN, weights: str) -> None:
        rnn, n = model.rnn, self.hidden
        self.cell = cell_step(self.model, n, NUMPY)
        self.cell_beside_torch = cell_step(self.model, n, NUMPY_BESIDE_TORCH)
        order, scale = arranged_rows(self.model, n)  # gates in the cell's order, as it wants

        def weight(name: str, layer: int) -> torch.Tensor:
            found = getattr(rnn, f"{name}_l{layer}").detach().float()[order]
            return found * (scale[:, None] if found.dim() == 2 else scale)

        table = model.embed.weight.float() @ weight("weight_ih", 0).T + weight("bias_ih", 0)
        if self.model != "gru":  # GRU keeps b_hh apart: its reset gate scales W_hn h + b_hn
            table = table + weight("bias_hh", 0)
        self.table = table.contiguous().numpy()
        self.width = self.table.shape[1]
        if self.model == "gru":  # separate input and hidden products, as the cell needs
            self.hh = [Product(weight("weight_hh", k), weight("bias_hh", k), weights)
                       for k in range(self.layers)]
            self.ih = [Product(weight("weight_ih", k), weight("bias_ih", k), weights)
                       for k in range(1, self.layers)]
        else:  # layer 0: h @ W_hh (biases are in the table); above: [x, h] @ [W_ih W_hh]
            self.hh = [Product(weight("weight_hh", 0), None, weights)]
            self.cat = [Product(torch.cat([weight("weight_ih", k), weight("weight_hh", k)], 1),
                                weight("bias_ih", k) + weight("bias_hh", k), weights)
                        for k in range(1, self.layers)]
        self.head = Product(model.head.weight, model.head.bias)
        self.labels = model.labels
        self._codes, self._correct = _no_codes, _unchanged  # a model of labels: below
        if self.labels:  # a label's vector, projected like a character's (no biases)
            self.first_label = model.first_label
            self.label_table = (model.label_embed.weight.float()
                                @ weight("weight_ih", 0).T).contiguous().numpy()
            self._codes = self._label_codes
            heads = model.label_heads  # label_input "adapter": each label's (weight, bias)
            self.label_heads = None if heads is None else (
                heads.weight.detach().float().numpy(), heads.bias.detach().float().numpy())
            self._correct = _unchanged if heads is None else self._adapt

    @property
    def products(self) -> list[Product]:
        """Every product of a step, in the order a step runs them."""
        if self.model == "gru":
            return [p for k in range(self.layers)
                    for p in ([self.ih[k - 1]] if k else []) + [self.hh[k]]] + [self.head]
        return [self.hh[0], *self.cat, self.head]

    def __call__(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """ids (batch,) -> next-character log-probabilities (batch, vocab), new state."""
        logprobs, new = self.advance(ids.numpy(), tuple(_array(s) for s in state))
        return torch.from_numpy(logprobs), tuple(torch.from_numpy(a) for a in new)

    def advance(self, idx: np.ndarray, state: tuple[np.ndarray, ...]
                ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """`__call__` on numpy arrays (C-contiguous float32 state), for loops that stay
        in numpy: ids (batch,) -> log-probabilities (batch, vocab), new state."""
        h_in, c_in = state[0], state[1] if self.model == "lstm" else None
        h_out = np.empty_like(h_in)
        c_out = None if c_in is None else np.empty_like(c_in)
        buf = self._buffers_for(idx.shape[0])
        codes = self._codes(idx, state[-1])
        x = None
        for k in range(self.layers):
            if self.model == "gru":
                self._gru(k, idx, x, h_in[k], h_out[k], buf, codes)
            else:
                gates = self._gates(k, idx, x, h_in[k], buf, codes)
                if c_out is not None:
                    buf.cell.step(gates, c_in[k], h_out[k], c_out[k])
                else:
                    buf.cell.step(gates, h_out[k])
            x = h_out[k]
        logits = self.head(x, buf.logits)
        self._correct(logits, x, codes)
        logprobs = self._log_softmax(logits, buf.exp)
        new = (h_out,) if c_out is None else (h_out, c_out)
        if codes is not None:
            new = (*new, codes.astype(np.float32).reshape(1, -1, 1))
        return logprobs, new

    def _adapt(self, logits: np.ndarray, x: np.ndarray, codes: np.ndarray) -> None:
        """Add each row's label's output correction to its logits (`LabelHeads`)."""
        weight, bias = self.label_heads
        if codes.size == 1:
            k = int(codes[0])
            if k:
                logits[0] += weight[k] @ x[0] + bias[k]
            return
        for k in np.unique(codes).tolist():
            if k:
                rows = codes == k
                logits[rows] += x[rows] @ weight[k].T + bias[k]

    def _label_codes(self, idx: np.ndarray, carried: np.ndarray) -> np.ndarray:
        """Each row's label after reading `idx` (the rule: `label_after`)."""
        return label_after(idx, carried.reshape(-1).astype(np.int64), self.first_label,
                           np.where)

    def _buffers_for(self, rows: int) -> _Buffers:
        self._steps += 1
        if not self._steps % RETIME_EVERY:  # a choice made in a noisy moment lasts no longer
            self._due.update(self.plans)
        if self._slow or self._due:
            self._choose_again(rows)
        buf = self._buffers.get(rows)
        if buf is None:
            if batch_class(rows) not in self.plans:
                self.plans[batch_class(rows)] = choose_routes(self.products, rows)
                self._timed_at[batch_class(rows)] = self._steps
            if len(self._buffers) >= 8:
                self._buffers.clear()
            vocab, widest = self.table.shape[0], max(p.shape[1] for p in self.products)
            buf = self._buffers[rows] = _Buffers(
                *(np.empty((rows, w), np.float32)
                  for w in (self.width, self.width, widest, vocab, vocab)),
                cell=self._cell_for(rows))
        return buf

    def _cell_for(self, rows: int):
        """The cell's step for `rows` rows: from SIGMOID_BY_TORCH_FROM rows whose products
        run on torch's threads, the one that takes its sigmoids from torch there."""
        plan = self.plans[batch_class(rows)]
        on_torch = min(plan, key=plan.__getitem__) == "torch only"
        return self.cell_beside_torch if on_torch and rows >= SIGMOID_BY_TORCH_FROM else self.cell

    def _choose_again(self, rows: int) -> None:
        """A batch class whose routes ran slower than they were timed at (`Product`'s
        watch; at most once in RECHECK_GAP steps, so two routes that both run slower in
        a step than alone cannot send it to time them over and over), or whose turn has
        come (every RETIME_EVERY steps), times its routes again before this step runs at
        that size."""
        key = batch_class(rows)
        slow, due = key in self._slow, key in self._due
        if not (slow or due):
            return
        self._slow.discard(key)
        self._due.discard(key)
        if not due and self._steps - self._timed_at.get(key, 0) < RECHECK_GAP:
            return
        self.plans[key] = choose_routes(self.products, rows)
        self._timed_at[key] = self._steps
        counts = self.retimes if due else self.rechecks
        counts[key] = counts.get(key, 0) + 1
        self._buffers.clear()  # made again, with the cell the new plan's pool wants

    def _gates(self, k: int, idx: np.ndarray, x: np.ndarray | None, h_prev: np.ndarray,
               buf: _Buffers, codes: np.ndarray | None = None) -> np.ndarray:
        """LSTM/RNN pre-activations of layer k: h W_hh + the character's table row (and
        its label's), or [x, h] [W_ih W_hh] + biases."""
        if k == 0:
            gates = self.hh[0](h_prev, buf.gates)
            rows = self.table[int(idx[0])] if idx.size == 1 else self.table[idx]  # a view
            np.add(gates, rows, out=gates)
            if codes is not None:
                np.add(gates, self.label_table[codes], out=gates)
            return gates
        joined = buf.joined[:, : x.shape[1] + h_prev.shape[1]]
        joined[:, : x.shape[1]] = x
        joined[:, x.shape[1] :] = h_prev
        return self.cat[k - 1](np.ascontiguousarray(joined), buf.gates)

    def _gru(self, k: int, idx: np.ndarray, x: np.ndarray | None, h_prev: np.ndarray,
             h: np.ndarray, buf: _Buffers, codes: np.ndarray | None = None) -> None:
        """A GRU layer: its input and hidden pre-activations, kept apart, then its step."""
        if k == 0:
            gi = np.take(self.table, idx, axis=0, out=buf.gates)
            if codes is not None:
                np.add(gi, self.label_table[codes], out=gi)
        else:
            gi = self.ih[k - 1](x, buf.gates)
        buf.cell.step(gi, self.hh[k](h_prev, buf.hidden_gates), h_prev, h)

    @staticmethod
    def _log_softmax(logits: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        if logits.shape[0] == 1:  # one row: scalar reductions are cheaper
            out = logits - logits.max()
            return np.subtract(out, math.log(np.exp(out, out=scratch).sum()), out=out)
        out = logits - logits.max(axis=1, keepdims=True)
        total = np.exp(out, out=scratch).sum(axis=1, keepdims=True)
        return np.subtract(out, np.log(total, out=total), out=out)


SIGMOID_BY_TORCH_FROM = 16  # rows: below, numpy's sigmoid costs less than torch's call
# steps between timings of every batch class's routes: a faster route missed in a noisy
# moment is found again within seconds of generation (a timing costs tens of ms)
RETIME_EVERY = 1 << 16
RECHECK_GAP = 1 << 15  # steps: the least between two timings of a batch class found slow


def _no_codes(idx: np.ndarray, carried: np.ndarray) -> None:
    """A model without labels has no label in force."""
    return None


def _unchanged(logits: np.ndarray, x: np.ndarray, codes: np.ndarray | None) -> None:
    """No label of its own output layer: the head's logits stand."""


def _array(t: torch.Tensor) -> np.ndarray:
    """A state tensor as a C-contiguous float32 array, sharing memory where it can."""
    return np.ascontiguousarray((t.detach() if t.requires_grad else t).numpy(),
                                dtype=np.float32)
