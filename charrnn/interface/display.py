"""Everything the user sees besides generated text: the only module that imports Rich.

Messages, progress and errors go to stderr; stdout is kept for results, so
`charrnn sample > out.txt` captures only the text.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from charrnn.config import format_duration
from charrnn.errors import in_terms
from charrnn.training.report import EvalDetail, RunInfo, SilentReporter, StepStats, TrainResult
from charrnn.units import bits

if TYPE_CHECKING:
    from charrnn.data.cache import PreparedCorpus

_PROGRESS_TICKS = 1000


def stderr_console() -> Console:
    """A console bound to the current sys.stderr (tests swap it), never at import time."""
    return Console(stderr=True, highlight=False)


def stdout_console() -> Console:
    """Results on stdout; 120 columns when piped, so tables are not cut to 80."""
    console = Console(file=sys.stdout, highlight=False)
    if not console.is_terminal:
        console = Console(file=sys.stdout, highlight=False, width=120)
    return console


_FLAGS = {"weights": "--weight"}  # settings whose flag is not their field name


def option_name(field: str) -> str:
    """A setting's field name as its command-line option: max_chars -> --max-chars."""
    return _FLAGS.get(field, "--" + field.replace("_", "-"))


def error(message: str) -> None:
    """One line on stderr: the CLI's whole response to a CharRNNError."""
    stderr_console().print(Text(f"error: {message}", style="bold red"), soft_wrap=True)


def info(message: str) -> None:
    stderr_console().print(Text(message, style="dim"), soft_wrap=True)


def warning(message: str) -> None:
    stderr_console().print(Text(f"warning: {message}", style="yellow"), soft_wrap=True)


def byte_progress(console: Console) -> Progress:
    """A transient bar for work measured in bytes (hashing, preparing, downloading).

    Off when stderr is not a terminal: a transient bar has nothing to leave in a log.
    """
    return Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
        TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=True,
        disable=not console.is_terminal,
    )


class PrepareProgress:
    """Shows the corpus cache being hashed, counted and encoded, then how long it took
    (nothing when not `shown`: the other processes of a distributed job)."""

    def __init__(self, shown: bool = True) -> None:
        self.console = stderr_console()
        self.progress = byte_progress(self.console)
        self.tasks: dict[str, int] = {}
        self.shown = shown

    def __enter__(self) -> PrepareProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, phase: str, done: int, total: int) -> None:
        if not self.shown:
            return
        if not self.tasks:
            self.progress.start()  # lazily: a bar that never showed leaves no blank line
        if phase not in self.tasks:
            self.tasks[phase] = self.progress.add_task(f"corpus: {phase}", total=total)
        self.progress.update(self.tasks[phase], completed=done)

    def done(self, corpus: PreparedCorpus) -> None:
        if not self.shown:
            return
        unit = "bytes" if corpus.data.level == "byte" else "characters"
        what = (f"{corpus.ids.numel():,} {unit}, vocabulary {len(corpus.vocab)}")
        if corpus.cached:
            line = f"corpus: {what}; cache found, ready in {corpus.seconds:.2f}s"
        else:
            rate = corpus.size_bytes / 1e6 / max(corpus.seconds, 1e-9)
            line = (f"corpus: {what}; cache prepared in {corpus.seconds:.2f}s "
                    f"({rate:,.0f} MB/s)")
        self.console.print(line, highlight=False, soft_wrap=True)


def _loss_text(nats: float) -> str:
    """A loss as people read it here: bits per character (the library keeps nats)."""
    return f"{bits(nats):.4f} bpc"


def _processes(info) -> str:
    if info.processes == 1:
        return ""
    first, end, total = info.streams
    return (f" per process, {info.processes} processes (rank 0 trains streams "
            f"{first}-{end - 1} of {total})")


def _hardware(info) -> str:
    threads = f"{info.threads} CPU thread{'s' if info.threads != 1 else ''}"
    if info.device == "cpu":
        return threads
    return f"{info.device} ({info.precision}), {threads}"


class RankLine(SilentReporter):
    """What a distributed job's other processes show: one line saying which streams
    they train (rank 0 shows the progress)."""

    def __init__(self, rank: int):
        self.rank = rank

    def on_start(self, info) -> None:
        first, end, total = info.streams
        info_line = (f"rank {self.rank} of {info.processes} trains streams {first}-{end - 1} "
                     f"of {total} on {_hardware(info)}")
        stderr_console().print(Text(info_line, style="dim"), soft_wrap=True)

    def stop(self) -> None: ...


class TrainProgress:
    """A Reporter that draws a Rich progress bar and prints evaluations as lines."""

    def __init__(self) -> None:
        self.console = stderr_console()
        self.progress = Progress(
            TextColumn("[bold]step {task.fields[step]}"),
            BarColumn(),
            TextColumn("train {task.fields[loss]}"),
            TextColumn("val {task.fields[val]} bpc"),
            TextColumn("{task.fields[speed]} chars/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.task = None
        self.total_steps: int | None = None

    def on_start(self, info: RunInfo) -> None:
        budget = []
        if info.total_steps is not None:
            budget.append(f"{info.total_steps} steps")
        if info.time_limit is not None:
            budget.append(format_duration(info.time_limit))
        unit = "bytes" if info.level == "byte" else "characters"
        documents = ""
        if info.documents is not None:
            documents = (f" in {info.documents[0]:,} documents (validation: "
                         f"{info.documents[1]:,}; padding {info.padding:.1%} of the batches)")
        self.console.print(
            f"training {info.parameters:,} parameters on {info.train_chars:,} {unit}"
            f"{documents} (vocabulary {info.vocab_size}, validation {info.val_chars:,}); "
            f"batch {info.batch_size} x {info.seq_len}{_processes(info)}; "
            f"budget {' or '.join(budget)}; {_hardware(info)}; "
            f"writing {info.run_dir}/"
            + (f"; resuming from step {info.resumed_from}" if info.resumed_from is not None
               else ""),
            highlight=False, soft_wrap=True,
        )
        if info.parent is not None and info.resumed_from is None:
            self.console.print(_parent_line(info.parent), highlight=False, soft_wrap=True)
        if info.sources:
            self.console.print(_sources_line(info.sources, info.labels, info.left_out),
                               highlight=False, soft_wrap=True)
        self.total_steps = info.total_steps
        self.progress.start()
        self.task = self.progress.add_task(
            "train", total=_PROGRESS_TICKS, step="0", loss="-", val="-", speed="-"
        )

    def on_step(self, stats: StepStats) -> None:
        step = f"{stats.step}" + (f"/{self.total_steps}" if self.total_steps else "")
        self.progress.update(
            self.task, completed=stats.fraction * _PROGRESS_TICKS, step=step,
            loss=f"{bits(stats.loss):.3f}", speed=f"{stats.chars_per_sec:,.0f}",
        )

    def on_eval(self, step: int, val_loss: float, improved: bool) -> None:
        self.progress.update(self.task, val=f"{bits(val_loss):.3f}")
        mark = " (best)" if improved else ""
        self.progress.console.print(
            f"step {step}: validation {_loss_text(val_loss)}{mark}", highlight=False
        )

    def on_detail(self, detail: EvalDetail) -> None:
        """Each source's validation loss, and the samples, under the evaluation line."""
        console = self.progress.console
        if detail.by_source:
            console.print("  by source: " + _by_source(detail.by_source), highlight=False,
                          soft_wrap=True)
        for style, text in detail.samples.items():  # a label's name, or "" for the one
            console.print(Text(f"  sample{_tagged(style)}: " + text.replace("\n", " \u21b5 "),
                               style="dim"), soft_wrap=True)

    def on_message(self, text: str) -> None:
        target = self.progress.console if self.task is not None else self.console
        target.print(Text(f"warning: {in_terms(text, option_name)}", style="yellow"),
                     soft_wrap=True)

    def on_end(self, result: TrainResult) -> None:
        self.progress.update(self.task, completed=_PROGRESS_TICKS)
        self.progress.stop()
        table = Table(title="training finished", show_header=False, title_justify="left")
        table.add_row("parameters", f"{result.parameters:,}")
        stopped = " (stopped early: no new best)" if result.stopped_early else ""
        table.add_row("steps", f"{result.steps:,} ({result.epochs:.2f} epochs){stopped}")
        table.add_row("time", format_duration(result.elapsed))
        table.add_row("characters seen", f"{result.chars_seen:,}")
        table.add_row("final validation", _loss_text(result.val_loss))
        if math.isfinite(result.best_val_loss):
            table.add_row("best validation", f"{_loss_text(result.best_val_loss)} "
                                              f"at step {result.best_step}")
        if result.by_source:
            table.add_row("final by source", _by_source(result.by_source))
        if result.zero_shot_loss is not None and math.isfinite(result.best_val_loss):
            before, after = result.zero_shot_loss, result.best_val_loss
            table.add_row(f"gain over {result.parent['name']}",
                          f"{bits(before):.3f} -> {bits(after):.3f} bpc "
                          f"({(before - after) / before:.1%} lower than before fine-tuning)")
        table.add_row("checkpoints", f"{result.run_dir}/")
        self.console.print(table)
        self.console.print(f"sample it: charrnn sample --checkpoint {result.run_dir}",
                           highlight=False, soft_wrap=True)

    def stop(self) -> None:
        """Stop drawing (after an error) so the error line is not overdrawn."""
        self.progress.stop()


def classification(result, what: str | None) -> None:
    """Each label's log-probability of a text, prior and posterior, the likeliest first."""
    table = Table(title=f"{what or 'text'}: most likely {result.label} "
                        f"({result.posteriors[result.label]:.1%})",
                  title_justify="left")
    table.add_column("label")
    for column in ("log-prob (nats)", "bits/char", "prior", "posterior"):
        table.add_column(column, justify="right")
    found = result.to_dict()
    for row in found["labels"]:
        table.add_row(row["label"], f"{row['logprob']:.2f}",
                      f"{-row['logprob'] / max(result.chars, 1) / math.log(2):.3f}",
                      f"{row['prior']:.1%}", f"{row['posterior']:.1%}")
    stdout_console().print(table)


def _by_source(losses: dict[str, float]) -> str:
    return ", ".join(f"{name} {bits(loss):.3f}" for name, loss in losses.items()) + " bits/char"


def _sources_line(sources: tuple, labels: tuple[str, ...], left_out: tuple[str, ...]) -> str:
    """Each source's share of training and its files, the labels learned, and the
    folders of charrnn's own that were not read."""
    shown = ", ".join(
        f"{s.name} {s.share:.0%} ({s.files} file{'s' * (s.files != 1)}, "
        + (f"{s.held_files} held out)" if s.held_files else "its end held out)")
        for s in sources)
    return f"sources: {shown}{_listed('; labels: ', labels)}{_listed('; left out: ', left_out)}"


def _listed(before: str, items: Sequence[str], after: str = "") -> str:
    """`before`, the items joined by commas, and `after`; "" when there are none."""
    return f"{before}{', '.join(items)}{after}" if items else ""


def _tagged(name: str) -> str:
    """" [name]", or "" for no name."""
    return f" [{name}]" if name else ""


def _parent_line(parent: dict) -> str:
    """A fine-tuning run's start: what it starts from, the characters new to that model,
    and how well that model already does on this text."""
    new = parent.get("new_symbols") or []
    shown = ", ".join("end of document" if c is None else repr(c) for c in new[:20])
    more = f" and {len(new) - 20} more" if len(new) > 20 else ""
    added = f"{len(new)} new symbol(s): {shown}{more}" if new else "no new characters"
    return (f"fine-tuning {parent['name']} (its step {parent.get('step')}); {added}; "
            f"its zero-shot validation: {_loss_text(parent['zero_shot_loss'])}")


class ByteBar:
    """A transient bar for reading or downloading one file; `update(done, total)`."""

    def __init__(self, label: str) -> None:
        self.progress = byte_progress(stderr_console())
        self.label = label
        self.task: int | None = None

    def __enter__(self) -> ByteBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, done: int, total: int | None) -> None:
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total)
        self.progress.update(self.task, completed=done)


def corpus_table(rows: list[tuple[Any, bool]], folder: Path) -> None:
    """Known corpora on stdout: name, size, whether present in `folder`, description."""
    table = Table()
    for column in ("name", "size", f"in {folder}/", "description"):
        table.add_column(column)
    for corpus, present in rows:
        size = f"{corpus.size:,} B" if corpus.size else "-"
        table.add_row(corpus.name, size, "yes" if present else "no", corpus.description)
    stdout_console().print(table)


def _bpc_text(value: float | None) -> str:
    return f"{value:.4f}" if value is not None else "-"


def run_details(run: dict[str, Any]) -> None:
    """`charrnn info` as a two-column table on stdout."""
    model, train, data = run.get("model") or {}, run.get("train") or {}, run.get("data") or {}
    table = Table(show_header=False, title=run["checkpoint"], title_justify="left")
    rows = [
        ("model", f"{model.get('model')} {model.get('num_layers')} x {model.get('hidden_size')}"
                  f" (embedding {model.get('embed_size')}, dropout {model.get('dropout')}"
                  + (", tied head" if model.get("tie_weights") else "") + ")"),
        ("parameters", f"{run['parameters']:,}"),
        ("vocabulary", f"{run['vocab_size']} ({run['level']} level)"),
        ("step", f"{run['step']:,} (epoch {run['epoch']})"),
        ("validation bpc", f"latest {_bpc_text(run['latest_val_bpc'])}, best "
                           f"{_bpc_text(run['best_val_bpc'])} at step {run['best_step']}"),
        ("training time", format_duration(run["training_seconds"] or 0)),
        ("batch", f"{train.get('batch_size')} x {train.get('seq_len')}, lr {train.get('lr')} "
                  f"({train.get('lr_schedule')}), weight decay {train.get('weight_decay', 0.0)}, "
                  f"weight average {train.get('ema') or 'off'}, "
                  f"grad clip {train.get('grad_clip')}"),
        ("data", f"encoding {data.get('encoding')}, validation "
                 + (f"{train.get('val_frac')} of the corpus" if run.get("validation") == "split"
                    else f"from {run.get('validation')}")
                 + f" (at most {data.get('val_max_chars'):,} characters)"),
        ("corpus", f"{run['corpus']['source']}"
                   + _listed(f" ({run['corpus'].get('files') or 0:,} files; sources: ",
                             run["corpus"].get("sources") or [], ")")),
        ("labels", _listed("", run["labels"], f" (learned as a {model.get('label_input')})")),
        *([("latest bpc by source", ", ".join(f"{k} {_bpc_text(v)}" for k, v in
                                              run["latest_val_bpc_by_source"].items()))]
          if run.get("latest_val_bpc_by_source") else []),
        ("corpus sha256", f"{run['corpus']['sha256']}"),
        *([("fine-tuned from", _lineage_text(run["parent"]))] if run.get("parent") else []),
        ("written", f"{run['created']} (format {run['format_version']})"),
    ]
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in rows:
        if value != "":  # a row that does not apply to this run
            table.add_row(key, Text(str(value)))
    stdout_console().print(table)


def runs_table(runs: list[dict[str, Any]]) -> None:
    """`charrnn list`: one row per run folder."""
    table = Table()
    for column in ("run", "model", "params", "step", "best val bpc", "trained", "corpus",
                   "from"):
        table.add_column(column)
    for run in runs:
        if "error" in run:
            table.add_row(run["run"], Text(run["error"], style="red"), "", "", "", "", "", "")
            continue
        model = run["model"] or {}
        table.add_row(
            run["run"], f"{model.get('model')} {model.get('num_layers')}x"
                        f"{model.get('hidden_size')}",
            f"{run['parameters']:,}", f"{run['step']:,}", _bpc_text(run["best_val_bpc"]),
            format_duration(run["training_seconds"] or 0),
            Text(Path(run["corpus"]["source"] or "?").name),
            Text((run.get("parent") or {}).get("name") or "-"),
        )
    stdout_console().print(table)


def _lineage_text(parent: dict[str, Any]) -> str:
    """A fine-tuned run's parent: its name, step, weights checksum and zero-shot loss."""
    zero_shot = parent.get("zero_shot_loss")
    ships = parent.get("ships_as")
    return (f"{parent.get('name')} at step {parent.get('step')} (weights sha256 "
            f"{str(parent.get('sha256'))[:16]}...; zero-shot validation "
            f"{_bpc_text(bits(zero_shot) if isinstance(zero_shot, (int, float)) else None)} "
            "bpc)" + (f"; it ships as {ships!r}" if ships and ships != parent.get("name")
                      else ""))


def beam_table(prime: str, results: list[tuple[str, float, float]]) -> None:
    """Beam results as a table on stdout: rank, score, log-probability, prime + text."""
    table = Table(show_lines=True)
    table.add_column("rank", justify="right")
    table.add_column("score", justify="right")
    table.add_column("log-prob (nats)", justify="right")
    table.add_column("text")
    for rank, (text, score, logprob) in enumerate(results, 1):
        table.add_row(str(rank), f"{score:.4f}", f"{logprob:.4f}",
                      Text(prime, style="dim") + Text(text))
    stdout_console().print(table)


def document_marks(documents: list[str], marks: list[str]) -> None:
    """Each sampled document's mark on stderr (train: a copy of a training document, val:
    of a held-out one, new: neither), then the counts."""
    console = stderr_console()
    styles = {"new": "green", "train": "red", "val": "yellow"}
    for document, mark in zip(documents, marks, strict=True):
        first = document.split("\n", 1)[0]
        console.print(Text(f"{mark:>5}  ", style=styles[mark]) + Text(first), soft_wrap=True)
    counts = ", ".join(f"{marks.count(m)} {m}" for m in ("new", "train", "val"))
    console.print(Text(f"{len(marks)} documents: {counts}", style="bold"), soft_wrap=True)


def novelty_table(report) -> None:
    """`charrnn novelty` on stdout: the curve as a table, then the longest copied span."""
    console = stdout_console()
    console.print(f"substrings of length L found in the training text: {report.symbols:,} "
                  f"symbols measured, {report.held_out_symbols:,} of held-out text beside them",
                  soft_wrap=True, highlight=False)
    table = Table()
    for column in ("L", "generated", "held-out text"):
        table.add_column(column, justify="right")
    for n, mine, theirs in zip(report.lengths, report.generated, report.held_out,
                               strict=True):
        table.add_row(str(n), _share(mine), _share(theirs))
    console.print(table)
    more = " or more" if report.capped else ""
    console.print(Text(f"longest copied span: {report.longest}{more} symbols, at offset "
                       f"{report.longest_offset:,} of the training text: ")
                  + Text(repr(report.longest_text)), soft_wrap=True)


def _share(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "-"


def surprise_summary(figures: dict, truncated: bool) -> None:
    """`charrnn explain` without --json: bits per character and the most surprising
    stretches, on stdout."""
    console = stdout_console()
    read = f"the first {figures['chars']:,}" if truncated else f"{figures['chars']:,}"
    bits = figures["bits_per_char"]
    shown = "infinite (a character it gives probability 0)" if bits is None else f"{bits:.3f}"
    console.print(f"{read} characters: {shown} bits per character", soft_wrap=True,
                  highlight=False)
    table = Table(title="most surprising stretches")
    for column, justify in (("at", "right"), ("text", "left"), ("bits each", "right")):
        table.add_column(column, justify=justify)
    for span in figures["surprising"]:
        bits = "inf" if span["bits"] is None else f"{span['bits']:.2f}"
        table.add_row(f"{span['start']:,}", repr(span["text"]), bits)
    console.print(table)


def reach_table(ks: list[int], curves: dict[str, list[float]]) -> None:
    """`charrnn gradients` without --json: the curves at k = 0, 1, 2, 4, 8, ... on stdout."""
    console = stdout_console()
    console.print("mean |d loss_t / d h_(t-k)| over the windows:", highlight=False)
    table = Table()
    table.add_column("k", justify="right")
    for label in curves:
        table.add_column(label, justify="right")
    shown = [k for k in ks if k == 0 or (k & (k - 1)) == 0 or k == ks[-1]]
    for k in sorted(set(shown)):
        table.add_row(str(k), *(f"{norms[k]:.3g}" for norms in curves.values()))
    console.print(table)


def neurons_table(ranked: dict[str, list], cells: int, chars: int) -> None:
    """`charrnn neurons` without --json: the best cells per feature on stdout."""
    console = stdout_console()
    console.print(f"{cells:,} cells over {chars:,} characters", highlight=False)
    table = Table(title="cells that follow each feature (Pearson r)")
    for column, justify in (("feature", "left"), ("cells, best first", "left")):
        table.add_column(column, justify=justify)
    for feature, best in ranked.items():
        table.add_row(feature, ", ".join(f"{c} {r:+.3f}" for c, r in best)
                      or "constant in this text")
    console.print(table)
