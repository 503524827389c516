"""Export: a trained model taken where Python and PyTorch are not: a JavaScript module,
one self-contained web page, or an ONNX graph. Above the API (it reads a LanguageModel),
below the interface.

    bundle.py       the model as a manifest and weight bytes (fp32, fp16 or int8)
    runtime.js      the inference step, sampler and session in plain JavaScript
    javascript.py   the module (`js`) and the page (`web`) around the runtime
    wasm_kernel.py  the runtime's matrix-vector product as WebAssembly SIMD bytes, assembled
                    from its source, the text matvec.wat
    page.html       the exported writing page; writing.css and suggestions.js are what
                    it shares with the served page (`interface/serve`)
    onnx_graph.py   the one-step ONNX graph (`onnx`)
    onnx_model.py   an exported graph loaded back, for scoring with `charrnn eval`
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from charrnn.atomic import atomic_writer
from charrnn.config import check_weights, setting_error

FORMATS = ("web", "js", "onnx")


@dataclass(frozen=True)
class Exported:
    """What `export` wrote: the file, its size, and the weights' precision with the loss
    it costs in bits per character (measured on text the model wrote; 0 for fp32)."""

    path: Path
    format: str
    bytes: int
    weights: str
    cost_bits: float
    cost_chars: int


def export(lm, format: str, out: str | Path, weights: str = "fp32",
           force: bool = False) -> Exported:
    """Write `lm` as `format` ("web", "js" or "onnx") to `out`, all at once or not at all.
    An `out` that exists is refused without `force`; one in a missing folder is refused."""
    from charrnn.export.bundle import bundle_of, weights_cost

    if format not in FORMATS:
        raise setting_error(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    check_weights(weights)
    if format == "onnx" and weights != "fp32":
        raise setting_error("an ONNX graph keeps fp32 weights; --weights is for web and js")
    out = Path(out)
    if not out.parent.is_dir():
        raise setting_error(f"cannot write {out}: the folder {out.parent} does not exist")
    if out.is_dir():
        raise setting_error(f"cannot write {out}: it is a folder")
    if out.exists() and not force:
        raise setting_error(f"{out} exists; pass --force to replace it")
    bundle = bundle_of(lm, weights)
    if format == "onnx":
        from charrnn.export.onnx_graph import onnx_bytes

        data = onnx_bytes(lm)
    else:
        from charrnn.export.javascript import module_source, page_source

        data = (page_source(bundle) if format == "web" else module_source(bundle)).encode()
    cost, chars = weights_cost(lm, bundle) if weights != "fp32" else (0.0, 0)
    with atomic_writer(out) as handle:
        handle.write(data)
    return Exported(out, format, len(data), weights, cost, chars)
