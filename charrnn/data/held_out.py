"""A prepared corpus cut into the pieces training learned and the pieces it held out,
exactly as training cut them (the same settings, the same seeded choice): what a check
of a model's text against its corpus needs to rebuild (`decoding/novelty.py`).

Each layout is cut by the data layer's own rule: one stream's head and tail
(`split.split_ids`), one file's documents (`documents.split_documents`), many files per
source (`weighted_sources.split_by_source`). Nothing is held out of a corpus that was
validated on a separate file.
"""

from __future__ import annotations

import torch

from charrnn.data.cache import PreparedCorpus
from charrnn.data.documents import Documents, find_documents, split_documents
from charrnn.data.split import split_ids
from charrnn.data.weighted_sources import file_units, split_by_source


def held_out(prepared: PreparedCorpus, val_frac: float, seed: int, from_file: bool
             ) -> tuple[Documents, Documents]:
    """(training pieces, held-out pieces) of `prepared`, as positions in its ids;
    `from_file`: it was validated on another file, so nothing of it was held out."""
    cut = {"stream": _stream, "documents": _documents, "files": _files,
           "file documents": _files}[prepared.layout]
    return cut(prepared, val_frac, seed, from_file)


def _stream(prepared: PreparedCorpus, val_frac: float, seed: int, from_file: bool):
    ids = prepared.ids
    if from_file:
        return _pieces([0], [ids.numel()]), _pieces([], [])
    train, held = split_ids(ids, val_frac, prepared.data.val_max_chars)
    return _pieces([0], [train.numel()]), _pieces([train.numel()], [held.numel()])


def _documents(prepared: PreparedCorpus, val_frac: float, seed: int, from_file: bool):
    docs = find_documents(prepared.ids, prepared.vocab.index.get("\n"), prepared.data.documents)
    if from_file:
        return docs, _pieces([], [])
    return split_documents(docs, val_frac, seed, prepared.data.val_max_chars)


def _files(prepared: PreparedCorpus, val_frac: float, seed: int, from_file: bool):
    train, held = split_by_source(file_units(prepared), prepared.files, val_frac, seed,
                                  prepared.data.val_max_chars)
    return train.docs, held.docs


def _pieces(starts: list[int], lengths: list[int]) -> Documents:
    return Documents(torch.tensor(starts, dtype=torch.long),
                     torch.tensor(lengths, dtype=torch.long))
