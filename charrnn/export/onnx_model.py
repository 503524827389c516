"""An exported ONNX graph loaded back as a `LanguageModel` whose every step runs in
onnxruntime, so `charrnn eval --checkpoint model.onnx` (and sample, beam, classify)
check the export with the same tools as the checkpoint it came from.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from charrnn.config import ModelConfig
from charrnn.data.vocab import vocab_from_dict
from charrnn.errors import CharRNNError, CheckpointError
from charrnn.model.network import CharRNN


class OnnxStep:
    """The decoder's one-character step (`charrnn.decoding.step.InferenceStep`'s
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
    a file that is not one is one line."""
    from charrnn.api.language_model import LanguageModel

    path = Path(path)
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise CharRNNError("reading an ONNX model needs onnx and onnxruntime: "
                           "pip install 'charrnn[onnx]'") from None
    if weights != "fp32":
        raise CharRNNError("an ONNX model runs as it was exported; leave --weights out")
    try:
        built = onnx.load(str(path))
        props = {p.key: p.value for p in built.metadata_props}
        meta = json.loads(props["charrnn"])
        config = ModelConfig.from_dict(meta["model"])
        vocab = vocab_from_dict(meta["vocab"])
        session = onnxruntime.InferenceSession(built.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"cannot load {path}: not a charrnn ONNX export ({exc})") from None
    except Exception as exc:  # onnx's and onnxruntime's own errors (protobuf, graph)
        raise CheckpointError(f"cannot load {path}: {str(exc).splitlines()[0]}") from None
    model = CharRNN(config)
    model.load_state_dict(_weights(built, model), strict=True)
    lm_meta = {"corpus": meta.get("corpus") or {}, "data": meta.get("data") or {},
               "model": meta["model"], "vocab": meta["vocab"]}
    return LanguageModel(model, vocab, lm_meta, path,
                         step_fn=OnnxStep(session, meta["inputs"]))


def _weights(built, model: CharRNN) -> dict[str, torch.Tensor]:
    """The graph's initializers as the model's state dict (matrices stored transposed)."""
    from onnx import numpy_helper

    found = {t.name: numpy_helper.to_array(t) for t in built.graph.initializer}
    names = {"embed.weight": "embed", "label_embed.weight": "label_embed",
             "head.weight": "head.T", "head.bias": "head.bias"}
    for k in range(model.config.num_layers):
        names |= {f"rnn.weight_ih_l{k}": f"ih{k}.T", f"rnn.bias_ih_l{k}": f"ih{k}.bias",
                  f"rnn.weight_hh_l{k}": f"hh{k}.T", f"rnn.bias_hh_l{k}": f"hh{k}.bias"}
    out = {}
    for key in model.state_dict():
        array = found[names[key]]
        out[key] = torch.from_numpy(np.array(array.T if names[key].endswith(".T") else array))
    return out
