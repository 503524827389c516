"""Every command and code example in the README and in the pages under docs/ runs as
written (with fast training and evaluation), and every link between them leads somewhere."""

import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import typer
from typer.testing import CliRunner

import charrnn
from charrnn.interface.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = ["README.md", *sorted(f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md"))]
# Training commands get these appended: a small model, 20 steps evaluated once, at the
# end, on at most 1,000 held-out characters (a fine-tune keeps its parent's 1 x 512
# architecture, and scoring Tiny Shakespeare's whole held-out tail with it at every
# evaluation was most of this file's time; test_validation_loss and test_training_loop
# check what evaluation computes and when).
FAST = ["--steps", "20", "--hidden-size", "24", "--embed-size", "8", "--batch-size", "4",
        "--seq-len", "16", "--eval-every", "20", "--val-max-chars", "1000"]

# `charrnn eval FILE` commands get this appended unless they give their own: the first
# 20,000 characters, not all of Tiny Shakespeare's 1.1 million read one by one
# (test_scoring checks what eval computes on a whole file).
FAST_EVAL = ["--max-chars", "20000"]

ARCHITECTURE = {"--hidden-size", "24", "--embed-size", "8"}  # left out of a fine-tune's FAST
FAST_PY = {"steps": 20, "hidden_size": 24, "embed_size": 8, "batch_size": 4, "seq_len": 16,
           "eval_every": 20, "val_max_chars": 1000}  # charrnn.train(...): the same, as keywords

# Documented lines that are not run here, each with why. Every other line of a bash block
# must run: a `charrnn` command (the `charrnn` part of a line of `&&`s), or a `curl` line,
# run against the page's `charrnn serve`.
NOT_RUN = {
    "torchrun ": "several processes, the second line on two machines; "
                 "tests/test_distributed.py runs the same training step in two processes",
    "python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && "
    "pip install -e '.[dev]' && python -m pytest":
        "the test command itself: .ci/run runs it word for word (checked below)",
}
GPU_ONLY = "--device cuda"  # run where there is a CUDA GPU; test_device covers the rest

TYPED = {"write": "But soft, what light\n/suggest 2\n1\n/undo\n/save story.txt\n/quit\n"}


def text_of(page: str) -> str:
    return (ROOT / page).read_text(encoding="utf-8")


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def bash_lines(text: str) -> list[str]:
    return [line.strip() for block in blocks(text, "bash") for line in block.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def charrnn_parts(line: str) -> list[list[str]]:
    """The `charrnn ...` commands of a line (split at `&&`), each as its arguments."""
    commands = []
    for part in line.split("&&"):
        words = shlex.split(part, comments=True)
        if words and words[0] == "charrnn":
            commands.append(words[1:])
    return commands


def charrnn_commands(text: str) -> list[list[str]]:
    return [args for line in bash_lines(text) for args in charrnn_parts(line)]


def curl_lines(text: str) -> list[str]:
    return [line for line in bash_lines(text) if line.startswith("curl ")]


def not_run(line: str) -> str | None:
    """Why a documented line is not run here, or None."""
    return next((why for start, why in NOT_RUN.items() if line.startswith(start)), None)


def client_blocks(text: str) -> list[str]:
    """A page's Python blocks that talk to a served model (they run while it serves)."""
    return [block for block in blocks(text, "python") if SERVED_AT in block]


SERVED_AT = "http://127.0.0.1:8080"


def serve_and_curl(args: list[str], curls: list[str], clients: list[str] = ()) -> None:
    """`charrnn serve ...` as written (on a free port), then the page's curl lines
    against it, each answered 200 with JSON or events, then its Python client blocks."""
    if shutil.which("curl") is None:
        pytest.skip("needs curl to run the documented curl lines (apt-get install curl)")
    assert curls, "a page that serves shows how to ask the server"
    proc = subprocess.Popen([sys.executable, "-m", "charrnn", *args, "--port", "0"],
                            stderr=subprocess.PIPE, text=True)
    try:
        url = next(line.split(" at ")[1].split()[0] for line in proc.stderr
                   if " at http://" in line)
        for line in curls:
            words = [w.replace("http://127.0.0.1:8080", url) for w in shlex.split(line)]
            done = subprocess.run([*words, "--fail"], capture_output=True, text=True,
                                  timeout=60)
            assert done.returncode == 0 and done.stdout.strip()[:1] in "{d", (line, done)
        for block in clients:
            exec(compile(block.replace(SERVED_AT, url), "client", "exec"), {})
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()


def write_page_corpus(shared_corpus: Path, tiny_text) -> Path:
    """corpora/tinyshakespeare.txt as the pages under docs/ find it: the tiny play with the
    real one's characters (`corpus get` swaps the real one in)."""
    corpus = Path("corpora/tinyshakespeare.txt")
    corpus.parent.mkdir(exist_ok=True)
    every = sorted(set(shared_corpus.read_text(encoding="utf-8"))) if shared_corpus.exists() else []
    corpus.write_text(tiny_text() + "JULIET:\nO Romeo, Romeo! def \n" + "".join(every),
                      encoding="utf-8")
    return corpus


@pytest.fixture(scope="module")
def page_model(tmp_path_factory, shared_corpus, tiny_text) -> Path:
    """The small model the pages load (checkpoints/tinyshakespeare), trained once for this
    file on the corpus the workbench writes; each page gets its own copy. A run folder
    names its corpus by the relative path it was given, so the copy is the run a page
    would have trained in its own folder."""
    folder = tmp_path_factory.mktemp("page_model")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        corpus = write_page_corpus(shared_corpus, tiny_text)
        result = CliRunner().invoke(app, ["train", str(corpus), "--out",
                                          "checkpoints/tinyshakespeare", *FAST])
    assert result.exit_code == 0, result.output
    return folder / "checkpoints" / "tinyshakespeare"


@pytest.fixture
def workbench(server, shared_corpus, tiny_text, page_model):
    """The folder the pages under docs/ assume: the corpora and texts they name, and a
    small model at checkpoints/tinyshakespeare (the run their examples load), so each page
    runs alone. Returns the download server's URL (`corpus get` goes there)."""
    write_page_corpus(shared_corpus, tiny_text)
    Path("held_out.txt").write_text(tiny_text(12), encoding="utf-8")
    Path("code.py").write_text(tiny_text(10), encoding="utf-8")  # spelled by the models
    Path("corpora/names.txt").write_text("emma\nmarie\nmarco\nolivia\nava\nmartha\n" * 20,
                                         encoding="utf-8")
    for name, line in (("alice", "the roses are red and the cat sat on the mat.\n"),
                       ("bob", "NO TIME! THE TRAIN LEAVES AT SIX.\n")):  # a folder of texts
        Path("corpora/letters", name).mkdir(parents=True)
        for i in range(3):
            Path("corpora/letters", name, f"letter{i}.txt").write_text(line * (8 + i),
                                                                      encoding="utf-8")
    Path("corpora/quotes.tsv").write_text("happy\twhat a day\ngrim\tDOOM\n" * 20,
                                          encoding="utf-8")
    shutil.copytree(page_model, "checkpoints/tinyshakespeare")
    return server


def test_ci_runs_the_readme_test_command():
    test_line = next(line for line in bash_lines(README.read_text(encoding="utf-8"))
                     if "pytest" in line)
    assert not_run(test_line)
    assert test_line in (ROOT / ".ci" / "run").read_text()
    assert "torch==2.13.0" in test_line


@pytest.mark.parametrize("page", PAGES)
def test_every_documented_line_is_run_or_says_why_not(page):
    for line in bash_lines(text_of(page)):
        assert charrnn_parts(line) or line.startswith("curl ") or not_run(line), (
            f"{page}: the tests do not run {line!r}: make it a charrnn or curl line, or "
            "add it to NOT_RUN with the reason")


def test_the_pages_show_every_command():
    shown = {args[0] for page in PAGES for args in charrnn_commands(text_of(page))}
    assert shown == set(typer.main.get_command(app).commands)


@pytest.fixture
def fresh_clone(tmp_path, monkeypatch) -> Path:
    """The current folder made to hold what a fresh clone holds and nothing else: a copy
    of the files git tracks, as they are in this working tree."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout (git ls-files) to know what a fresh clone holds")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    clone = tmp_path / "clone"
    for name in filter(None, tracked):
        if (ROOT / name).is_file():  # deleted in the tree but not yet committed: not there
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    monkeypatch.chdir(clone)
    return clone


def test_the_readme_runs_in_order_on_a_fresh_clone(fresh_clone, server, shakespeare,
                                                   monkeypatch, offline_page):
    """The README's commands and examples, top to bottom, in a folder that holds only the
    clone's files: a file a command names must be in the clone or made by a command before
    it. Its `corpus get` downloads the real Tiny Shakespeare (from the local server)."""
    assert not Path("corpora/tinyshakespeare.txt").exists()
    run_page("README.md", server, shakespeare, monkeypatch, offline_page)


@pytest.mark.parametrize("page", [page for page in PAGES if page != "README.md"])
def test_every_command_and_python_block_runs(page, workbench, shared_corpus, monkeypatch,
                                            offline_page):
    run_page(page, workbench, shared_corpus, monkeypatch, offline_page)


def run_page(page: str, download_url: str, shared_corpus: Path, monkeypatch,
             offline_page) -> None:
    """A page's commands in order, then its Python blocks: downloads go to the local
    server; training commands get fast settings appended. JavaScript examples run in Node,
    and exported pages are opened in Chromium."""
    text = text_of(page)
    runner = CliRunner()
    for args in charrnn_commands(text):
        if GPU_ONLY in shlex.join(args) and not torch.cuda.is_available():
            continue
        if args[0] == "serve":
            serve_and_curl(args, curl_lines(text), client_blocks(text))
            continue
        extra = FAST if args[0] == "train" else []
        if args[0] == "eval" and "--max-chars" not in args and Path(args[1]).is_file():
            extra = FAST_EVAL  # (a folder is scored whole: --max-chars is for one file)
        if "--init-from" in args:  # the architecture is the parent's
            extra = [flag for flag in FAST if flag not in ARCHITECTURE]
        if args[:2] == ["corpus", "get"]:
            if not shared_corpus.exists():
                continue  # nothing to serve; test_download covers the failure paths
            extra = ["--url", f"{download_url}/input.txt"]
        result = runner.invoke(app, args + extra, input=TYPED.get(args[0]))
        assert result.exit_code == 0, (page, args, result.output)
    real_train = charrnn.train
    def fast_train(corpus=None, **options):
        fast = {k: v for k, v in FAST_PY.items()
                if "init_from" not in options or k not in ("hidden_size", "embed_size")}
        return real_train(corpus, **{**options, **fast})

    monkeypatch.setattr(charrnn, "train", fast_train)
    for block in blocks(text, "python"):
        if block not in client_blocks(text):  # (run while the page's server serves)
            exec(compile(block, page, "exec"), {})
    for block in blocks(text, "js"):
        run_node(block, page)
    for path in exported_pages(text):
        writes_offline(path, offline_page)


def run_node(block: str, page: str) -> None:
    """A JavaScript example, run by Node in the page's folder of files."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("needs Node.js (node) to run the documented JavaScript")
    done = subprocess.run([node, "-e", block], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (page, block, done.stderr)


def exported_pages(text: str) -> list[Path]:
    """The web pages a page's `charrnn export` commands write."""
    found = []
    for args in charrnn_commands(text):
        if args[0] == "export" and (args[args.index("--format") + 1] if "--format" in args
                                    else "web") == "web":
            out = (args[args.index("--out") + 1] if "--out" in args
                   else f"{Path(args[1]).name}.html")  # the default: the model's name
            found.append(Path(out).resolve())
    return found


def writes_offline(path: Path, offline_page) -> None:
    """An exported page, opened offline in headless Chromium, writes when asked."""
    with offline_page(path) as page:
        page.click("#continue")
        deadline = time.monotonic() + 30
        while not (page.text_content("#status") or "").startswith("done"):
            assert time.monotonic() < deadline, page.text_content("#status")
            time.sleep(0.05)
        assert page.input_value("#text")


def test_the_readme_is_a_front_door():
    """At most 260 lines, with the Python example that trains, and a link to every page."""
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 260
    assert any("charrnn.train(" in block for block in blocks(text, "python"))
    linked = {target.split("#")[0] for target in links(text)}
    assert {page for page in PAGES if page.startswith("docs/")} <= linked


def links(text: str) -> list[str]:
    """The targets of a page's links and images, outside code."""
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.findall(r"\]\(([^)\s]+)\)", re.sub(r"`[^`\n]*`", "", prose))


def anchors(text: str) -> set[str]:
    """The anchors GitHub makes of a page's headings."""
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.+)$", prose, flags=re.M)}


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_leads_somewhere(page):
    for target in links(text_of(page)):
        if re.match(r"[a-z]+:", target):
            continue  # another site
        path, _, anchor = target.partition("#")
        file = (ROOT / page).parent / path if path else ROOT / page
        assert file.is_file(), f"{page}: {target} is not a file"
        if anchor and file.suffix == ".md":
            assert anchor in anchors(file.read_text(encoding="utf-8")), f"{page}: {target}"


def test_the_readme_opens_with_what_it_is_and_how_to_install_it():
    """The first screen says what charrnn is and how to install and run it; the
    measured figures come after the commands."""
    lines = README.read_text(encoding="utf-8").splitlines()
    first_screen = "\n".join(lines[:25])
    assert "pip install torch==2.13.0 && pip install -e ." in first_screen
    assert "charrnn sample --checkpoint english" in "\n".join(lines[:40])
    assert lines.index("## What you get") > lines.index("## From Python")
