"""Reading training text in chunks: decoding, byte-order marks, newlines, clear errors.

Nothing here holds a whole file in memory; `cache.py` turns these chunks into a
memory-mapped id file.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from pathlib import Path

from charrnn.config import DataConfig
from charrnn.errors import CorpusError
from charrnn.paths import exists

CHUNK_BYTES = 1 << 20
_MAX_NUL_SHARE = 0.10


def check_file(path: str | Path, what: str = "corpus") -> Path:
    """The path, if it names a readable non-empty file; otherwise one clear error."""
    if not exists(path):  # a name no file can have (too long, a NUL) is not found either
        raise CorpusError(f"{what} file not found: {path}")
    path = Path(path)
    if path.is_dir():
        raise CorpusError(f"{what} path is a directory, not a text file: {path}")
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise CorpusError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if size == 0:
        raise CorpusError(f"{what} file is empty: {path}")
    return path


MAX_WORD_LIST = 10_000_000  # bytes of a word list (an --exclude-file)


def read_word_list(path: str | Path, what: str = "word list") -> tuple[str, ...]:
    """The words of a UTF-8 file (separated by white space), in their order, each once;
    a missing, empty, binary or oversized (MAX_WORD_LIST) file is one clear error."""
    path = check_file(path, what)
    if path.stat().st_size > MAX_WORD_LIST:
        raise CorpusError(f"{what} {path} is larger than {MAX_WORD_LIST:,} bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CorpusError(f"{what} {path} is not UTF-8 text") from None
    if "\0" in text:
        raise CorpusError(f"{what} {path} is binary, not text")
    return tuple(dict.fromkeys(text.split()))


def iter_bytes(path: Path, chunk_bytes: int = CHUNK_BYTES, digest=None) -> Iterator[bytes]:
    """The file's bytes in blocks; `digest` (a hashlib object), when given, hears every
    block, so a pass that reads the file also hashes what it read."""
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            if digest is not None:
                digest.update(block)
            yield block


def _decoder_for(encoding: str) -> codecs.IncrementalDecoder:
    name = codecs.lookup(encoding).name
    return codecs.getincrementaldecoder("utf-8-sig" if name == "utf-8" else encoding)("strict")


def _normalise_newlines(text: str, held_cr: bool) -> tuple[str, bool]:
    """\\r\\n and lone \\r -> \\n; a trailing \\r waits for the next chunk (it may be \\r\\n)."""
    if held_cr:
        text = "\r" + text
    held = text.endswith("\r")
    if held:
        text = text[:-1]
    return text.replace("\r\n", "\n").replace("\r", "\n"), held


def iter_text(path: Path, data: DataConfig, chunk_bytes: int = CHUNK_BYTES,
              on_bytes: Callable[[int], None] | None = None, digest=None) -> Iterator[str]:
    """Decoded text of a file in chunks, with the byte-order mark dropped and newlines
    normalised to \\n (unless data.keep_newlines). Invalid input raises a CorpusError
    naming the byte offset; a file that is mostly NUL bytes is refused as binary.
    `on_bytes` hears how many bytes have been read so far; `digest` hashes them."""
    decoder = _decoder_for(data.encoding)
    offset = nuls = chars = 0
    held_cr = False
    hint = f"pass `encoding` if it is not {data.encoding}, or `level` byte to learn raw bytes"
    for block in iter_bytes(path, chunk_bytes, digest):
        waiting = len(decoder.getstate()[0])
        try:
            text = decoder.decode(block)
        except UnicodeDecodeError as exc:
            at = offset - waiting + exc.start
            raise CorpusError(f"{path} is not valid {data.encoding} (bad byte at offset {at}); "
                              f"{hint}") from None
        offset += len(block)
        nuls, chars = nuls + text.count("\x00"), chars + len(text)
        if nuls > _MAX_NUL_SHARE * chars:
            raise CorpusError(f"{path} looks like binary data (it is full of NUL characters); "
                              "use `level` byte to learn raw bytes")
        if on_bytes is not None:
            on_bytes(offset)
        if not data.keep_newlines:
            text, held_cr = _normalise_newlines(text, held_cr)
        if text:
            yield text
    try:
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise CorpusError(f"{path} ends inside a {data.encoding} character "
                          f"(offset {offset - len(decoder.getstate()[0])}); {hint}") from None
    if held_cr:
        tail += "\r" if data.keep_newlines else "\n"
    if tail:
        yield tail


def iter_symbols(path: Path, data: DataConfig,
                 on_bytes: Callable[[int], None] | None = None) -> Iterator[str]:
    """A file as text chunks at either level: decoded text for "char"; for "byte", the raw
    bytes as surrogate-escaped text (what `ByteVocab.lookup` reads back into bytes)."""
    if data.level != "byte":
        yield from iter_text(path, data, on_bytes=on_bytes)
        return
    done = 0
    for block in iter_bytes(path):
        done += len(block)
        if on_bytes is not None:
            on_bytes(done)
        yield block.decode("utf-8", "surrogateescape")
