"""`charrnn explain`, `neurons` and `gradients`: seeing inside a trained model, as a
page (self-contained HTML), a picture (PNG) or JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer

from charrnn.atomic import write_atomic
from charrnn.errors import ConfigError
from charrnn.interface import display
from charrnn.interface.options import CheckpointOption, JsonOption, one_line_errors
from charrnn.paths import is_file

MAX_CHARS = 20_000
OutOption = Annotated[Path | None, typer.Option(
    help="Write the page here: .html (self-contained, opens offline) or .png.",
    show_default=False)]
FileOption = Annotated[Path | None, typer.Option(
    "--file", help="Read the text from this file instead.", show_default=False)]
MaxCharsOption = Annotated[int, typer.Option(
    help="Read at most this many characters (the page shows every one).")]


def _text(lm, text: str | None, file: Path | None, max_chars: int) -> tuple[str, bool]:
    """The text asked for (an argument or --file, not both), capped at max_chars."""
    if (text is None) == (file is None):
        raise ConfigError("give a TEXT or --file (one of them)")
    if file is not None:
        return lm.read_file(file, max_chars)
    if not text:
        raise ConfigError("TEXT is empty")
    if max_chars < 1:
        raise ConfigError(f"--max-chars must be >= 1, not {max_chars}")
    return text[:max_chars], len(text) > max_chars


def _kind(out: Path | None) -> str | None:
    if out is None:
        return None
    if out.suffix.lower() not in (".html", ".png"):
        raise ConfigError(f"--out must end in .html or .png, not {out.name!r}")
    return out.suffix.lower()[1:]


@one_line_errors
def explain(
    text: Annotated[str | None, typer.Argument(
        help="Text to read (or --file).", show_default=False)] = None,
    file: FileOption = None,
    checkpoint: CheckpointOption = None,
    out: OutOption = None,
    as_json: JsonOption = False,
    max_chars: MaxCharsOption = MAX_CHARS,
    top: Annotated[int, typer.Option(help="Predictions shown at each character.")] = 5,
) -> None:
    """How surprised the model is by each character: bits per character, the most
    surprising stretches, and (with --out) the text coloured by surprisal with the
    model's top predictions on hover."""
    from charrnn.interface.options import load_model

    kind = _kind(out)
    lm = load_model(checkpoint)
    read, truncated = _text(lm, text, file, max_chars)
    found = lm.explain(read, top)
    if not found.bits:
        raise ConfigError("the text holds no character to explain (no document in it)")
    figures = found.to_dict()
    finite = sorted(b for b in found.bits if math.isfinite(b)) or [1.0]
    scale = max(1.0, finite[int(0.98 * (len(finite) - 1))])  # the colour scale's top
    if kind == "html":
        from charrnn.interface.pages import render

        page = render("explain", {**figures, "model": _model_name(lm), "truncated": truncated,
                                  "scale_bits": scale})
        write_atomic(out, page.encode("utf-8"))
    elif kind == "png":
        from charrnn.interface.pictures import coloured_text

        coloured_text(found.chars, found.bits, out, label="surprisal (bits)", low=0.0,
                      high=scale,
                      title=f"{_model_name(lm)}: {found.bits_per_char:.3f} bits per character")
    if kind:
        display.info(f"wrote {out}")
    if as_json:
        print(json.dumps({**figures, "truncated": truncated}, ensure_ascii=False, indent=1))
    else:
        display.surprise_summary(figures, truncated)


def _model_name(lm) -> str:
    cfg = lm.model.config
    name = lm.path.parent.name if lm.path is not None else "the model"
    return f"{name} ({cfg.model} {cfg.num_layers}x{cfg.hidden_size})"


@one_line_errors
def gradients(
    checkpoint: Annotated[list[Path] | None, typer.Option(
        help="Checkpoint file or run folder (repeatable: one line each). Default: the "
             "most recently trained run.", show_default=False)] = None,
    untrained: Annotated[list[str] | None, typer.Option(
        help="Also a freshly initialised lstm, gru or rnn of the first checkpoint's shape "
             "(repeatable), to compare the cells before training.", show_default=False)] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", help="Text to measure on. Default: the first checkpoint's corpus.",
        show_default=False)] = None,
    max_k: Annotated[int, typer.Option(help="Steps back to measure (K).")] = 64,
    windows: Annotated[int, typer.Option(help="Windows of text averaged over.")] = 64,
    context: Annotated[int, typer.Option(
        help="Characters read before each window, so its state is a real one.")] = 100,
    max_chars: MaxCharsOption = 200_000,
    out: OutOption = None,
    as_json: JsonOption = False,
) -> None:
    """How far back the training signal reaches: the mean norm of d loss_t / d h_(t-k)
    for k = 0..K over windows of real text, for each model (the vanishing gradient)."""
    import torch

    from charrnn.config import CELLS, ModelConfig
    from charrnn.insight.reach import gradient_reach
    from charrnn.interface.options import load_model
    from charrnn.model.network import CharRNN

    kind = _kind(out)
    for cell in untrained or []:
        if cell not in CELLS:
            raise ConfigError(f"--untrained must be one of {', '.join(CELLS)}, not {cell!r}")
    lms = [load_model(c) for c in (checkpoint or [None])]
    first = lms[0]
    text = _measured_text(first, file, max_chars)
    ids = first.vocab.encode(text, "text")
    curves = {}
    for lm in lms:
        for other in lms:
            if other.vocab.chars != lm.vocab.chars:
                raise ConfigError("the checkpoints have different vocabularies: measure them "
                                  "one at a time")
        curves[_model_name(lm)] = gradient_reach(lm.model, ids, max_k, windows, context)
    for cell in untrained or []:
        torch.manual_seed(0)
        shape = first.model.config
        fresh = CharRNN(ModelConfig(model=cell, hidden_size=shape.hidden_size,
                                    num_layers=shape.num_layers, embed_size=shape.embed_size,
                                    dropout=0.0, vocab_size=len(first.vocab)))
        curves[f"untrained {cell} {shape.num_layers}x{shape.hidden_size}"] = gradient_reach(
            fresh, ids, max_k, windows, context)
    ks = list(range(max_k + 1))
    if kind is not None:
        _write_reach(out, kind, ks, curves)
        display.info(f"wrote {out}")
    if as_json:
        print(json.dumps({"k": ks, "curves": curves, "windows": windows, "context": context},
                         indent=1))
    else:
        display.reach_table(ks, curves)


def _measured_text(lm, file: Path | None, max_chars: int) -> str:
    if file is None:
        source = lm.record.corpus.source
        if not is_file(source):
            raise ConfigError("the checkpoint's corpus is not here: give the text with --file")
        file = Path(source)
    return lm.read_file(file, max_chars)[0]


def _write_reach(out: Path, kind: str, ks: list[int], curves: dict[str, list[float]]) -> None:
    from charrnn.interface.plot import plot_reach

    if kind == "png":
        plot_reach(ks, curves, out)
        return
    import base64
    import tempfile

    from charrnn.interface.pages import render

    with tempfile.TemporaryDirectory() as tmp:
        picture = plot_reach(ks, curves, Path(tmp) / "reach.png").read_bytes()
    page = render("gradients", {"k": ks, "curves": curves,
                                "png": base64.b64encode(picture).decode("ascii")})
    write_atomic(out, page.encode("utf-8"))


PAGE_CHARS = 5_000


@one_line_errors
def neurons(
    text: Annotated[str | None, typer.Argument(
        help="Text to read (or --file).", show_default=False)] = None,
    file: FileOption = None,
    checkpoint: CheckpointOption = None,
    feature: Annotated[list[str] | None, typer.Option(
        help="A feature of your own, name=REGEX: 1 inside the regex's matches (repeatable), "
             "e.g. 'comment=#.*$'.", show_default=False)] = None,
    best: Annotated[int, typer.Option(help="Cells shown per feature.")] = 5,
    cell: Annotated[str | None, typer.Option(
        help="The cell a .png draws, LAYER:INDEX (an LSTM's cell state; 1:h12 for its h), "
             "layers from 0. Default: the best cell of the first feature with one.",
        show_default=False)] = None,
    max_chars: MaxCharsOption = MAX_CHARS,
    out: OutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cells that mean something: every cell's activation over a text, ranked by its
    correlation with features a person can read (position in the line, quotes, bracket
    depth, words, indentation, line starts, and yours)."""
    from charrnn.insight.cells import neurons as find
    from charrnn.interface.options import load_model

    kind = _kind(out)
    if best < 1:
        raise ConfigError(f"--best must be >= 1, not {best}")
    lm = load_model(checkpoint)
    named = _cell_name(cell, lm.model.config.model) if cell else None
    read, truncated = _text(lm, text, file, max_chars)
    ids = lm.vocab.encode(read, "text")
    seen = read if lm.vocab.level != "byte" else \
        read.encode("utf-8", "surrogateescape").decode("latin-1")  # one symbol a byte
    cells, ranked = find(lm.model, seen, ids, feature, best)
    if kind is not None:
        chosen = named or _first_ranked(ranked)
        _write_cells(out, kind, lm, seen, cells, ranked, chosen)
        display.info(f"wrote {out}")
    if as_json:
        print(json.dumps({"chars": len(seen), "truncated": truncated, "cells": len(cells.names),
                          "ranked": {f: [{"cell": c, "r": r} for c, r in cells_r]
                                     for f, cells_r in ranked.items()}}, indent=1))
    else:
        display.neurons_table(ranked, len(cells.names), len(seen))


def _cell_name(cell: str, model: str) -> str:
    """LAYER:INDEX (c for an LSTM, else h) or LAYER:cINDEX / LAYER:hINDEX."""
    layer, sep, index = cell.partition(":")
    kind = index[:1] if index[:1] in ("c", "h") else ("c" if model == "lstm" else "h")
    number = index[1:] if index[:1] in ("c", "h") else index
    if not sep or not layer.isdigit() or not number.isdigit():
        raise ConfigError(f"--cell must look like 1:212 or 1:h212, not {cell!r}")
    return f"{int(layer)}:{kind}{int(number)}"


def _first_ranked(ranked: dict[str, list]) -> str:
    found = next((cells[0][0] for cells in ranked.values() if cells), None)
    if found is None:
        raise ConfigError("no feature varies over this text, so no cell is ranked: "
                          "name one with --cell, or give a longer text")
    return found


def _write_cells(out: Path, kind: str, lm, text: str, cells, ranked, chosen: str) -> None:
    values = cells.column(chosen)
    if kind == "png":
        from charrnn.interface.pictures import coloured_text

        top = float(abs(values).max()) or 1.0
        coloured_text(list(text), values.tolist(), out, label=f"cell {chosen}", low=-top,
                      high=top, colours="coolwarm", title=f"{_model_name(lm)}: cell {chosen}")
        return
    from charrnn.interface.pages import render

    shown = {c for cells_r in ranked.values() for c, _ in cells_r} | {chosen}
    page = render("neurons", {
        "model": _model_name(lm), "chars": list(text[:PAGE_CHARS]), "ranked": ranked,
        "cells": {c: [round(float(v), 3) for v in cells.column(c)[:PAGE_CHARS]]
                  for c in sorted(shown)}})
    write_atomic(out, page.encode("utf-8"))
