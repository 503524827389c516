"""What the commands share: option types, help panels, and the one-line error wrapper.

Option defaults come from the config dataclasses, and range checks live in the library,
so `--help`, the Python API and the CLI cannot disagree.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from charrnn.config import (
    BeamConfig,
    Constraints,
    DataConfig,
    ModelConfig,
    SampleConfig,
    TrainConfig,
)
from charrnn.errors import CharRNNError
from charrnn.interface import display
from charrnn.paths import is_file

# every option's default, read from the config dataclasses (the one declaration)
DEFAULT_MODEL, DEFAULT_TRAIN, DEFAULT_DATA = ModelConfig(), TrainConfig(), DataConfig()
DEFAULT_SAMPLE, DEFAULT_BEAM, DEFAULT_CONSTRAINTS = SampleConfig(), BeamConfig(), Constraints()
DATA, MODEL, OPTIM, OUTPUT, HARDWARE = "Data", "Model", "Optimisation", "Output", "Hardware"
CheckpointOption = Annotated[Path | None, typer.Option(
    help="Checkpoint file or run folder (a folder means its best checkpoint). "
         "Default: the most recently trained run under checkpoints/.",
    show_default=False)]
LengthOption = Annotated[int, typer.Option(help="Characters to generate after the prime.")]
PrimeOption = Annotated[str, typer.Option(
    help="Text to continue (printed first). Empty: start as at the beginning of a text.")]
LabelOption = Annotated[str | None, typer.Option(
    help="A model of labelled files: write in this label's style (charrnn info lists "
         "them). Default: the label most of its training files carry.", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
WeightsOption = Annotated[Literal["fp32", "fp16", "int8"], typer.Option(
    help="Precision of the decoding weights: fp32 is exact; fp16 and int8 are faster and "
         "slightly approximate (their cost in bits/char is in docs/decoding.md).")]
StopOption = Annotated[list[str] | None, typer.Option(
    help="End a text right after this string (repeatable). Escapes like \\n are understood.",
    show_default=False, parser=lambda s: s.encode("latin-1", "backslashreplace")
    .decode("unicode_escape"))]


ParticlesOption = Annotated[int | None, typer.Option(
    help="Draw each constrained text by this many weighted rows (sequential Monte Carlo): "
         "from the model's own distribution given the constraints, not a masked one "
         "(1: masked, fastest; at most 1024). Default: 64 where it applies (a temperature "
         "above 0, no --stop, no --repetition-penalty), else 1.",
    rich_help_panel="Constraints", show_default=False)]


def unescape(text: str) -> str:
    """Typed text with the escapes \\n, \\t and \\\\ turned into what they name."""
    return re.sub(r"\\([nt\\])", lambda m: {"n": "\n", "t": "\t"}.get(m[1], "\\"), text)


def one_line_errors(command):
    """Turn library errors into one stderr line and a non-zero exit, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CharRNNError as exc:
            display.error(exc.in_terms_of(display.option_name))
            raise typer.Exit(1) from None
        except KeyboardInterrupt as exc:
            display.error("interrupted")
            raise typer.Exit(128 + getattr(exc, "signum", 2)) from None
        except BrokenPipeError:
            sys.stderr.close()
            raise typer.Exit(1) from None

    return wrapper


def load_model(checkpoint: Path | None, weights: str = "fp32"):
    """The `LanguageModel` a decoding command works with: `--checkpoint`, or the newest
    run (and then it says which)."""
    from charrnn.api.language_model import LanguageModel
    from charrnn.model import checkpoint as ckpt
    from charrnn.model import runs

    if checkpoint is not None and checkpoint.suffix == ".onnx" and is_file(checkpoint):
        from charrnn.export.onnx_model import load_onnx

        return load_onnx(checkpoint, weights)
    path = runs.resolve(checkpoint)
    if checkpoint is None:
        display.info(f"using checkpoint {path}")
    return LanguageModel.from_checkpoint(ckpt.load(path), weights)
