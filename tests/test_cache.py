import json
import os
import subprocess
import sys

import pytest
import torch

from charrnn.config import DataConfig
from charrnn.data.cache import cache_root, encode_validation, prepare
from charrnn.errors import CorpusError

BODY = "ROMEO: café 漢字 😀\r\nJULIET: e\u0301!\r\n" * 50
TEXT = "\ufeff" + BODY  # a byte-order mark, then Windows line endings


def test_ids_match_the_decoded_text_and_are_memory_mapped(tmp_path, prepared):
    path = tmp_path / "play.txt"
    path.write_bytes(TEXT.encode())
    corpus = prepared(path)
    expected = BODY.replace("\r\n", "\n")
    assert corpus.vocab.decode(corpus.ids.long()) == expected
    assert corpus.ids.dtype == torch.uint8  # the vocabulary fits in a byte
    assert not corpus.cached
    assert corpus.vocab.counts[corpus.vocab.index["😀"]] == 50
    assert list(cache_root().glob("*.ids")) and list(cache_root().glob("*.json"))


def test_second_run_reuses_the_cache_and_options_make_new_entries(tmp_path, prepared):
    path = tmp_path / "play.txt"
    path.write_bytes(TEXT.encode())
    first = prepared(path)
    again = prepared(path)
    assert again.cached and torch.equal(first.ids, again.ids)
    kept = prepared(path, keep_newlines=True)
    assert not kept.cached and "\r" in kept.vocab.chars
    raw = prepared(path, level="byte")
    assert raw.vocab.level == "byte" and len(raw.vocab) == 256
    assert bytes(raw.ids.tolist()) == TEXT.encode()
    assert len(list(cache_root().glob("*.json"))) == 3


def test_a_changed_file_is_prepared_again(tmp_path, prepared):
    path = tmp_path / "play.txt"
    path.write_text("abc abc abc\n")
    prepared(path)
    path.write_text("xyz xyz xyz\n")
    corpus = prepared(path)
    assert not corpus.cached and corpus.vocab.chars == ["\n", " ", "x", "y", "z"]


def test_a_damaged_cache_entry_is_rebuilt(tmp_path, prepared):
    path = tmp_path / "play.txt"
    path.write_text("hello world\n" * 10)
    prepared(path)
    (ids_file,) = cache_root().glob("*.ids")
    ids_file.write_bytes(b"\x00")  # truncated, as after a crash mid-write
    corpus = prepared(path)
    assert not corpus.cached and corpus.vocab.decode(corpus.ids.long()) == "hello world\n" * 10


def test_large_vocabularies_use_wider_ids(tmp_path, prepared):
    path = tmp_path / "cjk.txt"
    path.write_text("".join(chr(0x4E00 + i) for i in range(600)) * 2)
    corpus = prepared(path)
    assert corpus.ids.dtype == torch.int32 and len(corpus.vocab) == 600
    assert corpus.vocab.decode(corpus.ids[:3].long()) == "一丁丂"


def test_binary_files_train_at_byte_level(tmp_path, prepared):
    path = tmp_path / "blob.bin"
    blob = bytes(range(256)) * 4 + b"\x00" * 2000
    path.write_bytes(blob)
    with pytest.raises(CorpusError, match="binary"):
        prepared(path)
    corpus = prepared(path, level="byte")
    assert bytes(corpus.ids.tolist()) == blob


def test_validation_file_reports_unknown_characters(tmp_path, prepared):
    train = tmp_path / "train.txt"
    train.write_text("abc abc\n" * 20)
    val = tmp_path / "val.txt"
    val.write_text("abc xyz éé\n")
    corpus = prepared(train)
    ids, dropped, examples = encode_validation(val, corpus.vocab, DataConfig(), limit=1000)
    assert corpus.vocab.decode(ids) == "abc  \n"
    assert dropped == 5 and examples == ["x", "y", "z", "é"]
    _, _, _ = encode_validation(val, corpus.vocab, DataConfig(), limit=3)
    assert encode_validation(val, corpus.vocab, DataConfig(), limit=3)[0].numel() == 3


def test_preparation_keeps_memory_flat(tmp_path):
    """Peak RSS while preparing a 64 MB file stays far below the file's size in memory
    as Python text (which would be 64+ MB for the string alone, 4x that as code points)."""
    path = tmp_path / "big.txt"
    line = "ROMEO: O, she doth teach the torches to burn bright! 漢字 😀\n"
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(64_000_000 // len(line.encode())):
            handle.write(line)
    script = (
        "import resource, sys; from charrnn.data.cache import prepare; "
        "c = prepare(sys.argv[1]); assert c.ids.numel() > 50_000_000; "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)"
    )
    base = subprocess.run([sys.executable, "-c", "import resource, torch, charrnn.data.cache; "
                           "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)"],
                          capture_output=True, text=True, check=True, env=os.environ)
    peak = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, check=True, env=os.environ)
    assert int(peak.stdout) - int(base.stdout) < 120, (base.stdout, peak.stdout)


def test_prepare_refuses_bad_files(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        prepare(tmp_path / "nope.txt")
    bom_only = tmp_path / "bom.txt"
    bom_only.write_bytes(b"\xef\xbb\xbf")
    with pytest.raises(CorpusError, match="holds no text"):
        prepare(bom_only)


@pytest.mark.parametrize("level", ["char", "byte"])
def test_a_file_that_changes_while_it_is_prepared_is_never_cached(tmp_path, monkeypatch,
                                                                  level):
    """A character that appears between the count and the encoding must not be stored as
    a wrong id under the first hash: one clear error, no entry; the next run is right."""
    from charrnn.data import cache

    path = tmp_path / "log.txt"
    path.write_text("abc abc\n" * 20)
    real = cache._count

    def count_then_append(*args):
        vocab = real(*args)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("new words: xyz\n")  # written while the file is prepared
        return vocab

    monkeypatch.setattr(cache, "_count", count_then_append)
    with pytest.raises(CorpusError, match="changed while it was being prepared"):
        prepare(path, DataConfig(level=level))
    assert not list(cache_root().glob("*.json")) and not list(cache_root().glob("*.ids"))
    monkeypatch.setattr(cache, "_count", real)
    corpus = prepare(path, DataConfig(level=level))
    assert not corpus.cached
    assert corpus.vocab.decode(corpus.ids.long()) == path.read_text()


def test_a_file_of_a_folder_that_changes_after_it_is_hashed_is_refused_not_skipped(
        tmp_path, monkeypatch):
    """Between hashing a folder's files and preparing each, a file grows: that is one
    error (not a file skipped as unreadable) and no entry, of it or of the join, is kept."""
    from charrnn.data import collection

    (tmp_path / "notes").mkdir()
    for name in ("a.txt", "b.txt"):
        (tmp_path / "notes" / name).write_text(f"{name} abc\n" * 5)
    real = collection.prepare

    def appended_first(path, *args, **kwargs):
        if path.name == "b.txt" and "zzz" not in path.read_text():
            with open(path, "a", encoding="utf-8") as handle:
                handle.write("zzz\n")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(collection, "prepare", appended_first)
    with pytest.raises(CorpusError, match="b.txt changed while it was being prepared"):
        collection.prepare_files([str(tmp_path / "notes")])
    entries = [json.loads(p.read_text()) for p in cache_root().glob("*.json")]
    assert [e["source"] for e in entries] == [str(tmp_path / "notes" / "a.txt")]
    corpus = collection.prepare_files([str(tmp_path / "notes")])
    assert "zzz" in corpus.vocab.decode(corpus.ids.long())


def _corpus_in(root, kind, **options):
    """The corpus of `kind` under root, prepared with DataConfig `options`."""
    from charrnn.data.collection import prepare_files

    if kind == "file":
        return prepare(root / "a.txt", DataConfig(**options))
    if kind == "folder":
        return prepare_files([str(root / "texts")], DataConfig(**options))
    return prepare_files([str(root / "quotes.tsv")],
                         DataConfig(documents="lines", label_from="tab", **options))


IDS_OPTIONS = [("level", "byte"), ("encoding", "latin-1"), ("keep_newlines", True)]


@pytest.mark.parametrize("kind,option,value", [
    *((kind, *option) for kind in ("file", "folder", "labelled lines") for option in IDS_OPTIONS),
    ("folder", "label_from", "dirname"), ("folder", "label_from", "filename")])
def test_every_option_that_changes_the_ids_is_in_every_cache_key(tmp_path, monkeypatch,
                                                                  kind, option, value):
    """Prepared after the same text without the option (a warm cache), a corpus is what
    a cold cache makes of it: `--keep-newlines` reused a split of LABEL<TAB> lines made
    without it."""
    body = "happy\tcafé au lait\r\ngrim\tDOOM, then café\r\n".encode()  # latin-1 reads it too
    (tmp_path / "a.txt").write_bytes(body)
    (tmp_path / "quotes.tsv").write_bytes(body)
    for name in ("alice", "bob"):
        (tmp_path / "texts" / name).mkdir(parents=True)
        (tmp_path / "texts" / name / "a.txt").write_bytes(body + name.encode())
    _corpus_in(tmp_path, kind)
    warm = _corpus_in(tmp_path, kind, **{option: value})
    monkeypatch.setenv("CHARRNN_CACHE", str(tmp_path / "cold"))
    cold = _corpus_in(tmp_path, kind, **{option: value})
    assert warm.vocab.to_dict() == cold.vocab.to_dict()
    assert torch.equal(warm.ids, cold.ids)
    assert warm.vocab.decode(warm.ids.long()) == cold.vocab.decode(cold.ids.long())
