"""A model's one-character step as an ONNX graph of plain operators, for onnxruntime on
any platform (and onnxruntime-web, mobile runtimes):

    (ids [batch] int64, h [layers, batch, hidden], c (LSTM), label [1, batch, 1] (labelled
    files)) -> (logprobs [batch, vocab], h_out, c_out, label_out)

built from Gather, MatMul, Add, Sub, Mul, Sigmoid, Tanh, Slice, Squeeze, Unsqueeze,
Concat, Reshape, Cast, GreaterOrEqual, Where, Identity and LogSoftmax (opset 17), so no
runtime needs an RNN operator of its own. The state has the model's layout
(`charrnn.model.network`): a run starts from zeros, and a text is read one id at a time,
its opening first. What a program needs to do that (the vocabulary, with the first
character's frequencies for a stream model, and the text format with each label's
opening, `TextFormat.manifest()`) is in the model's metadata under "charrnn" as JSON,
and `onnx_model.py` loads such a file back as a `LanguageModel`.
"""

from __future__ import annotations

import json

import numpy as np

from charrnn.errors import CharRNNError

OPSET = 17


def _onnx():
    try:
        import onnx
    except ImportError:
        raise CharRNNError("exporting ONNX needs the onnx package: "
                           "pip install 'charrnn[onnx]'") from None
    return onnx


VERSION = 2  # 2: the text format (1 had "opening" and a "corpus" of {"files": true})


def metadata(lm) -> dict:
    """What a program needs beside the graph to read and write text with it: the model,
    the vocabulary, how its corpus was read (`charrnn eval` reads a file the same way),
    the text format (`openings` says what to read before a text, per label) and the
    graph's inputs."""
    return {"format": "charrnn-onnx", "version": VERSION,
            "model": lm.model.config.to_dict(), "vocab": lm.vocab.to_dict(),
            "data": lm.record.data.to_dict(), "text_format": lm.record.text_format.manifest(),
            "inputs": ["ids", *lm.model.state_names]}


class _Graph:
    """Nodes and initializers, named as they are added."""

    def __init__(self, onnx):
        self.onnx, self.helper = onnx, onnx.helper
        self.nodes, self.inits, self.count = [], [], 0

    def const(self, array: np.ndarray, name: str | None = None) -> str:
        name = name or f"const{len(self.inits)}"
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, kind: str, *inputs: str, **attrs) -> str:
        self.count += 1
        out = f"{kind.lower()}{self.count}"
        self.nodes.append(self.helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def slice(self, x: str, start: int, end: int, axis: int) -> str:
        return self.op("Slice", x, self.const(np.array([start], np.int64)),
                       self.const(np.array([end], np.int64)),
                       self.const(np.array([axis], np.int64)))

    def linear(self, x: str, weight: np.ndarray, bias: np.ndarray | None, name: str) -> str:
        """x @ weight.T (+ bias)."""
        out = self.op("MatMul", x, self.const(np.ascontiguousarray(weight.T), name + ".T"))
        return out if bias is None else self.op("Add", out, self.const(bias, name + ".bias"))


def onnx_bytes(lm) -> bytes:
    """`lm`'s step as a serialised ONNX model (see the module doc)."""
    onnx = _onnx()
    helper, TP = onnx.helper, onnx.TensorProto
    model, cfg = lm.model, lm.model.config
    w = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    g = _Graph(onnx)
    n, cell = cfg.hidden_size, cfg.model
    x = g.op("Gather", g.const(w["embed.weight"], "embed"), "ids", axis=0)
    label_out = None
    if model.labels:  # the label in force: a label symbol's, else the one carried in
        first = lm.record.text_format.first_label
        is_label = g.op("GreaterOrEqual", "ids", g.const(np.array(first, np.int64)))
        own = g.op("Sub", "ids", g.const(np.array(first - 1, np.int64)))
        carried = g.op("Cast", g.op("Reshape", "label", g.const(np.array([-1], np.int64))),
                       to=TP.INT64)
        code = g.op("Where", is_label, own, carried)
        x = g.op("Add", x, g.op("Gather", g.const(w["label_embed.weight"], "label_embed"),
                                code, axis=0))
        label_out = g.op("Reshape", g.op("Cast", code, to=TP.FLOAT),
                         g.const(np.array([1, -1, 1], np.int64)))
    hs, cs = [], []
    for k in range(cfg.num_layers):
        h = g.op("Squeeze", g.slice("h", k, k + 1, 0), g.const(np.array([0], np.int64)))
        gi = g.linear(x, w[f"rnn.weight_ih_l{k}"], w[f"rnn.bias_ih_l{k}"], f"ih{k}")
        gh = g.linear(h, w[f"rnn.weight_hh_l{k}"], w[f"rnn.bias_hh_l{k}"], f"hh{k}")
        if cell == "lstm":
            c = g.op("Squeeze", g.slice("c", k, k + 1, 0), g.const(np.array([0], np.int64)))
            gates = g.op("Add", gi, gh)
            i, f, cand, o = (g.slice(gates, j * n, (j + 1) * n, 1) for j in range(4))
            c_new = g.op("Add", g.op("Mul", g.op("Sigmoid", f), c),
                         g.op("Mul", g.op("Sigmoid", i), g.op("Tanh", cand)))
            h_new = g.op("Mul", g.op("Sigmoid", o), g.op("Tanh", c_new))
            cs.append(c_new)
        elif cell == "gru":
            r = g.op("Sigmoid", g.op("Add", g.slice(gi, 0, n, 1), g.slice(gh, 0, n, 1)))
            z = g.op("Sigmoid", g.op("Add", g.slice(gi, n, 2 * n, 1), g.slice(gh, n, 2 * n, 1)))
            cand = g.op("Tanh", g.op("Add", g.slice(gi, 2 * n, 3 * n, 1),
                                     g.op("Mul", r, g.slice(gh, 2 * n, 3 * n, 1))))
            h_new = g.op("Add", cand, g.op("Mul", z, g.op("Sub", h, cand)))  # (1-z)n + zh
        else:
            h_new = g.op("Tanh", g.op("Add", gi, gh))
        hs.append(h_new)
        x = h_new
    logits = g.linear(x, w["head.weight"], w["head.bias"], "head")
    if model.label_heads is not None:  # the label's own output correction (`LabelHeads`)
        heads = g.op("Gather", g.const(w["label_heads.weight"], "label_heads"), code, axis=0)
        column = g.op("Unsqueeze", x, g.const(np.array([2], np.int64)))  # (batch, hidden, 1)
        delta = g.op("Squeeze", g.op("MatMul", heads, column), g.const(np.array([2], np.int64)))
        bias = g.op("Gather", g.const(w["label_heads.bias"], "label_heads.bias"), code, axis=0)
        logits = g.op("Add", logits, g.op("Add", delta, bias))
    state_out = {"h": lambda: _stacked(g, hs), "c": lambda: _stacked(g, cs),
                 "label": lambda: label_out}
    outputs = {"logprobs": g.op("LogSoftmax", logits, axis=1),
               **{f"{name}_out": state_out[name]() for name in model.state_names}}
    for name, value in outputs.items():
        g.nodes.append(helper.make_node("Identity", [value], [name]))
    layers = ["layers", "batch", n]
    shapes = {"h": layers, "c": layers, "label": [1, "batch", 1]}
    shapes |= {f"{name}_out": shape for name, shape in shapes.items()}
    shapes["logprobs"] = ["batch", len(lm.vocab)]
    inputs = [helper.make_tensor_value_info("ids", TP.INT64, ["batch"]),
              *(helper.make_tensor_value_info(name, TP.FLOAT, shapes[name])
                for name in model.state_names)]
    graph = helper.make_graph(
        g.nodes, "charrnn_step", inputs,
        [helper.make_tensor_value_info(k, TP.FLOAT, shapes[k]) for k in outputs],
        initializer=g.inits)
    built = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="charrnn")
    built.ir_version = 8  # what onnxruntime releases of the last years all read
    helper.set_model_props(built, {"charrnn": json.dumps(metadata(lm), ensure_ascii=False)})
    onnx.checker.check_model(built)
    return built.SerializeToString()


def _stacked(g: _Graph, layers: list[str]) -> str:
    """[batch, hidden] per layer -> [layers, batch, hidden]."""
    axis = g.const(np.array([0], np.int64))
    parts = [g.op("Unsqueeze", h, axis) for h in layers]
    return parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=0)
