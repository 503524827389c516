"""Sampling: temperature, top-k, top-p, repetition penalty and stop strings, for one
stream or many independent samples advanced together in one batch."""

from __future__ import annotations

import random
from collections.abc import Iterator

import torch

from charrnn.config import SampleConfig
from charrnn.decoding.decoder import Decoder, check_length, ends_with_any
from charrnn.errors import ConfigError
from charrnn.model.network import select_state


def generator_for(seed: int | None) -> torch.Generator:
    """A private random generator: seeded for reproducible text, else fresh entropy."""
    return torch.Generator().manual_seed(
        random.SystemRandom().getrandbits(63) if seed is None else seed)


def adjust(logprobs: torch.Tensor, cfg: SampleConfig, seen: torch.Tensor | None) -> torch.Tensor:
    """Log-probabilities -> the logits to sample from (repetition penalty, temperature,
    top-k, top-p); masked characters get -inf."""
    logits = logprobs
    if seen is not None:  # log-probs are <= 0: scaling them up makes a character rarer
        logits = torch.where(seen, logits * cfg.repetition_penalty, logits)
    if cfg.temperature > 0 and cfg.temperature != 1:
        logits = logits / cfg.temperature
    if cfg.top_k is not None and cfg.top_k < logits.shape[-1]:
        kth = logits.topk(cfg.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if cfg.top_p is not None and cfg.top_p < 1:
        ordered, order = logits.sort(dim=-1, descending=True)
        probs = ordered.softmax(dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass of the more likely characters
        ordered = ordered.masked_fill(before >= cfg.top_p, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(1, order, ordered)
    return logits


def draw(logits: torch.Tensor, greedy: bool, generator: torch.Generator) -> torch.Tensor:
    """One id per row: the argmax, or a draw by inverting the cumulative distribution."""
    if greedy:
        return logits.argmax(dim=-1)
    cdf = logits.softmax(dim=-1).cumsum(dim=-1)
    u = torch.rand(logits.shape[0], 1, generator=generator, dtype=cdf.dtype) * cdf[:, -1:]
    return torch.searchsorted(cdf, u).clamp_(max=logits.shape[-1] - 1)[:, 0]


def sample_steps(
    decoder: Decoder, prime: torch.Tensor, length: int, cfg: SampleConfig,
    seed: int | None = None, num_samples: int = 1, stops: list[torch.Tensor] | None = None,
) -> Iterator[torch.Tensor]:
    """Per step, the next id of each of `num_samples` independent samples (-1 for a sample
    that has already ended on a stop string), until all are `length` long or stopped.

    Options are checked and the prime is read before this returns, so errors surface
    before any output; finished samples leave the batch, so they cost nothing.
    """
    check_length(length)
    cfg.validate()
    if num_samples < 1:
        raise ConfigError(f"--num-samples must be >= 1, not {num_samples}")
    generator = generator_for(seed)
    stops = [s for s in (stops or []) if s.numel()]
    state, logprobs = decoder.start(prime, num_samples)
    seen = None
    if cfg.repetition_penalty != 1.0:
        seen = torch.zeros(num_samples, decoder.vocab_size, dtype=torch.bool)
        seen[:, prime] = True

    def run() -> Iterator[torch.Tensor]:
        nonlocal state, logprobs, seen
        active = torch.arange(num_samples)
        history = torch.zeros(num_samples, 0, dtype=torch.long)
        for i in range(length):
            ids = draw(adjust(logprobs, cfg, seen), cfg.temperature == 0, generator)
            if active.numel() == num_samples:
                yield ids
            else:
                out = torch.full((num_samples,), -1, dtype=torch.long)
                out[active] = ids
                yield out
            if seen is not None:
                seen[torch.arange(ids.numel()), ids] = True
            keep = None
            if stops:
                history = torch.cat([history, ids[:, None]], dim=1)
                done = ends_with_any(history, stops)
                if bool(done.any()):
                    keep = torch.nonzero(~done).flatten()
                    active, history, ids = active[keep], history[keep], ids[keep]
                    seen = seen[keep] if seen is not None else None
                    if active.numel() == 0:
                        return
            if i + 1 < length:
                if keep is not None:
                    state = select_state(state, keep)
                logprobs, state = decoder.step(ids, state)

    return run()
