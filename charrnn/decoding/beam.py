"""Beam search: every beam of a step advances in one batched forward pass, and hidden
states follow their beams by index.

Scores are exact: a beam's log-probability is the sum of the step log-probabilities that
`charrnn.decoding.decoder.logprob` also reads. Without stop strings, a width of |V|^(L-1) keeps
every prefix, so the search is exhaustive.
"""

from __future__ import annotations

import torch

from charrnn.config import BeamConfig
from charrnn.decoding.decoder import Decoder, check_length, ends_with_any
from charrnn.model.network import select_state


def banned_ngrams(context: torch.Tensor, n: int, vocab: int) -> torch.Tensor:
    """(rows, vocab) mask of characters that would repeat an n-gram of each row's context."""
    rows, length = context.shape
    ban = torch.zeros(rows, vocab, dtype=torch.bool)
    if n < 1 or length < n:
        return ban
    grams = context.unfold(1, n, 1)  # (rows, length-n+1, n)
    prefix = context[:, length - (n - 1):] if n > 1 else context[:, :0]
    match = (grams[:, :, : n - 1] == prefix[:, None, :]).all(dim=-1)
    row, pos = match.nonzero(as_tuple=True)
    ban[row, grams[row, pos, n - 1]] = True
    return ban


def score(logprob: float, length: int, alpha: float) -> float:
    """Ranking score of a finished beam: log-prob / length^alpha (alpha 0: the log-prob)."""
    return logprob / (max(length, 1) ** alpha) if alpha else logprob


def beam_search(
    decoder: Decoder, prime: torch.Tensor, length: int, cfg: BeamConfig,
    stops: list[torch.Tensor] | None = None,
) -> list[tuple[list[int], float]]:
    """The cfg.n_best best continuations (ids, total log-prob in nats), best first.

    A beam is finished when it reaches `length` characters or ends with a stop sequence
    (which it keeps); finished beams are ranked by `score`.
    """
    check_length(length)
    cfg.validate()
    stops = [s for s in (stops or []) if s.numel()]
    vocab = decoder.vocab_size
    state, logprobs = decoder.start(prime)
    scores = torch.zeros(1, dtype=torch.float64)
    tokens = torch.zeros(1, 0, dtype=torch.long)
    finished: list[tuple[list[int], float]] = []
    for i in range(length):
        step = logprobs.double()
        if cfg.no_repeat_ngram:
            context = torch.cat([prime.expand(tokens.shape[0], -1), tokens], dim=1)
            step = step.masked_fill(banned_ngrams(context, cfg.no_repeat_ngram, vocab),
                                    float("-inf"))
        candidates = (scores[:, None] + step).view(-1)
        pool = 2 * cfg.width if stops else cfg.width  # room to refill after beams finish
        top, flat = candidates.topk(min(pool, candidates.numel()))
        if top[-1] == float("-inf"):  # sorted: drop impossible candidates at the end
            alive = int(torch.isfinite(top).sum())
            top, flat = top[:alive], flat[:alive]
        beams, chars = flat // vocab, flat % vocab
        tokens = torch.cat([tokens.index_select(0, beams), chars[:, None]], dim=1)
        if stops:
            done = ends_with_any(tokens, stops)
            finished += [(tokens[j].tolist(), float(top[j])) for j in done.nonzero().flatten()]
            keep = torch.nonzero(~done).flatten()
            top, beams, chars, tokens = top[keep], beams[keep], chars[keep], tokens[keep]
        if stops:
            top, beams, chars, tokens = (t[: cfg.width] for t in (top, beams, chars, tokens))
        scores = top
        if tokens.shape[0] == 0:
            break
        if i + 1 < length:
            logprobs, state = decoder.step(chars, select_state(state, beams))
    if length == 0:
        finished.append(([], 0.0))
    else:
        finished += [(tokens[j].tolist(), float(scores[j])) for j in range(tokens.shape[0])]
    finished.sort(key=lambda r: score(r[1], len(r[0]), cfg.length_penalty), reverse=True)
    return finished[: cfg.n_best]
