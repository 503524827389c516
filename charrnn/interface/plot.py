"""Training curves of one or more runs, drawn from their metrics.jsonl into a PNG.

Two panels share the loss axis: loss against wall-clock minutes (what a budget buys) and
against characters seen (what the data buys). Training loss is a thin line, validation
loss a line with markers, one colour per run. matplotlib is imported on first use.
"""

from __future__ import annotations

import io
from pathlib import Path

from charrnn.atomic import write_atomic
from charrnn.errors import CharRNNError
from charrnn.model.runs import METRICS
from charrnn.training.metrics import read_metrics


def _run_folder(path: Path) -> Path:
    path = Path(path)
    folder = path.parent if path.is_file() else path
    if not (folder / METRICS).is_file():
        raise CharRNNError(f"{path} has no {METRICS}; pass run folders written by "
                           "charrnn train")
    return folder


def plot_runs(runs: list[Path], out: Path, title: str | None = None) -> Path:
    """Draw the runs' curves into `out` (PNG, written atomically); returns `out`."""
    if not runs:
        raise CharRNNError("name at least one run folder to plot")
    folders = [_run_folder(r) for r in runs]
    curves = [(folder, read_metrics(folder)) for folder in folders]
    for folder, records in curves:
        if not records:
            raise CharRNNError(f"{folder / METRICS} holds no training records yet")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = [f.name for f in folders]
    if len(set(names)) < len(names):
        names = [str(f) for f in folders]
    fig, (by_time, by_chars) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    try:
        for k, (name, (_, records)) in enumerate(zip(names, curves, strict=True)):
            colour = f"C{k % 10}"
            train = [r for r in records if r.get("train_loss") is not None]
            val = [r for r in records if r.get("val_loss") is not None]
            for axis, x, scale in ((by_time, "elapsed", 60.0), (by_chars, "chars", 1e6)):
                axis.plot([r[x] / scale for r in train], [r["train_loss"] for r in train],
                          color=colour, alpha=0.45, linewidth=1, label=f"{name} train")
                axis.plot([r[x] / scale for r in val], [r["val_loss"] for r in val],
                          color=colour, marker="o", markersize=3, linewidth=1.8,
                          label=f"{name} validation")
        vals = [r["val_loss"] for _, records in curves for r in records
                if r.get("val_loss") is not None]
        if vals:  # the first steps' losses would squash the part worth reading
            lows = [r["train_loss"] for _, records in curves for r in records
                    if r.get("train_loss") is not None] + vals
            by_time.set_ylim(min(lows) - 0.05, max(vals) + 0.3)
        by_time.set_xlabel("wall-clock minutes")
        by_chars.set_xlabel("training characters seen (millions)")
        by_time.set_ylabel("loss (nats per character)")
        for axis in (by_time, by_chars):
            axis.grid(alpha=0.3)
        by_chars.legend(fontsize="small")
        fig.suptitle(title or "charrnn training curves")
        return save_figure(fig, out)
    finally:
        plt.close(fig)


def plot_novelty(report, out: Path, title: str | None = None) -> Path:
    """The novel-substring curve (`decoding/novelty.py`): the share of length-L
    substrings found in the training text, generated beside held-out text; PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axis = plt.subplots(figsize=(7, 4.5))
    try:
        axis.plot(report.lengths, report.generated, marker="o", label="generated text")
        if any(v is not None for v in report.held_out):
            axis.plot(report.lengths, report.held_out, marker="s", linestyle="--",
                      label="held-out text (people)")
        axis.set_xlabel("substring length L (symbols)")
        axis.set_ylabel("share found in the training text")
        axis.set_ylim(-0.02, 1.02)
        axis.grid(alpha=0.3)
        axis.legend()
        axis.set_title(title or f"copied substrings (longest: {report.longest} symbols)")
        return save_figure(fig, out)
    finally:
        plt.close(fig)


def save_figure(fig, out: Path) -> Path:
    """The figure as a PNG at `out`, written atomically."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    out = Path(out)
    write_atomic(out, buffer.getvalue())
    return out


def plot_reach(ks: list[int], curves: dict[str, list[float]], out: Path,
               title: str | None = None) -> Path:
    """`charrnn gradients`: mean |d loss_t / d h_(t-k)| against k, one line per model, on a
    log scale; PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axis = plt.subplots(figsize=(7, 4.5))
    try:
        for label, norms in curves.items():
            axis.plot(ks, [max(n, 1e-30) for n in norms], label=label)
        axis.set_yscale("log")
        axis.set_xlabel("k: steps back from the character whose loss is differentiated")
        axis.set_ylabel("mean |d loss_t / d h_(t-k)|")
        axis.grid(alpha=0.3, which="both")
        axis.legend()
        axis.set_title(title or "how far back the gradient reaches")
        return save_figure(fig, out)
    finally:
        plt.close(fig)
