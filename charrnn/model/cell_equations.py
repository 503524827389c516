"""The recurrent cells' equations, written once: what an LSTM, GRU or tanh RNN cell does
with its pre-activations and its previous state in one step.

    LSTM   i, f, o = σ(a_i), σ(a_f), σ(a_o)     g = tanh(a_g)
           c' = f c + i g                        h' = o tanh(c')
    GRU    r, z = σ(x_r + h_r), σ(x_z + h_z)     n = tanh(x_n + r h_n)
           h' = (1 - z) n + z h
    RNN    h' = tanh(a)

a is W_ih x + W_hh h + both biases; a GRU keeps its input part (x_*) and its hidden part
(h_* = W_h* h + b_h*) apart, as its reset gate scales only h_n. Every Python path that
steps a cell calls the classes below: the decoding step (`decoding/inference_step.py`),
the layers whose state restarts mid-window (`model/restarts.py`, with the LSTM's backward
step here too) and the insight recorder (`insight/cells.py`). JavaScript
(`export/runtime.js`) and the ONNX graph (`export/onnx_graph.py`) write the same
equations in their own languages and are checked against Python by equivalence tests.

Gate order. An LSTM's four gates sit side by side in one (rows, 4 hidden) array. The fast
paths want them as (i, f, o, g), `LSTM_ORDER`, so the three sigmoid gates are one slice
(`arranged_rows` takes torch's rows there); the training layers keep torch's (i, f, g, o),
`TORCH_LSTM_ORDER`, because their backward sums the gates' gradients in that order and
another order would move the gradients' last bits. GRU gates are (r, z, n) everywhere.

Arithmetic. One equation can be computed in float32 in ways that differ in the last bit,
and each path keeps the arithmetic it has always had, so sampled text, beams and training
losses stay what they were. A cell is built with one of three:

- `NUMPY` (decoding, insight): in place on the caller's buffers, about a microsecond per
  operation. σ(x) = 0.5 + 0.5 tanh(x / 2) from pre-activations whose sigmoid rows the
  caller halved in advance (`arranged_rows`; exact, a power of two), so one tanh covers
  every gate of a layer; f c + i g is two products and a sum. `NUMPY_BESIDE_TORCH`, for
  decoding steps of many rows whose products run on torch's threads, takes the sigmoid
  gates from torch's `sigmoid` instead (the last bits differ from `NUMPY`'s).
- `TORCH` (the LSTM training layer's forward, no autograd): into the buffers given;
  torch.sigmoid, one call per run of adjacent sigmoid gates; f c + i g is one addcmul.
- `AUTOGRAD` (GRU and RNN training layers): torch, out of place, so autograd records
  every operation; each sigmoid gate is a call of its own on a fresh sum (torch's sigmoid
  rounds the last bit by how a call is cut into vector lanes).

`out=` arguments name the buffer a result may be written into; `AUTOGRAD` ignores them,
so a step always uses the results it gets back.
"""

from __future__ import annotations

from itertools import groupby

import numpy as np
import torch

LSTM_ORDER = "ifog"  # the fast paths': the sigmoid gates i, f, o are one slice
TORCH_LSTM_ORDER = "ifgo"  # torch's weight rows; the training layers keep it

_SIGMOID_GATES = {"lstm": 3, "gru": 2, "rnn": 0}  # leading gates, in the fast order


def arranged_rows(kind: str, hidden: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(order, scale): index torch's gate rows (or bias entries) with `order` for the
    fast gate order, then multiply them by `scale`, 0.5 on every sigmoid gate's rows
    (for `NUMPY`'s σ(x) = 0.5 + 0.5 tanh(x / 2)) and 1 elsewhere."""
    order = torch.arange(4 * hidden)
    if kind == "lstm":  # torch's (i, f, g, o) -> (i, f, o, g)
        order = torch.cat([order[: 2 * hidden], order[3 * hidden :],
                           order[2 * hidden : 3 * hidden]])
    else:
        order = order[: (3 if kind == "gru" else 1) * hidden]
    scale = torch.ones(len(order))
    scale[: _SIGMOID_GATES[kind] * hidden] = 0.5
    return order, scale


def _columns(start: int, stop: int, hidden: int) -> tuple[slice, slice]:
    """The columns of gates start..stop - 1 in a (rows, gates * hidden) array."""
    return (slice(None), slice(start * hidden, stop * hidden))


# --- arithmetic: how each path computes the operations of a step ------------------------

class _Numpy:
    """numpy, in place; sigmoid rows arrive halved (see the module doc)."""

    add, multiply, tanh = np.add, np.multiply, np.tanh

    @staticmethod
    def activate(gates: np.ndarray, sigmoids: tuple, tanhs: tuple) -> None:
        np.tanh(gates, out=gates)  # tanh(a), and tanh(a / 2) on the halved rows
        for run in sigmoids:  # 0.5 + 0.5 tanh(a / 2) = σ(a)
            part = gates[run]
            np.multiply(part, 0.5, out=part)
            np.add(part, 0.5, out=part)

    @staticmethod
    def mul_add(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray,
                out: np.ndarray) -> np.ndarray:
        """a b + c d into out; d is overwritten."""
        np.multiply(a, b, out=out)
        np.multiply(c, d, out=d)
        return np.add(out, d, out=out)

    @staticmethod
    def sigmoids(a: np.ndarray, b: np.ndarray, parts: tuple, out: np.ndarray) -> tuple:
        """σ(a + b) into out, returned as the two gates in `parts` (column slices)."""
        np.tanh(np.add(a, b, out=out), out=out)  # every row halved: σ = 0.5 + 0.5 tanh
        np.multiply(out, 0.5, out=out)
        np.add(out, 0.5, out=out)
        first, second = parts
        return out[first], out[second]

    @staticmethod
    def interpolate(n: np.ndarray, h: np.ndarray, z: np.ndarray,
                    out: np.ndarray) -> np.ndarray:
        """(1 - z) n + z h, as (h - n) z + n."""
        np.subtract(h, n, out=out)
        np.multiply(out, z, out=out)
        return np.add(out, n, out=out)


class _NumpyBesideTorch(_Numpy):
    """`_Numpy`, for steps whose products run on torch's threads: the sigmoid gates are
    torch's `sigmoid` of the doubled rows (exact: a power of two), on numpy's memory.
    Over many rows it runs on both cores beside those products, at under a third of
    numpy's one-core `tanh` (32 rows of `medium`: about 100 µs against 175 for the
    gates); beside OpenBLAS's threads it would stall them (`decoding/matmul_routes.py`)."""

    @staticmethod
    def activate(gates: np.ndarray, sigmoids: tuple, tanhs: tuple) -> None:
        for run in sigmoids:  # σ(2 (a / 2))
            part = gates[run]
            np.multiply(part, 2, out=part)
            torch.from_numpy(part).sigmoid_()
        for run in tanhs:
            np.tanh(gates[run], out=gates[run])

    @staticmethod
    def sigmoids(a: np.ndarray, b: np.ndarray, parts: tuple, out: np.ndarray) -> tuple:
        """σ(a + b) into out (every row halved, so σ of the doubled sum)."""
        np.add(a, b, out=out)
        np.multiply(out, 2, out=out)
        torch.from_numpy(out).sigmoid_()
        first, second = parts
        return out[first], out[second]


class _Torch:
    """torch into the buffers given, outside autograd."""

    multiply, tanh = torch.mul, torch.tanh

    @staticmethod
    def activate(gates: torch.Tensor, sigmoids: tuple, tanhs: tuple) -> None:
        for run in sigmoids:
            gates[run].sigmoid_()
        for run in tanhs:
            gates[run].tanh_()

    @staticmethod
    def mul_add(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor,
                out: torch.Tensor) -> torch.Tensor:
        """a b + c d into out."""
        return torch.addcmul(a * b, c, d, out=out)


class _Autograd:
    """torch out of place, recorded by autograd; `out` is ignored."""

    @staticmethod
    def add(a: torch.Tensor, b: torch.Tensor, out=None) -> torch.Tensor:
        return a + b

    @staticmethod
    def multiply(a: torch.Tensor, b: torch.Tensor, out=None) -> torch.Tensor:
        return a * b

    @staticmethod
    def tanh(a: torch.Tensor, out=None) -> torch.Tensor:
        return torch.tanh(a)

    @staticmethod
    def sigmoids(a: torch.Tensor, b: torch.Tensor, parts: tuple, out=None) -> tuple:
        """σ(a + b) for each gate in `parts` (column slices), one call per gate."""
        return tuple(torch.sigmoid(a[part] + b[part]) for part in parts)

    @staticmethod
    def interpolate(n: torch.Tensor, h: torch.Tensor, z: torch.Tensor,
                    out=None) -> torch.Tensor:
        """(1 - z) n + z h."""
        return (1 - z) * n + z * h


NUMPY, TORCH, AUTOGRAD = _Numpy(), _Torch(), _Autograd()
NUMPY_BESIDE_TORCH = _NumpyBesideTorch()


# --- the cells -------------------------------------------------------------------------

class LSTMStep:
    """The LSTM step for cells of `hidden` units with gates in `order` (the letters i, f,
    o, g), computed with `arithmetic` (`NUMPY` or `TORCH`)."""

    def __init__(self, hidden: int, arithmetic, order: str = LSTM_ORDER):
        self.arithmetic = arithmetic
        at = {gate: _columns(k, k + 1, hidden) for k, gate in enumerate(order)}
        self.i, self.f, self.o, self.g = at["i"], at["f"], at["o"], at["g"]
        runs, start = {True: [], False: []}, 0  # adjacent gates of one kind: one call
        for sigmoid, gates in groupby(order, key=lambda gate: gate != "g"):
            width = len(list(gates))
            runs[sigmoid].append(_columns(start, start + width, hidden))
            start += width
        self.sigmoids, self.tanhs = tuple(runs[True]), tuple(runs[False])

    def step(self, gates, c_prev, h, c) -> None:
        """gates (rows, 4 hidden): the pre-activations, overwritten with the activated
        gates (the backward reads them); writes the new cell state c and output h."""
        ar = self.arithmetic
        ar.activate(gates, self.sigmoids, self.tanhs)
        ar.mul_add(gates[self.f], c_prev, gates[self.i], gates[self.g], out=c)  # f c + i g
        ar.tanh(c, out=h)
        ar.multiply(h, gates[self.o], out=h)  # o tanh(c')

    def backward(self, gates: torch.Tensor, c_prev: torch.Tensor, c: torch.Tensor,
                 d_h: torch.Tensor, d_c: torch.Tensor, d_gates: torch.Tensor) -> torch.Tensor:
        """The step's derivative (torch): from the activated `gates`, the cell states
        before and after, and the loss's gradients d_h, d_c after the step, writes the
        pre-activations' gradient into `d_gates` and returns the gradient of c_prev."""
        i, f, o, g = gates[self.i], gates[self.f], gates[self.o], gates[self.g]
        d_i, d_f, d_o, d_g = d_gates[self.i], d_gates[self.f], d_gates[self.o], d_gates[self.g]
        tanh_c = torch.tanh(c)
        torch.mul(d_h * tanh_c, o * (1 - o), out=d_o)
        d_c = d_c + d_h * o * (1 - tanh_c * tanh_c)
        torch.mul(d_c * g, i * (1 - i), out=d_i)
        torch.mul(d_c * c_prev, f * (1 - f), out=d_f)
        torch.mul(d_c * i, 1 - g * g, out=d_g)
        return d_c * f


class GRUStep:
    """The GRU step for cells of `hidden` units (gates r, z, n), computed with
    `arithmetic` (`NUMPY` or `AUTOGRAD`)."""

    def __init__(self, hidden: int, arithmetic):
        self.arithmetic = arithmetic
        self.rz, self.n = _columns(0, 2, hidden), _columns(2, 3, hidden)
        self.r_z = (_columns(0, 1, hidden), _columns(1, 2, hidden))  # within rz

    def step(self, x_gates, h_gates, h_prev, h=None):
        """x_gates, h_gates (rows, 3 hidden): the input's and the hidden state's parts of
        the pre-activations (`NUMPY` overwrites both); returns h', written into h."""
        ar = self.arithmetic
        r, z = ar.sigmoids(x_gates[self.rz], h_gates[self.rz], self.r_z, out=x_gates[self.rz])
        n = ar.multiply(r, h_gates[self.n], out=h_gates[self.n])  # r h_n
        n = ar.add(n, x_gates[self.n], out=n)
        n = ar.tanh(n, out=n)
        return ar.interpolate(n, h_prev, z, out=h)  # (1 - z) n + z h


class RNNStep:
    """The tanh RNN step, computed with `arithmetic` (`NUMPY` or `AUTOGRAD`)."""

    def __init__(self, arithmetic):
        self.arithmetic = arithmetic

    def step(self, gates, h=None):
        """gates (rows, hidden): the pre-activations; returns h', written into h."""
        return self.arithmetic.tanh(gates, out=h)


def cell_step(kind: str, hidden: int, arithmetic, order: str = LSTM_ORDER):
    """The step of a `kind` cell ("lstm", "gru" or "rnn", as `ModelConfig.model` names
    it) of `hidden` units, computed with `arithmetic`; `order` is an LSTM's gate order."""
    if kind == "lstm":
        return LSTMStep(hidden, arithmetic, order)
    return GRUStep(hidden, arithmetic) if kind == "gru" else RNNStep(arithmetic)
