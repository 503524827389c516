"""Shared fixtures: every test in its own folder, a tiny corpus, one small trained model."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"

_SPEAKERS = ["ROMEO", "JULIET", "NURSE"]
_LINES = ["O that I were a glove upon that hand,", "What light through yonder window breaks?",
          "Good night, good night! Parting is such sweet sorrow.", "I will not fail."]


def tiny_text(repeats: int = 40) -> str:
    """A small deterministic play: speaker names, line breaks, a little vocabulary."""
    out = []
    for i in range(repeats):
        out.append(f"{_SPEAKERS[i % 3]}:\n{_LINES[i % 4]}\n{_LINES[(i * 3 + 1) % 4]}\n\n")
    return "".join(out)


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Run each test in its own empty folder with its own corpus cache, so neither
    checkpoints/ nor prepared corpora leak between tests."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHARRNN_CACHE", str(tmp_path / "cache"))


def prepared(path, **data):
    from charrnn.config import DataConfig
    from charrnn.data.cache import prepare

    return prepare(path, DataConfig(**data))


@pytest.fixture
def corpus_file(tmp_path) -> Path:
    path = tmp_path / "play.txt"
    path.write_text(tiny_text(), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A run folder holding a small LSTM trained on the tiny play (once per session)."""
    from charrnn.config import ModelConfig, TrainConfig
    from charrnn.training.loop import train_model

    folder = tmp_path_factory.mktemp("trained")
    path = folder / "play.txt"
    path.write_text(tiny_text(), encoding="utf-8")
    run = folder / "run"
    train_model(prepared(path), ModelConfig(hidden_size=48, embed_size=16, dropout=0.0),
          TrainConfig(batch_size=8, seq_len=32, steps=150, eval_every=50, lr=1e-2,
                      weight_decay=0.0), run)
    return run


@pytest.fixture(scope="session")
def lm(trained_run):
    import charrnn

    return charrnn.load(trained_run)


def pytest_report_header(config):
    present = SHARED_CORPUS.exists()
    return f"shared corpus: {SHARED_CORPUS} ({'present' if present else 'absent'})"


os.environ.setdefault("COLUMNS", "120")
os.environ["CHARRNN_CACHE"] = tempfile.mkdtemp(prefix="charrnn-test-cache-")
