"""An exported ONNX graph loaded back as a `LanguageModel` whose every step runs in
onnxruntime, so `charrnn eval --checkpoint model.onnx` (and sample, beam, classify)
check the export with the same tools as the checkpoint it came from.

A .onnx file may come from anyone, so it is read as a hostile checkpoint is: its graph
only (a tensor whose bytes live in another file is refused, since "another file" can be
any file beside it), its metadata checked before use, every size it states compared
with the arrays it holds before anything of that size is made, and one probe step run;
anything wrong is one `CheckpointError` line.

Its text format (`TextFormat.manifest()`, under "text_format") is checked against its
vocabulary, its model and its data settings, and its first label and openings must be
what its fields make. A file exported before the format was written (it has "opening"
and, for many files, "corpus": {"files": true}) gets the format its vocabulary and
settings make, as a checkpoint written before formats were stored.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import torch

from charrnn.config import DataConfig, ModelConfig
from charrnn.data.text_format import TextFormat
from charrnn.data.vocab import Vocab, vocab_from_dict
from charrnn.errors import CharRNNError, CheckpointError
from charrnn.model.network import CharRNN
from charrnn.model.record import CorpusRecord, RunRecord

# The oldest onnx trusted with a file charrnn did not write (pyproject.toml asks for the
# same). Every release before 1.21.0 lets a graph's external data reach files outside its
# folder: "../" (CVE-2022-25882, fixed in 1.13.0), "a/../../" (CVE-2024-27318, fixed in
# 1.16.0), then symbolic links, hard links and unchecked keys (CVE-2026-27489,
# CVE-2026-34447, CVE-2026-34446, CVE-2026-34445, all fixed in 1.21.0). This module follows
# no external data at all; the floor keeps the onnx it imports free of those holes too.
ONNX_FLOOR = (1, 21)


class OnnxStep:
    """The decoder's one-character step (`charrnn.decoding.inference_step.InferenceStep`'s
    interface) through an onnxruntime session of the exported graph."""

    weights = "onnx"  # never "fp32": whole texts are stepped too (`Decoder.feed`)

    def __init__(self, session, inputs: list[str]):
        self.session, self.inputs = session, inputs

    def __call__(self, ids: torch.Tensor, state):
        logprobs, new = self.advance(ids.numpy(), tuple(s.numpy() for s in state))
        return torch.from_numpy(logprobs), tuple(torch.from_numpy(a) for a in new)

    def advance(self, idx: np.ndarray, state: tuple[np.ndarray, ...]):
        feed = {"ids": np.ascontiguousarray(idx, dtype=np.int64)}
        feed |= {name: np.ascontiguousarray(s, dtype=np.float32)
                 for name, s in zip(self.inputs[1:], state, strict=True)}
        logprobs, *new = self.session.run(None, feed)
        return logprobs, tuple(new)


def load_onnx(path: str | Path, weights: str = "fp32"):
    """The `LanguageModel` of an exported graph (its metadata gives the vocabulary and
    the opening; its initializers the weights of `lm.model`, for code that reads them);
    a file that is not one, or was crafted, is one line."""
    from charrnn.api.language_model import LanguageModel

    path = Path(path)
    onnx, onnxruntime = _packages()
    if weights != "fp32":
        raise CharRNNError("an ONNX model runs as it was exported; leave --weights out")
    try:
        built = _graph(onnx, path)
        meta = _metadata(built)
        config, vocab = ModelConfig.from_dict(meta["model"]), vocab_from_dict(meta["vocab"])
        model = _model(built, config, len(vocab))
        step = _step(onnxruntime, built, model, meta["inputs"])
        data = _data(meta["data"], vocab.level)
        if meta["text_format"] is None:  # exported before the format was written
            # its corpus as written: {"files": true} for files learned as one stream
            record = RunRecord(config, vocab, data, corpus=CorpusRecord.from_dict(meta["corpus"]))
        else:
            text_format = _text_format(meta["text_format"], vocab, model, data)
            record = RunRecord(config, vocab, data, text_format=text_format)
    except OSError as exc:
        raise CheckpointError(f"cannot load {path}: {exc.strerror or exc}") from None
    except CharRNNError as exc:
        raise CheckpointError(f"cannot load {path}: {exc}") from None
    except Exception as exc:  # onnx's and onnxruntime's own errors (protobuf, graph)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"cannot load {path}: {first}") from None
    return LanguageModel(model, vocab, record, path, step_fn=step)


def _data(saved: dict, level: str) -> DataConfig:
    """How the model's corpus was read, from the metadata: whole since this release, a
    part of it (or nothing) in earlier exports, the rest then as the defaults."""
    known = {f.name for f in dataclasses.fields(DataConfig)}
    return DataConfig.from_dict({**DataConfig(level=level).to_dict(),
                                 **{k: v for k, v in saved.items() if k in known}})


def _text_format(saved: dict, vocab: Vocab, model: CharRNN, data: DataConfig) -> TextFormat:
    """The file's text format, once it matches its vocabulary (`TextFormat.from_dict`),
    its network's label vectors and its data settings, and its first label and openings
    are exactly what its fields make (what another program reads is what charrnn reads)."""
    try:
        made = TextFormat.from_dict(saved, vocab, data.documents, model.config.label_input)
    except CharRNNError:
        made = None
    if made is None \
            or json.dumps(made.manifest(), sort_keys=True) != json.dumps(saved, sort_keys=True):
        raise CharRNNError("its text_format does not match its vocabulary, model and data")
    return made


def _packages():
    """onnx and onnxruntime, refusing an onnx older than `ONNX_FLOOR`."""
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise CharRNNError("reading an ONNX model needs onnx and onnxruntime: "
                           "pip install 'charrnn[onnx]'") from None
    release = tuple(int(n) for n in re.findall(r"\d+", onnx.__version__)[:2])
    if release < ONNX_FLOOR:
        floor = ".".join(map(str, ONNX_FLOOR))
        raise CharRNNError(f"reading an ONNX model needs onnx >= {floor} (this is "
                           f"{onnx.__version__}, whose external data can reach any file): "
                           "pip install -U 'charrnn[onnx]'")
    return onnx, onnxruntime


def _graph(onnx, path: Path):
    """The file's graph, its external-data references left unfollowed and refused: a
    crafted graph names a file beside it, and that file's bytes would become weights
    (and, exported, a page)."""
    built = onnx.load(str(path), load_external_data=False)
    for tensor in _tensors(built):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            raise CharRNNError(f"tensor {tensor.name[:60]!r} keeps its data in another "
                               "file (a charrnn export keeps all of it in the one file)")
    return built


def _tensors(built):
    """Every tensor in a model: its graph's, its functions' and their subgraphs'."""
    yield from _graph_tensors(built.graph)
    for function in built.functions:
        yield from _node_tensors(function.node)


def _graph_tensors(graph):
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    yield from _node_tensors(graph.node)


def _node_tensors(nodes):
    for node in nodes:
        for a in node.attribute:
            yield from [a.t, *a.tensors]
            for sparse in (a.sparse_tensor, *a.sparse_tensors):
                yield from (sparse.values, sparse.indices)
            for graph in (a.g, *a.graphs):
                yield from _graph_tensors(graph)


def _metadata(built) -> dict:
    """The charrnn document of the graph, with only what a `LanguageModel` reads from it,
    each part checked: its model and vocabulary (checked by their readers), how its
    corpus was read, its text format (checked by `_text_format`; None in a file exported
    before it was written, whose corpus then says whether it was many files), and its
    graph's inputs (checked against the graph by `_step`)."""
    props = {p.key: p.value for p in built.metadata_props}
    if "charrnn" not in props:
        raise CharRNNError("not a charrnn ONNX export (no charrnn metadata)")
    try:
        meta = json.loads(props["charrnn"])
    except ValueError:
        raise CharRNNError("its charrnn metadata is not JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != "charrnn-onnx":
        raise CharRNNError("not a charrnn ONNX export")
    corpus, data = meta.get("corpus") or {}, meta.get("data") or {}
    text_format = meta.get("text_format")
    if not isinstance(corpus, dict) or not isinstance(data, dict) \
            or not isinstance(text_format, (dict, type(None))):  # (data: checked by DataConfig)
        raise CharRNNError("its charrnn metadata is malformed (its corpus, data or "
                           "text_format)")
    return {"corpus": {"files": corpus.get("files")}, "data": data,
            "text_format": text_format, "model": meta.get("model"),
            "vocab": meta.get("vocab"), "inputs": meta.get("inputs")}


_GRAPH_NAMES = {"embed.weight": "embed", "label_embed.weight": "label_embed",
                "head.weight": "head.T", "head.bias": "head.bias",
                "label_heads.weight": "label_heads", "label_heads.bias": "label_heads.bias"}


def _graph_name(key: str) -> str:
    """The initializer that holds the state dict's `key` (matrices stored transposed)."""
    if key in _GRAPH_NAMES:
        return _GRAPH_NAMES[key]
    kind, part, layer = re.fullmatch(r"rnn\.(weight|bias)_(ih|hh)_l(\d+)", key).groups()
    return f"{part}{layer}.T" if kind == "weight" else f"{part}{layer}.bias"


def _model(built, config: ModelConfig, vocab_size: int) -> CharRNN:
    """The network holding the graph's initializers. The shapes its config states are
    taken from a network on the meta device (no memory) and compared with the arrays
    in the file before the real one is made, so a crafted config allocates nothing."""
    from onnx import numpy_helper

    if config.vocab_size != vocab_size:
        raise CharRNNError(f"its vocabulary has {vocab_size} symbols but its model "
                           f"expects {config.vocab_size}")
    found = {t.name: t for t in built.graph.initializer}
    if config.num_layers > len(found):
        raise CharRNNError(f"its model has {config.num_layers} layers; its graph fewer")
    try:
        with torch.device("meta"):
            shapes = {k: tuple(v.shape) for k, v in CharRNN(config).state_dict().items()}
    except (RuntimeError, ValueError, OverflowError):
        raise CharRNNError("its model config states sizes no network can have") from None
    weights = {}
    for key, shape in shapes.items():
        name = _graph_name(key)
        if name not in found:
            raise CharRNNError(f"its graph lacks the weight {name!r}")
        array = numpy_helper.to_array(found[name])
        array = array.T if name.endswith(".T") else array
        if array.shape != shape:
            raise CharRNNError(f"its weight {name!r} is {array.shape}, not the {shape} "
                               "its model config states")
        weights[key] = torch.from_numpy(np.array(array, dtype=np.float32))
    model = CharRNN(config)
    model.load_state_dict(weights, strict=True)
    return model


def _step(onnxruntime, built, model: CharRNN, listed) -> OnnxStep:
    """The graph's step, once its inputs and outputs are the model's (and its inputs the
    ones its metadata `listed` for other programs) and one probe step from zero state
    gives the model's shapes (a graph that does not fails here, not in
    the middle of a sample)."""
    session = onnxruntime.InferenceSession(built.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    inputs = ["ids", *model.state_names]
    outputs = ["logprobs", *(f"{name}_out" for name in model.state_names)]
    if listed != inputs or [i.name for i in session.get_inputs()] != inputs or \
            [o.name for o in session.get_outputs()] != outputs:
        raise CharRNNError(f"its graph does not take ({', '.join(inputs)}) and give "
                           f"({', '.join(outputs)}) as its model's step does")
    step = OnnxStep(session, inputs)
    state = tuple(s.detach().numpy() for s in model.initial_state(2))
    logprobs, new = step.advance(np.zeros(2, np.int64), state)
    if logprobs.shape != (2, model.config.vocab_size) or \
            [a.shape for a in new] != [s.shape for s in state]:
        raise CharRNNError("its graph's outputs do not have its model's shapes")
    return step
