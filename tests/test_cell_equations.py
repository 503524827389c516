"""The cells written once (`model/cell_equations.py`): each step against torch's own cell,
in every arithmetic and gate order it is used with; the LSTM's backward against autograd;
and no other Python module applying a gate's activation."""

import ast
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from charrnn.model.cell_equations import (
    AUTOGRAD,
    LSTM_ORDER,
    NUMPY,
    NUMPY_BESIDE_TORCH,
    TORCH,
    TORCH_LSTM_ORDER,
    LSTMStep,
    arranged_rows,
    cell_step,
)

PACKAGE = Path(__file__).resolve().parents[1] / "charrnn"
TORCH_CELLS = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn": nn.RNNCell}
HIDDEN, ROWS, INPUT = 7, 3, 5


def torch_cell_and_inputs(kind: str):
    torch.manual_seed(0)
    cell = TORCH_CELLS[kind](INPUT, HIDDEN)
    x, h, c = torch.randn(ROWS, INPUT), torch.randn(ROWS, HIDDEN), torch.randn(ROWS, HIDDEN)
    return cell, x, h, c


def parts(cell, x, h) -> tuple[torch.Tensor, torch.Tensor]:
    """The input's and the hidden state's parts of the pre-activations, torch's order."""
    return (x @ cell.weight_ih.T + cell.bias_ih, h @ cell.weight_hh.T + cell.bias_hh)


@pytest.mark.parametrize("arithmetic", [NUMPY, NUMPY_BESIDE_TORCH])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_the_numpy_step_on_arranged_rows_is_torchs_cell(kind, arithmetic):
    cell, x, h, c = torch_cell_and_inputs(kind)
    order, scale = arranged_rows(kind, HIDDEN)
    x_part, h_part = ((p[:, order] * scale).detach().numpy() for p in parts(cell, x, h))
    step, h_new = cell_step(kind, HIDDEN, arithmetic), np.empty((ROWS, HIDDEN), np.float32)
    with torch.no_grad():
        expected = cell(x, (h, c)) if kind == "lstm" else (cell(x, h),)
    if kind == "lstm":
        c_new = np.empty_like(h_new)
        step.step(x_part + h_part, c.numpy(), h_new, c_new)
        np.testing.assert_allclose(c_new, expected[1], atol=1e-6)
    elif kind == "gru":
        step.step(x_part, h_part, h.numpy(), h_new)
    else:
        step.step(x_part + h_part, h_new)
    np.testing.assert_allclose(h_new, expected[0], atol=1e-6)


@pytest.mark.parametrize("order", [LSTM_ORDER, TORCH_LSTM_ORDER])
def test_the_torch_lstm_step_in_either_order_and_its_backward(order):
    cell, x, h, c = torch_cell_and_inputs("lstm")
    rows = {"i": 0, "f": 1, "g": 2, "o": 3}  # torch's
    pre = torch.cat([sum(parts(cell, x, h)).detach().chunk(4, 1)[rows[g]] for g in order], 1)
    pre.requires_grad_()
    c_prev = c.clone().requires_grad_()
    h_new, c_new = (torch.empty(ROWS, HIDDEN) for _ in range(2))
    step, gates = LSTMStep(HIDDEN, TORCH, order), pre.detach().clone()
    step.step(gates, c_prev.detach(), h_new, c_new)
    with torch.no_grad():
        expected_h, expected_c = cell(x, (h, c))
    torch.testing.assert_close(h_new, expected_h)
    torch.testing.assert_close(c_new, expected_c)

    # the backward against autograd through the textbook equations
    by_gate = dict(zip(order, pre.chunk(4, 1), strict=True))
    i, f, o = (torch.sigmoid(by_gate[g]) for g in "ifo")
    c_ref = f * c_prev + i * torch.tanh(by_gate["g"])
    h_ref = o * torch.tanh(c_ref)
    d_h, d_c = torch.randn(ROWS, HIDDEN), torch.randn(ROWS, HIDDEN)
    ((h_ref * d_h).sum() + (c_ref * d_c).sum()).backward()
    d_gates = torch.empty_like(pre)
    d_c_prev = step.backward(gates, c_prev.detach(), c_new, d_h, d_c, d_gates)
    torch.testing.assert_close(d_gates, pre.grad)
    torch.testing.assert_close(d_c_prev, c_prev.grad)


@pytest.mark.parametrize("kind", ["gru", "rnn"])
def test_the_autograd_step_is_torchs_cell_values_and_gradients(kind):
    cell, x, h, _ = torch_cell_and_inputs(kind)
    h = h.requires_grad_()
    x_part, h_part = parts(cell, x, h)
    step = cell_step(kind, HIDDEN, AUTOGRAD)
    found = step.step(x_part, h_part, h) if kind == "gru" else step.step(x_part + h_part)
    expected = cell(x, h)
    torch.testing.assert_close(found, expected)
    (grad_found,) = torch.autograd.grad(found.sum(), h)
    (grad_expected,) = torch.autograd.grad(expected.sum(), h)
    torch.testing.assert_close(grad_found, grad_expected)


def test_only_the_cell_module_applies_a_gates_activation():
    """The cell is written once in Python: no other module calls a sigmoid or a tanh (the
    ONNX graph names its nodes "Sigmoid" and "Tanh" as strings; runtime.js is JavaScript)."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "cell_equations.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(node, "attr", getattr(node, "id", ""))
            if name.rstrip("_") in ("sigmoid", "tanh", "logsigmoid"):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert found == []
