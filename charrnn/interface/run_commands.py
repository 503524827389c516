"""`charrnn info`, `list`, `plot` and `corpus`: runs and corpora, looked at and fetched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from charrnn.interface import display
from charrnn.interface.options import JsonOption, one_line_errors

FolderOption = Annotated[Path, typer.Option("--dir", help="Folder that holds corpora.")]

@one_line_errors
def info(
    checkpoint: Annotated[Path | None, typer.Argument(
        help="Run folder or checkpoint file. Default: the most recently trained run.",
        show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a run: its settings, vocabulary, size, progress, validation bpc and corpus."""
    from charrnn.model.runs import describe

    described = describe(checkpoint)
    if as_json:
        print(json.dumps(described, ensure_ascii=False, indent=2))
    else:
        display.run_details(described)


@one_line_errors
def plot(
    runs: Annotated[list[Path] | None, typer.Argument(
        help="Run folders to draw on one figure. Default: the most recently trained run.",
        show_default=False)] = None,
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("curves.png"),
) -> None:
    """Draw training and validation loss against time and characters seen, to a PNG."""
    from charrnn.interface.plot import plot_runs
    from charrnn.model.runs import newest_run

    folders = runs or [newest_run()]
    display.info(f"wrote {plot_runs(folders, out)}")


@one_line_errors
def list_runs(as_json: JsonOption = False) -> None:
    """The runs under checkpoints/, newest first."""
    from charrnn.model.runs import list_runs as run_descriptions

    runs = run_descriptions()
    if as_json:
        print(json.dumps(runs, ensure_ascii=False, indent=2))
    elif not runs:
        display.info("no runs under checkpoints/ yet; start one with: charrnn train")
    else:
        display.runs_table(runs)


@one_line_errors
def corpus_list(folder: FolderOption = Path("corpora")) -> None:
    """Show the known corpora and which are already in the corpora folder."""
    from charrnn.data import download

    display.corpus_table([(c, download.is_present(c, folder))
                          for c in download.REGISTRY.values()], folder)


@one_line_errors
def corpus_get(
    name: Annotated[str, typer.Argument(help="A name from 'charrnn corpus list'.")],
    folder: FolderOption = Path("corpora"),
    url: Annotated[str | None, typer.Option(
        help="Download from this address instead (a mirror); the checksum is still checked.",
        show_default=False)] = None,
) -> None:
    """Download a corpus (checksum checked, written atomically) into the corpora folder."""
    from charrnn.data import download

    with display.ByteBar(f"downloading {name}") as bar:
        path, fetched = download.fetch(name, folder, url, bar.update)
    display.info(f"{'saved' if fetched else 'already present, checksum verified:'} {path}; "
                 f"train on it with: charrnn train {path}")
