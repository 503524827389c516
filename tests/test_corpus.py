import pytest

from charrnn.corpus import BUILTIN_NAME, builtin_corpus, read_corpus
from charrnn.errors import CorpusError


def test_reads_utf8_and_drops_the_byte_order_mark(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffHello, 世界 😀\n".encode())
    corpus = read_corpus(path)
    assert corpus.text == "Hello, 世界 😀\n"
    assert corpus.name == "bom"
    assert len(corpus.sha256) == 64


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "not found"),
    (lambda p: p.mkdir(), "directory"),
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(b"caf\xe9 au lait"), r"not valid UTF-8 \(bad byte at offset 3\)"),
    (lambda p: p.write_bytes(b"\x00" * 500 + b"abc"), "binary"),
])
def test_bad_corpus_files_are_one_clear_error(tmp_path, setup, message):
    path = tmp_path / "corpus.txt"
    setup(path)
    with pytest.raises(CorpusError, match=message):
        read_corpus(path)


def test_builtin_corpus_is_deterministic_capped_python_source():
    first = builtin_corpus(cap_bytes=300_000)
    second = builtin_corpus(cap_bytes=300_000)
    assert first.name == BUILTIN_NAME
    assert first.sha256 == second.sha256 and first.text == second.text
    assert 50_000 < len(first.text.encode()) <= 300_000
    assert "def " in first.text and "import " in first.text
