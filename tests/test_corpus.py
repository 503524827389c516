import pytest

from charrnn.config import DataConfig
from charrnn.data.reading import builtin_corpus_file, builtin_text, check_file, iter_text
from charrnn.errors import CorpusError

UNICODE = "ROMEO: café, naïve e\u0301 漢字かな 😀🇫🇷\nline two\n"


def read(path, chunk=4 << 20, **data):
    return "".join(iter_text(path, DataConfig(**data), chunk_bytes=chunk))


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 4096])
def test_unicode_survives_any_chunk_border(tmp_path, chunk):
    path = tmp_path / "u.txt"
    path.write_bytes(("\ufeff" + UNICODE.replace("\n", "\r\n") + "old mac\rend\r").encode())
    assert read(path, chunk) == UNICODE + "old mac\nend\n"
    assert read(path, chunk, keep_newlines=True) == (
        UNICODE.replace("\n", "\r\n") + "old mac\rend\r")


def test_other_encodings(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("déjà vu\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"not valid utf-8 \(bad byte at offset 1\).*--encoding"
                                          r".*--level byte"):
        read(path)
    assert read(path, encoding="latin-1") == "déjà vu\n"
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("hé\r\n".encode("utf-16"))  # with its byte-order mark
    assert read(utf16, encoding="utf-16") == "hé\n"


@pytest.mark.parametrize("chunk", [2, 4096])
def test_invalid_utf8_names_the_offset(tmp_path, chunk):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good text " + "é".encode() + b" then \xff here")
    with pytest.raises(CorpusError, match="bad byte at offset 18"):
        read(path, chunk)


def test_truncated_last_character(tmp_path):
    path = tmp_path / "cut.txt"
    path.write_bytes("ok 😀".encode()[:-1])
    with pytest.raises(CorpusError, match="ends inside a utf-8 character"):
        read(path)


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "not found"),
    (lambda p: p.mkdir(), "directory"),
    (lambda p: p.write_bytes(b""), "empty"),
])
def test_bad_paths_are_one_clear_error(tmp_path, setup, message):
    path = tmp_path / "corpus.txt"
    setup(path)
    with pytest.raises(CorpusError, match=message):
        check_file(path)


def test_binary_file_is_refused_in_char_mode(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00" * 500 + b"abc")
    with pytest.raises(CorpusError, match="binary.*--level byte"):
        read(path)


def test_builtin_corpus_is_deterministic_capped_python_source():
    first = builtin_text(cap_bytes=300_000)
    assert first == builtin_text(cap_bytes=300_000)
    assert 50_000 < len(first) <= 300_000
    assert b"def " in first and b"import " in first
    path = builtin_corpus_file()
    assert path.read_bytes() == builtin_text() and path.name.startswith("python-stdlib-")
