"""`charrnn export`: a trained model as a web page, a JavaScript module or an ONNX graph."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from charrnn.interface.options import load_model, one_line_errors

SUFFIXES = {"web": "html", "js": "js", "onnx": "onnx"}


@one_line_errors
def export(
    model: Annotated[Path | None, typer.Argument(
        help="Checkpoint file, run folder, or a model that ships with charrnn (english, "
             "english-small). "
             "Default: the most recently trained run.", show_default=False)] = None,
    format: Annotated[Literal["web", "js", "onnx"], typer.Option(
        "--format", help="web: one HTML page that writes in the browser, offline; js: a "
                         "module for Node or a page; onnx: a one-step graph for onnxruntime.")
    ] = "web",
    out: Annotated[Path | None, typer.Option(
        help="The file to write (refused if it exists, unless --force). Default: the "
             "model's name with the format's suffix (.html, .js, .onnx) in this folder.",
        show_default=False)] = None,
    weights: Annotated[Literal["fp32", "fp16", "int8"], typer.Option(
        help="Precision of the stored weight matrices (web and js): fp16 and int8 make a "
             "smaller file; the loss they cost is printed.")] = "fp32",
    force: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
) -> None:
    """Take a trained model where Python is not: one self-contained web page (no server,
    opens from file://), a JavaScript module, or an ONNX graph."""
    from charrnn.export import export as export_model
    from charrnn.export.bundle import model_name

    lm = load_model(model)
    if out is None:
        out = Path(f"{model_name(lm)}.{SUFFIXES[format]}")
    done = export_model(lm, format, out, weights, force)
    cost = (f"; {done.weights} weights cost {done.cost_bits:+.5f} bits/char on "
            f"{done.cost_chars:,} characters the model wrote" if done.weights != "fp32" else "")
    print(f"wrote {done.path} ({done.bytes / 1e6:.2f} MB, {done.format}{cost})")
