"""`charrnn corpus get` against a local HTTP server on 127.0.0.1 (no internet needed)."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from charrnn.data import download
from charrnn.errors import CorpusError
from charrnn.interface.cli import app

SIZE = download.REGISTRY["tinyshakespeare"].size


def test_get_downloads_checks_and_then_skips(shakespeare, server):
    seen = []
    path, fetched = download.fetch("tinyshakespeare", Path("corpora"), f"{server}/input.txt",
                                   progress=lambda done, total: seen.append((done, total)))
    assert fetched and path == Path("corpora/tinyshakespeare.txt")
    assert path.read_bytes() == shakespeare.read_bytes()
    assert seen[-1] == (SIZE, SIZE) and len(seen) > 1
    assert download.fetch("tinyshakespeare", Path("corpora"), f"{server}/gone")[1] is False
    assert [p.name for p in Path("corpora").iterdir()] == ["tinyshakespeare.txt"]


@pytest.mark.parametrize("route,message", [
    ("/wrong.txt", "failed its check"),
    ("/cut.txt", "failed"),
    ("/missing", "Not Found"),
])
def test_failed_downloads_leave_nothing_behind(server, route, message):
    with pytest.raises(CorpusError, match=message):
        download.fetch("tinyshakespeare", Path("corpora"), f"{server}{route}")
    assert not Path("corpora").exists() or list(Path("corpora").iterdir()) == []


def test_interrupted_download_leaves_nothing_behind(server, monkeypatch):
    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download.fetch("tinyshakespeare", Path("corpora"), f"{server}/wrong.txt", interrupt)
    assert list(Path("corpora").iterdir()) == []


def test_refused_connection_is_one_line():
    result = CliRunner().invoke(app, ["corpus", "get", "tinyshakespeare", "--url",
                                      "http://127.0.0.1:9/input.txt"])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: download of tinyshakespeare")
    assert "nothing was kept" in result.stderr and "Traceback" not in result.output


def test_cli_list_and_get(shakespeare, server):
    runner = CliRunner()
    listed = runner.invoke(app, ["corpus", "list"])
    assert listed.exit_code == 0
    assert "tinyshakespeare" in listed.stdout and "python-stdlib" in listed.stdout
    assert "no" in listed.stdout
    got = runner.invoke(app, ["corpus", "get", "tinyshakespeare", "--url", f"{server}/input.txt"])
    assert got.exit_code == 0, got.output
    assert "saved corpora/tinyshakespeare.txt" in got.stderr
    assert "yes" in runner.invoke(app, ["corpus", "list"]).stdout
    unknown = runner.invoke(app, ["corpus", "get", "war-and-peace"])
    assert unknown.exit_code == 1 and "unknown corpus 'war-and-peace'" in unknown.stderr


def test_builtin_corpus_can_be_written_out():
    path, fetched = download.fetch("python-stdlib", Path("corpora"))
    assert fetched and path.stat().st_size > 1_000_000
    assert b"def " in path.read_bytes()[:100_000]
