"""`charrnn explain` and `lm.explain`: surprisal per character that adds up to `logprob`,
the top predictions, the pages (HTML in a real browser, PNG) and JSON."""

from __future__ import annotations

import json
import math

import pytest

TEXT = "ROMEO:\nO that I were a glove upon that hand,\n"


def test_surprisal_adds_up_to_logprob_and_top_predictions_are_the_distribution(lm):
    found = lm.explain(TEXT, top=3)
    assert "".join(found.chars) == TEXT and len(found.bits) == len(TEXT)
    assert sum(found.bits) * math.log(2) == pytest.approx(-lm.logprob(TEXT), rel=1e-5)
    session = lm.session("ROMEO:\nO")  # the prediction after "ROMEO:\nO"
    expected = session.predict(3)
    assert [c for c, _ in found.top[8]] == [c for c, _ in expected]
    assert [p for _, p in found.top[8]] == pytest.approx([p for _, p in expected], abs=1e-5)
    assert found.bits[8] == pytest.approx(-math.log2(session.distribution()[TEXT[8]]), abs=1e-4)


def test_long_texts_are_read_in_chunks_with_the_state_carried(lm, monkeypatch):
    from charrnn.insight import surprise

    whole = lm.explain(TEXT * 3)
    monkeypatch.setattr(surprise, "CHUNK", 7)
    chunked = lm.explain(TEXT * 3)
    assert chunked.bits == pytest.approx(whole.bits, abs=1e-4)


def test_a_documents_model_reads_each_document_from_the_start(tmp_path, cli):
    import charrnn

    names = tmp_path / "names.txt"
    names.write_text("emma\nolivia\nava\nmia\nemily\n" * 30, encoding="utf-8")
    assert cli("train", names, "--documents", "lines", "--steps", "20", "--hidden-size", "16",
               "--embed-size", "8", "--batch-size", "4", "--out", tmp_path / "run").exit_code == 0
    model = charrnn.load(tmp_path / "run")
    found = model.explain("emma\nava\n")
    assert found.chars == list("emma") + ["\n"] + list("ava") + ["\n"]
    first = sum(found.bits[:5]) * math.log(2)  # "emma" and its end, from the start
    assert first == pytest.approx(-model.logprob("emma", complete=True), rel=1e-5)
    second = sum(found.bits[5:]) * math.log(2)
    assert second == pytest.approx(-model.logprob("ava", complete=True), rel=1e-5)


def test_the_command_prints_json_a_summary_and_writes_pictures(cli, trained_run, tmp_path):
    result = cli("explain", TEXT, "--checkpoint", trained_run, "--json", "--top", "2")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["chars"] == len(TEXT) and len(figures["per_char"]) == len(TEXT)
    assert all(len(c["top"]) == 2 for c in figures["per_char"])
    assert figures["surprising"][0]["bits"] >= figures["surprising"][-1]["bits"]
    summary = cli("explain", TEXT, "--checkpoint", trained_run)
    assert f"{figures['bits_per_char']:.3f} bits per character" in summary.stdout
    text_file = tmp_path / "held_out.txt"
    text_file.write_text(TEXT * 50, encoding="utf-8")
    picture = cli("explain", "--file", text_file, "--checkpoint", trained_run,
                  "--max-chars", "300", "--out", tmp_path / "s.png", "--json")
    assert picture.exit_code == 0, picture.output
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capped = json.loads(picture.stdout)
    assert capped["chars"] == 300 and capped["truncated"] is True


@pytest.mark.parametrize(("args", "message"), [
    ([], "give a TEXT or --file"),
    (["x", "--file", "f.txt"], "give a TEXT or --file"),
    (["--file", "missing.txt"], "text file not found"),
    (["é"], "never saw"),
    (["abc", "--out", "page.pdf"], "--out must end in .html or .png"),
    (["abc", "--top", "0"], "--top must be >= 1"),
    (["abc", "--max-chars", "0"], "--max-chars must be >= 1"),
    (["\n\n\n"], None),  # fine for a stream model: three line breaks to explain
])
def test_bad_input_is_one_line(cli, one_error_line, trained_run, args, message):
    result = cli("explain", *args, "--checkpoint", trained_run)
    if message is None:
        assert result.exit_code == 0, result.output
    else:
        assert message in one_error_line(result)


def test_a_documents_model_with_no_document_to_read_says_so(tmp_path, cli, one_error_line):
    names = tmp_path / "names.txt"
    names.write_text("emma\nolivia\nava\n" * 30, encoding="utf-8")
    assert cli("train", names, "--documents", "lines", "--steps", "5", "--hidden-size", "16",
               "--embed-size", "8", "--batch-size", "4", "--out", tmp_path / "run").exit_code == 0
    line = one_error_line(cli("explain", "\n\n", "--checkpoint", tmp_path / "run"))
    assert "no character to explain" in line


def test_the_page_opens_offline_and_shows_predictions_on_hover(cli, trained_run, tmp_path,
                                                                offline_page):
    page_file = tmp_path / "surprise.html"
    assert cli("explain", TEXT, "--checkpoint", trained_run, "--out", page_file).exit_code == 0
    html = page_file.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html  # nothing fetched: offline
    with offline_page(page_file) as page:
        spans = page.locator("#text span")
        assert spans.count() == len(TEXT)
        spans.nth(9).hover()  # the "t" of "that"
        tip = page.inner_text("#tip")
        assert tip.startswith("t: ") and "expected:" in tip and tip.count("%") == 5
        assert "bits per character" in page.inner_text("#summary")


def test_a_text_that_would_end_the_pages_script_still_renders(cli, fast_flags, tmp_path,
                                                              tiny_text, offline_page):
    """`</script>` would end the page's data early, and `<!--` then `<script>` would keep
    it from ending at all: explain and neurons pages of such a text, from a run whose
    folder (the model's name on the page) is named so too, still render every character."""
    text = "<!--</script><script>\u2028<!-- <script>\n"
    corpus = tmp_path / "tags.txt"
    corpus.write_text(tiny_text(10) + text * 20, encoding="utf-8")
    run = tmp_path / "<!--<script>\u2028"
    assert cli("train", corpus, *fast_flags, "--out", run).exit_code == 0
    for command in ("explain", "neurons"):
        page_file = tmp_path / f"{command}.html"
        result = cli(command, text, "--checkpoint", run, "--out", page_file)
        assert result.exit_code == 0, result.output
        with offline_page(page_file) as page:
            assert page.locator("#text span").count() == len(text)
            assert page.inner_text("#model").startswith("<!--<script>\u2028 (")
            page.locator("#text span").nth(1).hover()
            assert "!: " in page.inner_text("#tip")  # explain: "!: ...", neurons: "... after !: "


def test_a_model_of_files_explains_a_text_as_one_file_with_its_end():
    """A model whose documents are files reads a text to explain as one file, from its
    start, and scores the end of it too (it refused: documents must be lines or
    paragraphs)."""
    from pathlib import Path

    import charrnn

    lm = charrnn.load(Path(__file__).parent / "data" / "golden" / "lstm-1-char-files.safetensors")
    text = "the cat"
    found = lm.explain(text)
    assert len(found.bits) == len(text) + 1  # each character, then the file's end
    assert abs(sum(found.bits) - lm.evaluate(text).nats / math.log(2)) < 1e-3
