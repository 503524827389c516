"""Well-known public-domain corpora: a registry, and a checked, atomic download.

A download is hashed while it streams into a temporary file beside its destination; only
a complete file with the expected sha256 is renamed into place, so a failed, corrupted or
interrupted download leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from charrnn.atomic import atomic_writer, write_atomic
from charrnn.data.builtin import BUILTIN_NAME, builtin_text
from charrnn.errors import CorpusError

DEFAULT_DIR = Path("corpora")
_BLOCK = 1 << 16


@dataclass(frozen=True)
class KnownCorpus:
    name: str
    description: str
    url: str | None  # None: built in, made locally
    sha256: str | None
    size: int | None

    @property
    def filename(self) -> str:
        return f"{self.name}.txt"


REGISTRY: dict[str, KnownCorpus] = {
    corpus.name: corpus
    for corpus in [
        KnownCorpus(
            name="tinyshakespeare",
            description="Tiny Shakespeare: 40,000 lines of the plays, the classic char-rnn "
                        "benchmark (1,115,394 characters)",
            url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
                "tinyshakespeare/input.txt",
            sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            size=1_115_394,
        ),
        KnownCorpus(
            name=BUILTIN_NAME,
            description="The running Python's standard-library source (built in, offline; "
                        "what `charrnn train` uses without a file)",
            url=None, sha256=None, size=None,
        ),
    ]
}


def known(name: str) -> KnownCorpus:
    if name not in REGISTRY:
        raise CorpusError(f"unknown corpus {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def is_present(corpus: KnownCorpus, folder: Path = DEFAULT_DIR) -> bool:
    path = folder / corpus.filename
    if corpus.sha256 is None:
        return path.is_file()
    return path.is_file() and path.stat().st_size == corpus.size and _sha256(path) == corpus.sha256


def fetch(name: str, folder: Path = DEFAULT_DIR, url: str | None = None,
          progress: Callable[[int, int | None], None] | None = None,
          timeout: float = 30.0) -> tuple[Path, bool]:
    """Put corpus `name` into `folder`; returns (its path, whether anything was fetched).

    `url` overrides the registry's address (a mirror); the checksum is checked either way.
    """
    corpus = known(name)
    target = folder / corpus.filename
    if is_present(corpus, folder):
        return target, False
    try:
        if corpus.url is None:
            write_atomic(target, builtin_text())
            return target, True
        _download(url or corpus.url, corpus, target, progress, timeout)
    except OSError as exc:
        raise CorpusError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target, True


def _download(url: str, corpus: KnownCorpus, target: Path,
              progress: Callable[[int, int | None], None] | None, timeout: float) -> None:
    digest, done = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or corpus.size
            with atomic_writer(target) as handle:
                while block := response.read(_BLOCK):
                    handle.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
                if done != corpus.size or digest.hexdigest() != corpus.sha256:
                    raise CorpusError(
                        f"download of {corpus.name} from {url} failed its check (got "
                        f"{done:,} bytes, sha256 {digest.hexdigest()[:12]}...; expected "
                        f"{corpus.size:,} bytes, {corpus.sha256[:12]}...); nothing was kept")
    except urllib.error.URLError as exc:
        raise CorpusError(f"download of {corpus.name} from {url} failed: {exc.reason}; "
                          "nothing was kept") from None
    except (http.client.HTTPException, ConnectionError, TimeoutError, ValueError) as exc:
        raise CorpusError(f"download of {corpus.name} from {url} failed: "
                          f"{type(exc).__name__} {exc}; nothing was kept") from None
