"""Sampling: temperature, top-k, top-p, repetition penalty and stop strings, for one
stream or many independent samples advanced together in one batch."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from charrnn.config import SampleConfig
from charrnn.decoding.decoder import Decoder, Start, check_length, ends_with, repeat
from charrnn.errors import ConfigError


def generator_for(seed: int | None) -> np.random.Generator:
    """A private random generator: seeded for reproducible text, else fresh entropy."""
    return np.random.default_rng(seed)


def adjust(logprobs: np.ndarray, cfg: SampleConfig, seen: np.ndarray | None) -> np.ndarray:
    """Log-probabilities (rows, vocab) -> the logits to sample from (repetition penalty,
    temperature, top-k, top-p); masked characters get -inf."""
    logits = logprobs
    if seen is not None:  # log-probs are <= 0: scaling them up makes a character rarer
        logits = np.where(seen, logits * cfg.repetition_penalty, logits)
    if cfg.temperature > 0 and cfg.temperature != 1:
        logits = logits / np.float32(cfg.temperature)
    vocab = logits.shape[-1]
    if cfg.top_k is not None and cfg.top_k < vocab:
        kth = np.partition(logits, vocab - cfg.top_k, axis=1)[:, vocab - cfg.top_k, None]
        logits = np.where(logits < kth, -np.inf, logits)
    if cfg.top_p is not None and cfg.top_p < 1:
        order = np.argsort(-logits, axis=1, kind="stable")
        ordered = np.take_along_axis(logits, order, axis=1)
        probs = np.exp(ordered - ordered[:, :1])
        probs /= probs.sum(axis=1, keepdims=True)
        before = np.cumsum(probs, axis=1) - probs  # mass of the more likely characters
        ordered = np.where(before >= cfg.top_p, -np.inf, ordered)
        logits = np.empty_like(ordered)
        np.put_along_axis(logits, order, ordered, axis=1)
    return logits


def draw(logits: np.ndarray, greedy: bool, generator: np.random.Generator) -> np.ndarray:
    """One id per row: the argmax, or a draw by inverting the cumulative distribution
    (float64; u in (0, total], so the first entry at or above it has a non-zero weight)."""
    if greedy:
        return logits.argmax(axis=1)
    if logits.shape[0] == 1:  # the same draw on one row, where 1-d operations are cheaper
        row = logits[0]
        cdf = np.cumsum(np.exp(row - row.max()), dtype=np.float64)
        u = (1.0 - generator.random()) * cdf[-1]
        return np.array([min(int(np.searchsorted(cdf, u)), row.size - 1)])
    cdf = np.cumsum(np.exp(logits - logits.max(axis=1, keepdims=True)), axis=1,
                    dtype=np.float64)
    u = (1.0 - generator.random((logits.shape[0], 1))) * cdf[:, -1:]
    return np.minimum((cdf < u).sum(axis=1), logits.shape[1] - 1)


def sample_steps(
    decoder: Decoder, prime: torch.Tensor, length: int, cfg: SampleConfig,
    seed: int | None = None, num_samples: int = 1, stops: list[torch.Tensor] | None = None,
) -> Iterator[np.ndarray]:
    """Per step, the next id of each of `num_samples` independent samples (-1 for a sample
    that has already ended on a stop string), until all are `length` long or stopped.

    Options are checked and the prime is read before this returns, so errors surface
    before any output; finished samples leave the batch, so they cost nothing.
    """
    check_options(length, cfg, num_samples)
    return sample_from(decoder, decoder.start(prime), prime, length, cfg, seed, num_samples,
                       stops)


def check_options(length: int, cfg: SampleConfig, num_samples: int) -> None:
    check_length(length)
    cfg.validate()
    if num_samples < 1:
        raise ConfigError(f"--num-samples must be >= 1, not {num_samples}")


def sample_from(
    decoder: Decoder, start: Start, context: torch.Tensor, length: int, cfg: SampleConfig,
    seed: int | None = None, num_samples: int = 1, stops: list[torch.Tensor] | None = None,
) -> Iterator[np.ndarray]:
    """`sample_steps` from a position already reached: `start` (see `Decoder.start`), after
    the text of ids `context` (what a repetition penalty counts)."""
    check_options(length, cfg, num_samples)
    generator = generator_for(seed)
    stop_ids = [s.numpy() for s in (stops or []) if s.numel()]
    state, first = repeat(start, num_samples)
    seen = None
    if cfg.repetition_penalty != 1.0:
        seen = np.zeros((num_samples, decoder.vocab_size), dtype=bool)
        seen[:, context.numpy()] = True

    def run() -> Iterator[np.ndarray]:
        nonlocal seen
        logprobs, arrays = first.numpy(), tuple(np.ascontiguousarray(s.numpy()) for s in state)
        active = np.arange(num_samples)
        history = np.zeros((num_samples, 0), dtype=np.int64)
        for i in range(length):
            ids = draw(adjust(logprobs, cfg, seen), cfg.temperature == 0, generator)
            if active.size == num_samples:
                yield ids
            else:
                out = np.full(num_samples, -1, dtype=np.int64)
                out[active] = ids
                yield out
            if seen is not None:
                seen[np.arange(ids.size), ids] = True
            if stop_ids:
                history = np.concatenate([history, ids[:, None]], axis=1)
                done = ends_with(history, stop_ids)
                if done.any():
                    keep = np.flatnonzero(~done)
                    if keep.size == 0:
                        return
                    active, ids = active[keep], ids[keep]
                    history = history[keep]
                    seen = seen[keep] if seen is not None else None
                    arrays = tuple(a[:, keep] for a in arrays)
            if i + 1 < length:
                logprobs, arrays = decoder.advance(ids, arrays)

    return run()
