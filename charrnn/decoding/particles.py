"""Constrained text drawn from the model's own conditional distribution, by sequential
Monte Carlo (as in Lew et al. 2023, "Sequential Monte Carlo steering of large language
models using probabilistic programs").

Masking what breaks a constraint and drawing from what is left (`constraints.Guide`) is
biased: it never pays for a prefix that makes the constraint expensive later, so it
writes a forced word as a non-sequitur at the last moment. Here `particles` rows are
drawn side by side, each the masked way, and each carries a weight: the product of the
probability mass its masks kept. Rows that kept little are dropped and rows that kept
much are copied (systematic resampling, whenever the weights' effective number falls
below half the rows), and the text returned is one row picked by weight. As the rows
grow in number, the text's distribution approaches the model's distribution given the
constraints (at the sampling temperature, each step's distribution tempered as in
unconstrained sampling).
"""

from __future__ import annotations

import numpy as np

from charrnn.config import SampleConfig
from charrnn.decoding.constraints import Guide
from charrnn.decoding.decoder import Decoder, Start, repeat
from charrnn.decoding.sampling import adjust, draw
from charrnn.errors import ConfigError

MAX_PARTICLES = 1024  # rows that draw one text


def check_particles(particles: int, cfg: SampleConfig, constrained: bool, stops: bool,
                    end_id: int | None) -> None:
    """What drawing by particles needs, each missing thing one ConfigError: constraints
    to draw under, a whole number of rows in bounds, texts of a fixed length (no stop
    strings, no model of documents), and temperature, top-k and top-p alone."""
    field = "particles"
    if isinstance(particles, bool) or not isinstance(particles, int) \
            or not 1 <= particles <= MAX_PARTICLES:
        raise ConfigError(f"particles must be between 1 and {MAX_PARTICLES}, not {particles!r}",
                          field=field)
    for wrong, why in ((not constrained, "only constrained text (some constraint set)"),
                       (stops, "texts of a fixed length: leave stop out"),
                       (end_id is not None, "texts of a fixed length, not a model of documents"),
                       (cfg.repetition_penalty != 1, "no repetition_penalty")):
        if wrong:
            raise ConfigError(f"particles draws {why}", field=field)


def _log_mass(logits: np.ndarray) -> np.ndarray:
    """log sum exp of each row (float64), -inf for a row with nothing left."""
    top = logits.max(axis=1, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return (np.log(np.exp(logits - safe).sum(axis=1, dtype=np.float64)) + safe[:, 0])


def resampled(weights: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    """Systematic resampling: row indices, each row copied about weight x rows times."""
    rows = weights.size
    edges = np.cumsum(weights / weights.sum())
    points = (generator.random() + np.arange(rows)) / rows
    return np.minimum(np.searchsorted(edges, points), rows - 1)


def particle_sample(decoder: Decoder, start: Start, length: int, cfg: SampleConfig,
                    guide: Guide, particles: int, generator: np.random.Generator
                    ) -> np.ndarray:
    """One text of `length` ids from `start` that meets `guide`'s constraints, drawn by
    `particles` weighted rows (see the module doc); `guide` holds `particles` rows. A text
    that is complete where nothing more may follow (a pattern's end) ends there: its
    remaining ids are -1."""
    state, first = repeat(start, particles)
    logprobs = first.numpy()
    arrays = tuple(np.ascontiguousarray(s.numpy()) for s in state)
    log_weight = np.zeros(particles)
    tokens = np.full((particles, length), -1, dtype=np.int64)  # -1: the text has ended
    ended = np.zeros(particles, dtype=bool)
    for t in range(length):
        logits = adjust(logprobs, cfg, None).astype(np.float64)
        kept = guide.masked(logits, length - t)
        ended |= ~np.isfinite(kept).any(axis=1)  # complete, and nothing may follow
        kept[ended, 0] = 0.0  # (a stand-in draw, not kept)
        log_weight += np.where(ended, 0.0, _log_mass(kept) - _log_mass(logits))
        ids = draw(kept, cfg.temperature == 0, generator)
        tokens[:, t] = np.where(ended, -1, ids)
        guide.step(np.where(ended, guide.text_size, ids))  # (an ended row stays)
        weights = np.exp(log_weight - log_weight.max())
        if t + 1 < length and weights.sum() ** 2 < 0.5 * particles * (weights ** 2).sum():
            rows = resampled(weights, generator)
            tokens, ids, ended = tokens[rows], ids[rows], ended[rows]
            log_weight = np.zeros(particles)
            arrays = tuple(np.ascontiguousarray(a[:, rows]) for a in arrays)
            guide.shrink(rows)
        if t + 1 < length:
            logprobs, arrays = decoder.advance(ids, arrays)
    weights = np.exp(log_weight - log_weight.max())
    return tokens[generator.choice(particles, p=weights / weights.sum())]
