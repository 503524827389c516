"""The corpus side of `charrnn train` from the command line: encodings, levels, splits."""

import json

import pytest

import charrnn


def test_byte_level_trains_on_any_file_and_keeps_exact_bytes(tmp_path, cli, fast_flags,
                                                             one_error_line, tiny_text):
    blob = tmp_path / "mixed.bin"
    blob.write_bytes(tiny_text(20).encode() + b"\xff\xfe\x00\x01 caf\xc3\xa9 " * 50)
    refused = cli("train", blob, *fast_flags)
    assert "not valid utf-8 (bad byte at offset" in one_error_line(refused)
    assert "--level byte" in refused.stderr

    assert cli("train", blob, *fast_flags, "--level", "byte", "--out", "runs/bytes").exit_code == 0
    model = ["--checkpoint", "runs/bytes"]
    data = json.loads(cli("sample", "--length", "40", "--json", "--seed", "1", *model).stdout)
    raw = bytes.fromhex(data["bytes_hex"])
    assert len(raw) == 40 and data["text"] == raw.decode("utf-8", "replace")
    streamed = cli("sample", "--length", "40", "--seed", "1", "--prime", "caf", *model)
    assert streamed.exit_code == 0 and streamed.stdout.startswith("caf")

    lm = charrnn.load("runs/bytes")
    assert lm.vocab.level == "byte"
    for text, score in lm.beam(12, width=4, prime="é", n_best=3):
        assert score == pytest.approx(lm.logprob(text, "é"), abs=1e-4)
        assert len(text.encode("utf-8", "surrogateescape")) == 12
    beam_json = json.loads(cli("beam", "--length", "8", "--width", "3", "--json", *model).stdout)
    assert len(bytes.fromhex(beam_json["results"][0]["bytes_hex"])) == 8


def test_encoding_and_newline_options(tmp_path, cli, fast_flags, one_error_line, tiny_text):
    latin = tmp_path / "latin.txt"
    latin.write_bytes(tiny_text(10).replace("\n", "\r\n").encode("latin-1") + "déjà\r\n".encode(
        "latin-1"))
    assert "--encoding" in one_error_line(cli("train", latin, *fast_flags))
    assert cli("train", latin, *fast_flags, "--encoding", "latin-1", "--out", "a").exit_code == 0
    assert "\r" not in charrnn.load("a").vocab.chars and "é" in charrnn.load("a").vocab.chars
    assert cli("train", latin, *fast_flags, "--encoding", "latin-1", "--keep-newlines",
               "--out", "b").exit_code == 0
    assert "\r" in charrnn.load("b").vocab.chars
    assert "not a text encoding" in one_error_line(cli("train", latin, "--encoding", "klingon"))


def test_validation_file_with_unknown_characters_is_reported(corpus_file, tmp_path, cli,
                                                             fast_flags):
    val = tmp_path / "val.txt"
    val.write_text("ROMEO:\nO that I were a glove 😀 ¿qué?\n", encoding="utf-8")
    result = cli("train", corpus_file, *fast_flags, "--val-file", val)
    assert result.exit_code == 0, result.output
    assert "character(s) the training text lacks" in result.stderr and "'😀'" in result.stderr


@pytest.mark.parametrize("content,message", [
    (b"", "corpus file is empty"),
    (b"\x00" * 4000 + b"hello", "looks like binary data"),
    (b"\xef\xbb\xbf", "holds no text"),
])
def test_unusable_files_are_one_line(tmp_path, content, message, cli, fast_flags, one_error_line):
    path = tmp_path / "c.txt"
    path.write_bytes(content)
    assert message in one_error_line(cli("train", path, *fast_flags))


def test_an_empty_directory_is_one_line(tmp_path, cli, fast_flags, one_error_line):
    """A folder is a corpus of many files (tests/test_folders.py); one with none is not."""
    assert "holds no files" in one_error_line(cli("train", tmp_path, *fast_flags))


def test_the_progress_display_reports_cache_preparation(corpus_file, cli, fast_flags):
    first = cli("train", corpus_file, *fast_flags)
    assert "cache prepared in" in first.stderr
    second = cli("train", corpus_file, *fast_flags)
    assert "cache found, ready in" in second.stderr


def test_training_inside_its_own_corpus_folder_reads_only_the_texts(tmp_path, cli, fast_flags,
                                                                     one_error_line,
                                                                     tiny_text):
    """`charrnn train .` writes checkpoints/ (and here the cache, CHARRNN_CACHE=./cache)
    inside the folder it reads: the next run leaves them out and says so, so --resume
    finds its corpus unchanged; a run folder given as the corpus, or as `--out` for the
    corpus folder itself, is one line that names the conflict."""
    for name in ("act1.txt", "act2.txt"):
        (tmp_path / name).write_text(tiny_text(12), encoding="utf-8")
    first = cli("train", ".", *fast_flags)
    assert first.exit_code == 0, first.output
    run = next((tmp_path / "checkpoints").iterdir())
    steps = fast_flags.index("--steps") + 1
    more = [*fast_flags[:steps], "40", *fast_flags[steps + 1:]]
    resumed = cli("train", ".", *more, "--resume")
    assert resumed.exit_code == 0, resumed.output
    sources = next(line for line in resumed.stderr.splitlines() if line.startswith("sources"))
    assert "left out: cache (the corpus cache), checkpoints (where charrnn keeps its " \
           "runs)" in sources
    meta = charrnn.load(run).meta
    assert meta["step"] == 40 and meta["corpus"]["files"] == 2
    before = sorted(p.name for p in run.iterdir())
    conflict = one_error_line(cli("train", ".", *fast_flags, "--out", "."))
    assert "corpus folder . is the run folder" in conflict and "--out" in conflict
    assert "is a run folder" in one_error_line(cli("train", str(run), *fast_flags))
    assert sorted(p.name for p in run.iterdir()) == before
