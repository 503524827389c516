"""Which substrings of a text occur in a corpus: a suffix array over the corpus's ids.

The array is built once by libdivsufsort (through pydivsufsort) and cached beside the id
cache, keyed by the text it indexes, so a second question about the same corpus only
maps it. Building holds the ids and the array (4 bytes per symbol): about 5 bytes per
character, 500 MB for a 100 MB corpus; asking memory-maps both.

For every position of a query, `match_lengths` finds the longest prefix of the query
there that occurs anywhere in the corpus, by a binary search run for all positions at
once: the suffix sharing the most with a query sits next to where the query would be
inserted among the sorted suffixes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from charrnn.atomic import write_atomic

_QUERY_PAD, _CORPUS_PAD = -2, -1  # past a query's end / the corpus's end: never equal


class SubstringIndex:
    """A corpus of ids (1-D integer array) and its suffix array."""

    def __init__(self, ids: np.ndarray, suffixes: np.ndarray):
        self.ids, self.suffixes = ids, suffixes

    @classmethod
    def build(cls, ids: np.ndarray) -> SubstringIndex:
        from pydivsufsort import divsufsort

        ids = np.ascontiguousarray(ids)
        if ids.dtype not in (np.uint8, np.uint16, np.int32):
            ids = ids.astype(np.int32)
        if not ids.flags.writeable:  # libdivsufsort's wrapper takes writable arrays only
            ids = ids.copy()
        return cls(ids, divsufsort(ids) if ids.size else np.zeros(0, dtype=np.int64))

    @classmethod
    def cached(cls, ids: np.ndarray, folder: Path, key: str) -> SubstringIndex:
        """The index of `ids`, from `folder` if it was built before under `key` (which
        must name the text: its corpus's hash and how the text was cut from it), else
        built now and saved there."""
        stem = folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}-sa"
        meta_path, array_path = stem.with_suffix(".json"), stem.with_suffix(".npy")
        if meta_path.is_file() and array_path.is_file():
            suffixes = np.load(array_path, mmap_mode="r")
            if suffixes.shape == (ids.size,):
                return cls(np.ascontiguousarray(ids), suffixes)
        index = cls.build(ids)
        folder.mkdir(parents=True, exist_ok=True)
        with open(array_path.with_suffix(".tmp"), "wb") as handle:
            np.save(handle, index.suffixes)
        array_path.with_suffix(".tmp").replace(array_path)
        write_atomic(meta_path, json.dumps({"symbols": int(ids.size)}).encode())
        return index

    def _windows(self, starts: np.ndarray, cap: int) -> np.ndarray:
        """The corpus's next `cap` ids after each start (padded past its end)."""
        at = starts[:, None] + np.arange(cap)[None, :]
        inside = at < self.ids.size
        return np.where(inside, self.ids[np.minimum(at, self.ids.size - 1)].astype(np.int64),
                        _CORPUS_PAD)

    def match_lengths(self, query: np.ndarray, cap: int = 64
                      ) -> tuple[np.ndarray, np.ndarray]:
        """For every position of `query` (ids; -2 marks a boundary nothing crosses), the
        length of the longest substring starting there that the corpus holds (at most
        `cap`), and a corpus offset where it occurs."""
        query = np.asarray(query, dtype=np.int64)
        at = np.arange(query.size)[:, None] + np.arange(cap)[None, :]
        windows = np.where(at < query.size, query[np.minimum(at, query.size - 1)], _QUERY_PAD)
        n = self.suffixes.size
        if n == 0 or query.size == 0:
            return np.zeros(query.size, dtype=np.int64), np.zeros(query.size, dtype=np.int64)
        low, high = np.zeros(query.size, dtype=np.int64), np.full(query.size, n)
        while np.any(low < high):  # lower bound: the first suffix not below the window
            middle = (low + high) // 2
            seen = self._windows(self.suffixes[np.minimum(middle, n - 1)], cap)
            below = _less(seen, windows) & (low < high)
            low = np.where(below, middle + 1, low)
            high = np.where(~below & (low < high), middle, high)
        best_len, best_at = np.zeros(query.size, dtype=np.int64), np.zeros(query.size,
                                                                          dtype=np.int64)
        for neighbour in (low, low - 1):
            valid = (neighbour >= 0) & (neighbour < n)
            starts = self.suffixes[np.clip(neighbour, 0, n - 1)].astype(np.int64)
            length = np.where(valid, _common_prefix(self._windows(starts, cap), windows), 0)
            better = length > best_len
            best_len, best_at = np.where(better, length, best_len), np.where(better, starts,
                                                                             best_at)
        return best_len, best_at


def _less(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row by row, whether a sorts before b (first differing column decides)."""
    differ = a != b
    first = differ.argmax(axis=1)
    rows = np.arange(a.shape[0])
    return differ.any(axis=1) & (a[rows, first] < b[rows, first])


def _common_prefix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row by row, how many leading columns are equal (padding never is)."""
    same = (a == b) & (b >= 0)
    return np.where(same.all(axis=1), a.shape[1], (~same).argmax(axis=1))
