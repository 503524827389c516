"""Shared fixtures: every test in its own folder, a tiny corpus, one small trained model,
and the helpers test files share (they get them only as fixtures, never by import).

    corpus_file      the tiny play written to a file in the test's folder
    tiny_text        the function that writes a tiny play of any length
    prepared         the function that prepares a corpus file into ids (DataConfig options)
    trained_run      a run folder with a small trained LSTM (once per session)
    lm               that run loaded as a LanguageModel (once per session)
    cli              the function that invokes the Typer app in process: cli("train", ...)
    one_error_line   the checker: exit code, no traceback, one "error: " line on stderr
    fast_flags       `charrnn train` flags for a few-second run
    recorder         a fresh Recorder, a Reporter that keeps every event it is told
    recorder_class   the Recorder class itself, to subclass
    server           a local HTTP server on 127.0.0.1 serving corpus downloads (per module)
    charrnn_server   the context manager `charrnn_server(lm, **ServeConfig fields)` -> the
                     base URL of `charrnn serve`'s app running on 127.0.0.1 in a thread
    shared_corpus    the path of the shared tinyshakespeare.txt, present or not
    shakespeare      that path, or a skip with the reason when it is absent
    offline_page     the context manager `offline_page(path)` -> a Playwright page of that
                     file in Debian's headless chromium, every request off the file refused
                     (a skip with the reason when chromium or Playwright is absent)

With CI=true in the environment (.ci/run sets it), a skip not in ALLOWED_SKIPS fails.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]  # tests of the CI skip rule below run pytest on small files

SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"

_SPEAKERS = ["ROMEO", "JULIET", "NURSE"]
_LINES = ["O that I were a glove upon that hand,", "What light through yonder window breaks?",
          "Good night, good night! Parting is such sweet sorrow.", "I will not fail."]


def make_tiny_text(repeats: int = 40) -> str:
    """A small deterministic play: speaker names, line breaks, a little vocabulary."""
    out = []
    for i in range(repeats):
        out.append(f"{_SPEAKERS[i % 3]}:\n{_LINES[i % 4]}\n{_LINES[(i * 3 + 1) % 4]}\n\n")
    return "".join(out)


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    """A corpus cache for what runs before any test's own (session fixtures such as
    trained_run), in pytest's temporary folders, which pytest prunes; set back after."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHARRNN_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Run each test in its own empty folder with its own corpus cache, so neither
    checkpoints/ nor prepared corpora leak between tests."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHARRNN_CACHE", str(tmp_path / "cache"))


def prepare_corpus(path, **data):
    """A corpus file prepared into ids; `data` are DataConfig fields (level="byte", ...)."""
    from charrnn.config import DataConfig
    from charrnn.data.cache import prepare

    return prepare(path, DataConfig(**data))


@pytest.fixture(scope="session")
def repo_script():
    """A script of the repository (`scripts/`, `bench/`) loaded as a module, by its path
    from the repository root: they are not a package, and some tests read their parts."""
    import importlib.util

    def load(relative: str):
        path = Path(__file__).resolve().parents[1] / relative
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def tiny_text():
    """The function `tiny_text(repeats=40) -> str` that writes the tiny play."""
    return make_tiny_text


@pytest.fixture(scope="session")
def prepared():
    """The function `prepared(path, **data_config_fields)` -> the prepared corpus."""
    return prepare_corpus


@pytest.fixture
def corpus_file(tmp_path) -> Path:
    path = tmp_path / "play.txt"
    path.write_text(make_tiny_text(), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A run folder holding a small LSTM trained on the tiny play (once per session)."""
    from charrnn.config import ModelConfig, TrainConfig
    from charrnn.training.loop import train_model

    folder = tmp_path_factory.mktemp("trained")
    path = folder / "play.txt"
    path.write_text(make_tiny_text(), encoding="utf-8")
    run = folder / "run"
    train_model(prepare_corpus(path), ModelConfig(hidden_size=48, embed_size=16, dropout=0.0),
                TrainConfig(batch_size=8, seq_len=32, steps=150, eval_every=50, lr=1e-2,
                            weight_decay=0.0), run)
    return run


@pytest.fixture(scope="session")
def lm(trained_run):
    import charrnn

    return charrnn.load(trained_run)


# --- the command line, in process ---------------------------------------------------------

FAST_FLAGS = ("--steps", "30", "--hidden-size", "32", "--embed-size", "8", "--batch-size", "4",
              "--seq-len", "16", "--eval-every", "10")


def invoke_cli(*args):
    """Run `charrnn ARGS...` in process; every argument is passed as its str()."""
    from typer.testing import CliRunner

    from charrnn.interface.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def check_one_error_line(result, code=1):
    """Assert the command failed with `code`, no traceback and exactly one stderr line that
    starts with "error: "; return that line."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="session")
def cli():
    """The function `cli(*args)` -> click.testing.Result of `charrnn ARGS...`."""
    return invoke_cli


@pytest.fixture(scope="session")
def one_error_line():
    """The function `one_error_line(result, code=1)` -> the single "error: ..." line."""
    return check_one_error_line


@pytest.fixture
def fast_flags() -> list[str]:
    """`charrnn train` flags for a small model trained 30 steps (a fresh list per test)."""
    return list(FAST_FLAGS)


# --- training reports ---------------------------------------------------------------------

class Recorder:
    """A Reporter that keeps everything it is told."""

    def __init__(self):
        self.events = []

    def on_start(self, info):
        self.events.append(("start", info))

    def on_step(self, stats):
        self.events.append(("step", stats))

    def on_eval(self, step, val_loss, improved):
        self.events.append(("eval", step, val_loss, improved))

    def on_message(self, text):
        self.events.append(("message", text))

    def on_end(self, result):
        self.events.append(("end", result))

    def of(self, kind):
        return [e for e in self.events if e[0] == kind]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="session")
def recorder_class() -> type[Recorder]:
    return Recorder


# --- the shared corpus and a local download server ----------------------------------------

@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    """The shared tinyshakespeare.txt's path, whether or not the file is there."""
    return SHARED_CORPUS


@pytest.fixture
def shakespeare(shared_corpus) -> Path:
    """The shared tinyshakespeare.txt's path; the test is skipped when it is absent."""
    if not shared_corpus.exists():
        pytest.skip(f"needs {shared_corpus} (the real tinyshakespeare.txt) to serve")
    return shared_corpus


class _CorpusHandler(BaseHTTPRequestHandler):
    """/input.txt: the shared corpus; /wrong.txt: right size, wrong bytes; /cut.txt: a
    promised length then a hang-up; anything else: 404."""

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        from charrnn.data import download

        size = download.REGISTRY["tinyshakespeare"].size
        if self.path == "/input.txt":
            body = SHARED_CORPUS.read_bytes()
        elif self.path == "/wrong.txt":
            body = b"x" * size
        elif self.path == "/cut.txt":
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.write(b"First Citizen:\n" * 20_000)  # far short of size, then hang up
            self.wfile.flush()
            self.close_connection = True
            return
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    """The base URL of a local HTTP server (see _CorpusHandler for its routes)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _CorpusHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@contextlib.contextmanager
def run_charrnn_server(lm, **settings):
    """`charrnn serve`'s app for `lm` on a free port of its `host` (127.0.0.1 unless a
    setting says), in a thread (uvicorn, the same server the command runs); stopped, its
    batcher with it, on leaving. The URL always reaches it inside 127.0.0.0/8."""
    import uvicorn

    from charrnn.config import ServeConfig
    from charrnn.interface.serve.app import create_app
    from charrnn.interface.serve.runner import bind

    config = ServeConfig(**settings)
    app = create_app(lm, config)
    sock = bind(config.host, 0)
    address = "127.0.0.1" if config.host in ("0.0.0.0", "localhost") else config.host
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://{address}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        app.state.service.batcher.close()
        sock.close()


@contextlib.contextmanager
def open_offline(path: Path, width: int = 900, height: int = 500):
    """A headless page of the file at `path`, offline: only file: and data: load."""
    import shutil

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("needs Debian's chromium package (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="needs Playwright (pip install -e '.[dev]')")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": width, "height": height})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
            ("file:", "data:")) else route.abort())
        page.goto(Path(path).as_uri())
        try:
            yield page
        finally:
            browser.close()


@pytest.fixture(scope="session")
def offline_page():
    return open_offline


@pytest.fixture(scope="session")
def charrnn_server():
    return run_charrnn_server


# --- in CI (CI=true), a skip nobody expected fails the run ---------------------------------

# The skips CI may see: (test id pattern, reason pattern) -> why, both fnmatch patterns
# against the node id and the skip's reason. Every other skip under CI=true is a failure
# (at collection, an error), so a missing browser, tool or package cannot pass unnoticed.
ALLOWED_SKIPS = {
    ("tests/test_threads.py::*", "one core: *"):
        "a one-core runner starts no worker threads, so there are none to free or to watch",
    ("tests/test_device.py::test_absent_devices_are_one_line_and_write_nothing",
     "this machine has a CUDA GPU"):
        "it checks the messages for a missing GPU, which a GPU runner cannot show",
}


def _skip_reason(report) -> str:
    if isinstance(report.longrepr, tuple):  # (file, line, "Skipped: reason")
        return report.longrepr[2].removeprefix("Skipped: ")
    return str(report.longrepr)


def fail_unexpected_skip(report):
    """Under CI=true, turn a skip that is not in ALLOWED_SKIPS into a failure that names
    the test and the reason (an xfail is no skip and stays as it is)."""
    if os.environ.get("CI") != "true" or not report.skipped or hasattr(report, "wasxfail"):
        return report
    reason = _skip_reason(report)
    if any(fnmatch.fnmatch(report.nodeid, test) and fnmatch.fnmatch(reason, why)
           for test, why in ALLOWED_SKIPS):
        return report
    report.outcome = "failed"
    report.longrepr = (f"unexpected skip in CI: {report.nodeid}: {reason}\n"
                       "give CI what the test needs, or allow the skip with its reason in "
                       "ALLOWED_SKIPS (tests/conftest.py)")
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    return fail_unexpected_skip((yield))


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):  # a module-level skip (importorskip)
    return fail_unexpected_skip((yield))


def pytest_report_header(config):
    present = SHARED_CORPUS.exists()
    return f"shared corpus: {SHARED_CORPUS} ({'present' if present else 'absent'})"


os.environ.setdefault("COLUMNS", "120")


@pytest.fixture
def failing_draws(monkeypatch):
    """A request's own draw raises when its top_k is 7 (how the server's tests make one
    request fail while others run): `adjust` is what each such request draws through."""
    import charrnn.decoding.sampling as sampling_module

    real = sampling_module.adjust

    def adjust(logprobs, cfg, seen):
        if cfg.top_k == 7:
            raise RuntimeError("a draw that fails")
        return real(logprobs, cfg, seen)

    monkeypatch.setattr(sampling_module, "adjust", adjust)


TUNED_AS_ASKED = """
import sys
if sys.argv[1] == "tune":
    import charrnn
    charrnn.tune_for_speed()
elif sys.argv[1] == "command":  # the `charrnn` command's entry point, as its script calls it
    from charrnn.interface.cli import main
    sys.argv = ["charrnn", "list"]
    try:
        main()
    except SystemExit:
        pass
"""


@pytest.fixture(scope="session")
def tuned_as_asked() -> str:
    """Python source that opens a test's subprocess script: it tunes the process as the
    script's first argument says ("tune": `charrnn.tune_for_speed()`; "command": the
    `charrnn` command's entry point, running `charrnn list`; anything else: not at all)."""
    return TUNED_AS_ASKED
