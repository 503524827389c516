"""A trained model as a bundle another runtime can read: a manifest (the network's shape,
the vocabulary, the text format with each label's opening, the sampling defaults and
their bounds) and the weights' bytes, each matrix in fp32, fp16 or int8 (a row of int8
values and the row's scale, from the decoder's own quantiser), biases always fp32.

The JavaScript runtime (`runtime.js`) reads exactly this; it is also what `--weights`
changes, so the loss that a smaller file costs is measured here, on the bundle's own
weights read back (`weights_cost`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from charrnn.config import LENGTH, SAMPLE_BOUNDS, WRITING_LENGTH, SampleConfig, check_weights
from charrnn.decoding.matmul_routes import int8_rows
from charrnn.model import runs
from charrnn.model.network import CharRNN

FORMAT = "charrnn-model"
VERSION = 2  # 2: the text format and the sampling rules in the manifest


@dataclass(frozen=True)
class Bundle:
    """A manifest (JSON-ready) and the bytes its `tensors` entries point into."""

    manifest: dict[str, Any]
    data: bytes


def bundle_of(lm, weights: str = "fp32") -> Bundle:
    """`lm`'s network and vocabulary as a bundle with its matrices in `weights`."""
    check_weights(weights)
    model, vocab, text_format = lm.model, lm.vocab, lm.record.text_format
    cfg = model.config
    tensors, chunks, offset = {}, [], 0
    for name, value in model.state_dict().items():
        spec, raw = _packed(value.detach().float().cpu().numpy(), weights)
        tensors[name] = {**spec, "offset": offset, "bytes": len(raw)}
        chunks.append(raw)
        offset += len(raw)
    manifest = {
        "format": FORMAT, "version": VERSION, "name": model_name(lm), "weights": weights,
        "cell": cfg.model, "layers": cfg.num_layers, "hidden": cfg.hidden_size,
        "embed": cfg.embed_size, "vocab_size": len(vocab), "label_vectors": model.labels,
        "vocab": {"level": vocab.level,
                  **({"chars": "".join(vocab.chars)} if vocab.level == "char" else {})},
        "text_format": text_format.manifest(), "sampling": sampling_rules(),
        "tensors": tensors,
    }
    if not text_format.openings()[""]:  # nothing read first: the corpus's frequencies
        manifest["first_logprobs"] = [round(float(x), 7) for x in lm.decoder.first_logprobs]
    return Bundle(manifest, b"".join(chunks))


def sampling_rules() -> dict[str, dict[str, Any]]:
    """Each sampling setting's default and bound (`charrnn.config`), by its Python name:
    what the runtime fills in and checks, so it refuses what `lm.sample` refuses."""
    defaults = SampleConfig()
    rules = {name: {"default": getattr(defaults, name), **bound.to_dict()}
             for name, bound in SAMPLE_BOUNDS.items()}
    return {"length": {"default": WRITING_LENGTH, **LENGTH.to_dict()}, **rules}


def model_name(lm) -> str:
    """What a page (and a default file name) calls the model: its run folder's name, a
    shipped model's own, or an exported graph's file name."""
    if lm.path is None:
        return "model"
    path = Path(lm.path).resolve()
    if path.suffix == ".onnx":
        return path.stem
    return runs.run_name(path) or path.stem


def _packed(array: np.ndarray, weights: str) -> tuple[dict[str, Any], bytes]:
    """One tensor's spec and bytes: matrices in `weights`, vectors in fp32 (4-byte
    aligned, so a runtime can view them in place)."""
    shape = list(array.shape)
    if array.ndim < 2 or weights == "fp32":
        return {"dtype": "f32", "shape": shape}, array.astype("<f4").tobytes()
    if weights == "fp16":
        raw = array.astype("<f2").tobytes()
        return {"dtype": "f16", "shape": shape}, raw + b"\0" * (-len(raw) % 4)
    values, scales = int8_rows(array.reshape(-1, shape[-1]))
    q = values.tobytes()
    return ({"dtype": "i8", "shape": shape},
            q + b"\0" * (-len(q) % 4) + scales.astype("<f4").tobytes())


def read_back(bundle: Bundle) -> dict[str, torch.Tensor]:
    """The bundle's weights as the runtime reads them (fp16 widened, int8 rows times
    their scales): what the loss of a smaller file is measured on."""
    out = {}
    for name, spec in bundle.manifest["tensors"].items():
        raw = bundle.data[spec["offset"] : spec["offset"] + spec["bytes"]]
        count = math.prod(spec["shape"])
        if spec["dtype"] == "f32":
            values = np.frombuffer(raw, "<f4", count)
        elif spec["dtype"] == "f16":
            values = np.frombuffer(raw, "<f2", count).astype(np.float32)
        else:
            rows = count // spec["shape"][-1]
            q = np.frombuffer(raw, np.int8, count).astype(np.float32)
            scales = np.frombuffer(raw, "<f4", rows, offset=-(-count // 4) * 4)
            values = (q.reshape(rows, -1) * scales[:, None]).reshape(-1)
        out[name] = torch.from_numpy(values.copy()).view(spec["shape"])
    return out


def weights_cost(lm, bundle: Bundle, chars: int = 2000, seed: int = 0) -> tuple[float, int]:
    """(bits per character the bundle's weights lose, characters scored): both the
    checkpoint's weights and the bundle's score the same text, `chars` characters the
    model itself writes at temperature 1 (from `seed`)."""
    text = lm.sample(chars, temperature=1.0, seed=seed)
    ids = lm.codec.encode(text)
    if ids.numel() < 2:
        return 0.0, int(ids.numel())
    opening = lm.record.text_format.opening(torch.zeros(0, dtype=torch.long))
    read = torch.cat([opening, ids])[None, :]
    copy = CharRNN(lm.model.config)
    losses = []
    for model in (lm.model, copy):
        if model is copy:
            model.load_state_dict(read_back(bundle))
        model.eval()
        with torch.no_grad():
            logits, _ = model(read, model.initial_state(1))
        logprobs = torch.log_softmax(logits[0, -ids.numel() : -1].double(), dim=-1)
        losses.append(-float(logprobs.gather(1, ids[1:, None]).mean()))
    return (losses[1] - losses[0]) / math.log(2), int(ids.numel()) - 1
