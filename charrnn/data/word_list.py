"""The words of a corpus, kept with the model trained on it, so that generation can
write only real words (`--words-only`) without the corpus at hand.

A word is a run of word characters (letters, digits, apostrophes: `config.is_word_char`,
the rule every constraint counts words by), compared lowercased. The list is sorted and
stored in the checkpoint as one tensor of UTF-8 bytes, words separated by newlines;
reading it back is bounded (MAX_WORDS words, MAX_BYTES bytes, words of at most MAX_WORD
characters) like every other size a file controls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import torch

from charrnn.config import MAX_WORD, is_word_char
from charrnn.data.cache import PreparedCorpus
from charrnn.errors import CheckpointError

TENSOR = "words"  # the checkpoint tensor that holds the list
MAX_WORDS = 2_000_000
MAX_BYTES = 32_000_000
_CHUNK = 4_000_000  # characters read at once while listing a long text


def words_of(texts: Iterable[str]) -> list[str]:
    """Every distinct word of the texts, lowercased and sorted; words longer than
    MAX_WORD characters are left out (no constraint can name them)."""
    found: set[str] = set()
    for text in texts:
        start = 0
        while start < len(text):  # in chunks cut at line ends, which no word crosses
            end = text.find("\n", start + _CHUNK)
            end = len(text) if end < 0 else end
            chunk = text[start:end].lower()
            found.update(_word_pattern(chunk).findall(chunk))
            start = end
    words = sorted(w for w in found if len(w) <= MAX_WORD)
    return words[:MAX_WORDS]


def _word_pattern(text: str) -> re.Pattern[str]:
    """Runs of exactly the text's characters that `is_word_char` calls word ones."""
    chars = sorted(c for c in set(text) if is_word_char(c))
    return re.compile("[" + "".join(re.escape(c) for c in chars) + "]+" if chars else "(?!)")


def to_tensor(words: list[str]) -> torch.Tensor:
    """The list as a checkpoint tensor (uint8)."""
    blob = "\n".join(words).encode("utf-8")
    return torch.from_numpy(np.frombuffer(blob, dtype=np.uint8).copy())


def from_tensor(tensor: torch.Tensor) -> tuple[str, ...]:
    """The list back from a checkpoint's tensor, refused in one line where it is out of
    bounds or not a list of words."""
    if tensor.dtype != torch.uint8 or tensor.dim() != 1 or tensor.numel() > MAX_BYTES:
        raise CheckpointError(f"the checkpoint's word list must be at most {MAX_BYTES:,} "
                              "bytes of UTF-8")
    try:
        text = tensor.numpy().tobytes().decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError("the checkpoint's word list is not UTF-8") from None
    words = tuple(text.split("\n")) if text else ()
    if len(words) > MAX_WORDS or not all(
            0 < len(w) <= MAX_WORD and all(map(is_word_char, w)) for w in words):
        raise CheckpointError(f"the checkpoint's word list must hold at most {MAX_WORDS:,} "
                              f"words of 1 to {MAX_WORD} letters, digits or apostrophes")
    return words


def corpus_words(corpus: PreparedCorpus) -> list[str]:
    """The word list of a prepared corpus (none for a model of bytes: its symbols are
    not characters)."""
    if corpus.vocab.level != "char":
        return []
    return words_of([corpus.vocab.decode(corpus.ids)])
