"""Where charrnn keeps what it prepares from corpora: one folder, named in one place, so
the cache and a folder walk that must leave the cache out agree on it."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Where prepared corpora live: $CHARRNN_CACHE, else ~/.cache/charrnn."""
    env = os.environ.get("CHARRNN_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "charrnn"
