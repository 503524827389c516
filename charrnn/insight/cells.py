"""Cells that mean something (`charrnn neurons`): every cell's activation over a text,
ranked by how well it follows a feature a person can read.

Recording is one fused pass per layer over the whole text (a single-layer copy of the
layer's weights), so every layer's h is exact and costs what a forward pass costs. An
LSTM's cell state c is then recovered from the gates, which one batched product gives
for every step at once (the inputs and the h before each step are known), by the LSTM
step of `model/cell_equations.py`, in the decoding step's arithmetic.

Cells are named LAYER:KIND INDEX, e.g. "1:c212" (layer 1's cell state, unit 212) or
"0:h17" (layer 0's hidden state), layers counted from 0. The features are functions of
the text alone (`FEATURES`), and a user's regular expressions: 1 inside a match, else 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from charrnn.config import setting_error
from charrnn.errors import ConfigError
from charrnn.model.cell_equations import NUMPY, LSTMStep, arranged_rows
from charrnn.model.network import CharRNN


def _line_position(text: str) -> np.ndarray:
    out, col = np.zeros(len(text)), 0
    for i, ch in enumerate(text):
        out[i] = col
        col = 0 if ch == "\n" else col + 1
    return out


def _inside_quotes(text: str) -> np.ndarray:
    out, inside = np.zeros(len(text)), False
    for i, ch in enumerate(text):
        if ch == '"':
            inside = not inside
        out[i] = inside
    return out


def _bracket_depth(text: str) -> np.ndarray:
    out, depth = np.zeros(len(text)), 0
    for i, ch in enumerate(text):
        depth = depth + 1 if ch in "([{" else max(depth - 1, 0) if ch in ")]}" else depth
        out[i] = depth
    return out


def _indentation(text: str) -> np.ndarray:
    out, indent, leading = np.zeros(len(text)), 0, True
    for i, ch in enumerate(text):
        if ch == "\n":
            indent, leading = 0, True
        elif leading and ch == " ":
            indent += 1
        else:
            leading = False
        out[i] = indent
    return out


FEATURES: dict[str, Callable[[str], np.ndarray]] = {
    "line position": _line_position,  # characters since the line began
    "inside quotes": _inside_quotes,  # between an opening and a closing "
    "bracket depth": _bracket_depth,  # open ( [ { not yet closed
    "inside a word": lambda text: np.array([ch.isalnum() for ch in text], dtype=float),
    "indentation": _indentation,  # leading spaces of the current line
    "start of line": lambda text: np.array([ch == "\n" for ch in text], dtype=float),
}


def parse_features(specs: list[str]) -> dict[str, Callable[[str], np.ndarray]]:
    """`name=REGEX` -> a feature that is 1 inside the regex's matches (multi-line)."""
    found = {}
    for spec in specs:
        name, sep, pattern = spec.partition("=")
        if not sep or not name.strip() or not pattern:
            raise setting_error(f"feature must look like name=REGEX, not {spec!r}")
        try:
            compiled = re.compile(pattern, re.MULTILINE)
        except re.error as exc:
            raise setting_error(f"feature {name}: not a regular expression: {exc}") from None
        found[name.strip()] = _matches(compiled)
    return found


def _matches(pattern: re.Pattern) -> Callable[[str], np.ndarray]:
    def feature(text: str) -> np.ndarray:
        out = np.zeros(len(text))
        for m in pattern.finditer(text):
            out[m.start() : m.end()] = 1
        return out

    return feature


@dataclass
class Cells:
    """Activations (characters, cells) and the cells' names, in column order."""

    names: list[str]
    values: np.ndarray

    def column(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise ConfigError(f"no cell {name!r}: cells are like 0:c5 or 1:h12 "
                              f"(layers 0-{self.names[-1].split(':')[0]})")
        return self.values[:, self.names.index(name)]


def record(model: CharRNN, ids: torch.Tensor) -> Cells:
    """Every cell's activation after each character of `ids`, from the zero state."""
    cfg = model.config
    kinds = ("c", "h") if cfg.model == "lstm" else ("h",)
    names, columns = [], []
    with torch.no_grad():
        x = model.embed(ids[None, :])
        for k in range(cfg.num_layers):
            layer = _single_layer(model.rnn, k)
            h, _ = layer(x)
            per_kind = {"h": h[0]}
            if cfg.model == "lstm":
                per_kind["c"] = _cell_state(layer, x[0], h[0])
            for kind in kinds:
                names += [f"{k}:{kind}{i}" for i in range(cfg.hidden_size)]
                columns.append(per_kind[kind])
            x = h
    return Cells(names, torch.cat(columns, dim=1).double().numpy())


def _single_layer(rnn: nn.RNNBase, k: int) -> nn.RNNBase:
    """Layer k of a stacked torch RNN as a module of its own."""
    kind = type(rnn)
    extra = {"nonlinearity": rnn.nonlinearity} if kind is nn.RNN else {}
    layer = kind(rnn.input_size if k == 0 else rnn.hidden_size, rnn.hidden_size, 1,
                 batch_first=True, **extra)
    layer.load_state_dict({f"{name}_l0": getattr(rnn, f"{name}_l{k}")
                           for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
    return layer.eval()


def _cell_state(layer: nn.LSTM, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """c at every step, stepped from the gates that one product gives for every step."""
    before = torch.cat([torch.zeros_like(h[:1]), h[:-1]])
    gates = (x @ layer.weight_ih_l0.T + layer.bias_ih_l0
             + before @ layer.weight_hh_l0.T + layer.bias_hh_l0)
    order, scale = arranged_rows("lstm", layer.hidden_size)
    gates = (gates[:, order] * scale).float().numpy()
    cell = LSTMStep(layer.hidden_size, NUMPY)
    c = np.zeros((h.shape[0] + 1, h.shape[1]), np.float32)  # c[t + 1]: after step t
    output = np.empty((1, h.shape[1]), np.float32)  # h again, not kept
    for t in range(h.shape[0]):
        cell.step(gates[t : t + 1], c[t : t + 1], output, c[t + 1 : t + 2])
    return torch.from_numpy(c[1:]).to(h.dtype)


def correlations(cells: Cells, features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Pearson correlation of every cell with every feature (NaN for a feature that is
    constant over the text, or a cell that is)."""
    a = cells.values - cells.values.mean(axis=0)
    a_norm = np.sqrt((a * a).sum(axis=0))
    found = {}
    for name, values in features.items():
        v = values - values.mean()
        v_norm = np.sqrt((v * v).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            found[name] = (v @ a) / (a_norm * v_norm)
    return found


def neurons(model: CharRNN, text: str, ids: torch.Tensor, extra: list[str] | None = None,
            best: int = 5) -> tuple[Cells, dict[str, list]]:
    """Record `model`'s cells over `text` (its ids) and rank them for every readable
    feature and every `name=REGEX` in `extra`."""
    features = {**FEATURES, **parse_features(extra or [])}
    cells = record(model, ids)
    values = {name: feature(text) for name, feature in features.items()}
    return cells, rank(cells, correlations(cells, values), best)


def rank(cells: Cells, correlation: dict[str, np.ndarray], best: int = 5) -> dict[str, list]:
    """Per feature, the `best` cells by |correlation|: [(cell, r), ...]; an empty list
    for a feature constant over the text."""
    ranked = {}
    for name, r in correlation.items():
        if np.all(np.isnan(r)):
            ranked[name] = []
            continue
        order = np.argsort(-np.nan_to_num(np.abs(r), nan=-1.0))[:best]
        ranked[name] = [(cells.names[i], float(r[i])) for i in order]
    return ranked
