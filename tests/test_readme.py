"""Every command and code example in the README runs as written (with fast training)."""

import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import charrnn
from charrnn.interface.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FAST = ["--steps", "20", "--hidden-size", "24", "--embed-size", "8", "--batch-size", "4",
        "--seq-len", "16", "--eval-every", "10"]


FAST_PY = {"steps": 20, "hidden_size": 24, "embed_size": 8, "batch_size": 4, "seq_len": 16,
           "eval_every": 10}  # charrnn.train(...) examples: the same, as keywords


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def charrnn_commands() -> list[list[str]]:
    commands = []
    for block in blocks("bash"):
        for line in block.splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words and words[0] == "charrnn":
                    commands.append(words[1:])
    return commands


def serve_and_curl(args: list[str]) -> None:
    """`charrnn serve ...` as written (on a free port), then the README's curl lines
    against it, each answered 200 with JSON or events."""
    if shutil.which("curl") is None:
        pytest.skip("needs curl to run the README's curl lines (apt-get install curl)")
    proc = subprocess.Popen([sys.executable, "-m", "charrnn", *args, "--port", "0"],
                            stderr=subprocess.PIPE, text=True)
    try:
        url = next(line.split(" at ")[1].split()[0] for line in proc.stderr
                   if " at http://" in line)
        curls = [line for block in blocks("bash") for line in block.splitlines()
                 if line.startswith("curl ")]
        assert len(curls) >= 3
        for line in curls:
            words = [w.replace("http://127.0.0.1:8080", url) for w in shlex.split(line)]
            done = subprocess.run([*words, "--fail"], capture_output=True, text=True,
                                  timeout=60)
            assert done.returncode == 0 and done.stdout.strip()[:1] in "{d", (line, done)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()


def test_ci_runs_the_readme_test_command():
    test_line = next(line for block in blocks("bash") for line in block.splitlines()
                     if "pytest" in line)
    assert test_line in (ROOT / ".ci" / "run").read_text()
    assert "torch==2.13.0" in test_line


def test_every_readme_command_and_the_python_example_run(server, shared_corpus, tiny_text,
                                                         monkeypatch):
    """Downloads go to the local server; training commands get fast settings appended."""
    corpus = Path("corpora/tinyshakespeare.txt")
    corpus.parent.mkdir()
    corpus.write_text(tiny_text() + "JULIET:\nO Romeo, Romeo! def \n", encoding="utf-8")
    Path("held_out.txt").write_text(tiny_text(12), encoding="utf-8")
    Path("code.py").write_text(tiny_text(10), encoding="utf-8")  # spelled by the models
    Path("corpora/names.txt").write_text("emma\nmarie\nmarco\nolivia\nava\nmartha\n" * 20,
                                         encoding="utf-8")
    commands = charrnn_commands()
    assert {c[0] for c in commands} == {"train", "sample", "beam", "corpus", "info", "list",
                                       "eval", "plot", "novelty", "serve", "explain",
                                       "neurons", "gradients"}
    runner = CliRunner()
    for args in commands:
        if "cuda" in args and not torch.cuda.is_available():
            continue  # a GPU example; test_device covers what happens without one
        if args[0] == "serve":
            serve_and_curl(args)
            continue
        extra = FAST if args[0] == "train" else []
        if args[:2] == ["corpus", "get"]:
            if not shared_corpus.exists():
                continue  # nothing to serve; test_download covers the failure paths
            extra = ["--url", f"{server}/input.txt"]
        result = runner.invoke(app, args + extra)
        assert result.exit_code == 0, (args, result.output)
    python_blocks = blocks("python")
    assert any("charrnn.train(" in block for block in python_blocks)
    real_train = charrnn.train
    monkeypatch.setattr(charrnn, "train",
                        lambda corpus=None, **options: real_train(corpus, **{**options, **FAST_PY}))
    for block in python_blocks:
        exec(compile(block, "README.md", "exec"), {})
