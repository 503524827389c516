"""Self-contained HTML pages (no CDN: they open offline) filled with a run's figures.

    explain.html   the text coloured by surprisal, the top predictions on hover
    gradients.html the gradient-reach curves (a picture) and their values
    neurons.html   the text coloured by any ranked cell, picked from a list
    text.css       the style the pages of coloured text share
    text.js        their character spans and hover tooltips
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from charrnn.export.javascript import script_safe


def render(name: str, data: dict[str, Any]) -> str:
    """The page `name`.html with `data` as its JSON (safe inside a <script>), and the
    style and script that the pages of coloured text share (text.css, text.js)."""
    files = resources.files(__package__)
    template = files.joinpath(f"{name}.html").read_text("utf-8")
    payload = script_safe(json.dumps(data, ensure_ascii=False))
    style = files.joinpath("text.css").read_text("utf-8")
    script = files.joinpath("text.js").read_text("utf-8")
    return (template.replace("/*STYLE*/", style).replace("/*SCRIPT*/", script)
            .replace("/*DATA*/", payload))
