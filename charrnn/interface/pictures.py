"""Text coloured character by character, as a PNG (matplotlib): the static twin of the
HTML pages, for a README or a paper."""

from __future__ import annotations

from pathlib import Path

from charrnn.interface.plot import save_figure


def coloured_text(chars: list[str], values: list[float], out: Path, title: str,
                  label: str, low: float, high: float, colours: str = "YlOrRd",
                  columns: int = 90, max_lines: int = 40) -> Path:
    """Each character on a grid of `columns`, its box coloured by its value on
    [low, high] with a colour bar; a line break starts a new row. At most `max_lines`
    rows are drawn (the title says so when the text is longer)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.colors import Normalize

    longest = max((len(line) for line in "".join(chars).split("\n")), default=1)
    columns = max(10, min(columns, longest + 1))
    cells, row, col = [], 0, 0
    for char, value in zip(chars, values, strict=True):
        if row >= max_lines:
            title += f" (the first {max_lines} lines)"
            break
        cells.append((row, col, "⏎" if char.startswith("\n") else char, value))
        col += 1
        if char.startswith("\n") or col == columns:
            row, col = row + 1 + (char == "\n\n"), 0
    rows = max((r for r, *_ in cells), default=0) + 1
    norm, cmap = Normalize(low, high), plt.get_cmap(colours)
    fig, axis = plt.subplots(figsize=(columns * 0.105 + 1.2, rows * 0.2 + 1.0))
    try:
        for r, c, char, value in cells:
            axis.add_patch(plt.Rectangle((c, -r - 1), 1, 1, color=cmap(norm(value)), lw=0))
            if char.strip():
                axis.text(c + 0.5, -r - 0.5, char, ha="center", va="center",
                          fontsize=7.5, family="monospace")
        axis.set_xlim(0, columns)
        axis.set_ylim(-rows, 0)
        axis.axis("off")
        axis.set_title(title, fontsize=10, loc="left")
        fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axis, fraction=0.02,
                     pad=0.01, label=label)
        return save_figure(fig, out)
    finally:
        plt.close(fig)
