"""Beam search: every beam of a step advances in one batched forward pass, and hidden
states follow their beams by index.

Scores are exact: a beam's log-probability is the sum of the step log-probabilities that
`charrnn.decoding.decoder.logprob` also reads. Without stop strings, a width of |V|^(L-1) keeps
every prefix, so the search is exhaustive.
"""

from __future__ import annotations

import numpy as np
import torch

from charrnn.config import BeamConfig
from charrnn.decoding.constraints import Guide
from charrnn.decoding.decoder import Decoder, Start, check_length, ends_with


def banned_ngrams(context: np.ndarray, n: int, vocab: int) -> np.ndarray:
    """(rows, vocab) mask of characters that would repeat an n-gram of each row's context."""
    rows, length = context.shape
    ban = np.zeros((rows, vocab), dtype=bool)
    if n < 1 or length < n:
        return ban
    grams = np.lib.stride_tricks.sliding_window_view(context, n, axis=1)  # (rows, L-n+1, n)
    prefix = context[:, length - (n - 1):] if n > 1 else context[:, :0]
    match = (grams[:, :, : n - 1] == prefix[:, None, :]).all(axis=-1)
    row, pos = match.nonzero()
    ban[row, grams[row, pos, n - 1]] = True
    return ban


def score(logprob: float, length: int, alpha: float) -> float:
    """Ranking score of a finished beam: log-prob / length^alpha (alpha 0: the log-prob)."""
    return logprob / (max(length, 1) ** alpha) if alpha else logprob


def best(candidates: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries, largest first; ties: the lower index first."""
    return np.argsort(-candidates, kind="stable")[:k]


def beam_search(
    decoder: Decoder, prime: torch.Tensor, length: int, cfg: BeamConfig,
    stops: list[np.ndarray] | None = None, guide: Guide | None = None,
) -> list[tuple[list[int], float]]:
    """The cfg.n_best best continuations (ids, total log-prob in nats), best first.

    A beam is finished when it reaches `length` characters or ends with a stop sequence
    (which it keeps); finished beams are ranked by `score`. With `guide` (one row), only
    texts that meet its constraints are kept, a stop ending only those that do.
    """
    check_length(length)
    cfg.validate()
    return beam_from(decoder, decoder.start(prime), prime, length, cfg, stops, guide)


def beam_from(
    decoder: Decoder, start: Start, context: torch.Tensor, length: int, cfg: BeamConfig,
    stops: list[np.ndarray] | None = None, guide: Guide | None = None,
) -> list[tuple[list[int], float]]:
    """`beam_search` from a position already reached: `start` (see `Decoder.start`),
    after the text of ids `context` (what no_repeat_ngram reads)."""
    check_length(length)
    cfg.validate()
    stop_ids = [np.asarray(s) for s in (stops or []) if len(s)]
    vocab, context = decoder.vocab_size, context.numpy()
    logprobs = start[1].numpy()
    state = tuple(np.ascontiguousarray(s.numpy()) for s in start[0])
    scores = np.zeros(1)
    tokens = np.zeros((1, 0), dtype=np.int64)
    finished: list[tuple[list[int], float]] = []
    for i in range(length):
        step = logprobs.astype(np.float64)
        if cfg.no_repeat_ngram:
            seen = np.concatenate([np.broadcast_to(context, (len(tokens), context.size)),
                                   tokens], axis=1)
            step[banned_ngrams(seen, cfg.no_repeat_ngram, vocab)] = -np.inf
        if guide is not None:  # what would break a constraint, or leave too little room
            step = guide.masked(step, length - i)
        candidates = (scores[:, None] + step).ravel()
        pool = 2 * cfg.width if stop_ids else cfg.width  # room to refill after beams finish
        flat = best(candidates, pool)
        top = candidates[flat]
        if top[-1] == -np.inf:  # sorted: impossible candidates are at the end, and go
            flat, top = flat[np.isfinite(top)], top[np.isfinite(top)]
        beams, chars = flat // vocab, flat % vocab
        tokens = np.concatenate([tokens[beams], chars[:, None]], axis=1)
        if guide is not None:
            guide.shrink(beams)
            guide.advance(chars, length - i - 1)
        if stop_ids:
            done = ends_with(tokens, stop_ids)
            if guide is not None:  # a stop ends only a text that meets its constraints
                done &= guide.accepted()
            finished += [(tokens[j].tolist(), float(top[j])) for j in np.flatnonzero(done)]
            keep = np.flatnonzero(~done)[: cfg.width]
            top, beams, chars, tokens = top[keep], beams[keep], chars[keep], tokens[keep]
            if guide is not None:
                guide.shrink(keep)
        scores = top
        if len(tokens) == 0:
            break
        if i + 1 < length:
            logprobs, state = decoder.advance(chars, tuple(s[:, beams] for s in state))
    if length == 0:
        finished.append(([], 0.0))
    else:
        finished += [(tokens[j].tolist(), float(scores[j])) for j in range(len(tokens))]
    finished.sort(key=lambda r: score(r[1], len(r[0]), cfg.length_penalty), reverse=True)
    return finished[: cfg.n_best]

