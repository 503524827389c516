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

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from charrnn.config import SampleConfig
from charrnn.decoding.constraints import Guide
from charrnn.decoding.decoder import Decoder, Start, repeat
from charrnn.decoding.sampling import adjust, check_options, draw, generator_for, sample_from
from charrnn.errors import ConfigError

MAX_PARTICLES = 1024  # rows that draw one text
DEFAULT_PARTICLES = 64  # where particles apply and none are asked for (docs/constraints.md)
MAX_ROWS = 1024  # rows drawn side by side: texts beyond this are drawn in further batches


def particles_for(particles: int | None, cfg: SampleConfig, constrained: bool, stops: bool,
                  end_id: int | None) -> int:
    """The rows that draw each text: `particles` where given (checked by
    `check_particles`), else DEFAULT_PARTICLES wherever drawing by particles applies
    (constrained text of a fixed length, drawn at a temperature above 0 with no
    repetition penalty) and 1, the masked draw, elsewhere."""
    if particles is None:
        applies = constrained and not stops and end_id is None and cfg.temperature > 0 \
            and cfg.repetition_penalty == 1
        return DEFAULT_PARTICLES if applies else 1
    if particles != 1:
        check_particles(particles, cfg, constrained, stops, end_id)
    return particles


def check_particles(particles: int, cfg: SampleConfig, constrained: bool, stops: bool,
                    end_id: int | None) -> None:
    """What drawing by particles needs, each missing thing one ConfigError: constraints
    to draw under, a whole number of rows in bounds, texts of a fixed length (no stop
    strings, no model of documents), a temperature above 0, and no repetition penalty."""
    field = "particles"
    if isinstance(particles, bool) or not isinstance(particles, int) \
            or not 1 <= particles <= MAX_PARTICLES:
        raise ConfigError(f"particles must be between 1 and {MAX_PARTICLES}, not {particles!r}",
                          field=field)
    for wrong, why in ((not constrained, "only constrained text (some constraint set)"),
                       (stops, "texts of a fixed length: leave stop out"),
                       (end_id is not None, "texts of a fixed length, not a model of documents"),
                       (cfg.temperature == 0, "at a temperature above 0 (greedy "
                                              "decoding writes one text)"),
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


def _weights(log_weight: np.ndarray) -> np.ndarray:
    """Each group's weights (groups, particles), its largest 1."""
    return np.exp(log_weight - log_weight.max(axis=1, keepdims=True))


def _survivors(log_weight: np.ndarray, generator: np.random.Generator) -> np.ndarray | None:
    """Which row each row copies after resampling (indices over all rows), each group
    resampled within itself where its weights' effective number fell below half its
    rows; None where no group needs it."""
    groups, particles = log_weight.shape
    weights = _weights(log_weight)
    low = weights.sum(axis=1) ** 2 < 0.5 * particles * (weights ** 2).sum(axis=1)
    if not low.any():
        return None
    rows = np.arange(groups * particles).reshape(groups, particles)
    for g in np.flatnonzero(low):
        rows[g] = g * particles + resampled(weights[g], generator)
        log_weight[g] = 0.0
    return rows.ravel()


def particle_sample(decoder: Decoder, start: Start, length: int, cfg: SampleConfig,
                    guide: Guide, particles: int, generator: np.random.Generator,
                    texts: int = 1) -> np.ndarray:
    """`texts` texts (texts, length) of ids from `start` that meet `guide`'s constraints,
    each drawn by `particles` weighted rows (see the module doc), all rows side by side;
    `guide` holds texts x particles rows. A text that is complete where nothing more may
    follow (a pattern's end) ends there: its remaining ids are -1."""
    rows = texts * particles
    state, first = repeat(start, rows)
    logprobs = first.numpy()
    arrays = tuple(np.ascontiguousarray(s.numpy()) for s in state)
    log_weight = np.zeros((texts, particles))
    tokens = np.full((rows, length), -1, dtype=np.int64)  # -1: the text has ended
    ended = np.zeros(rows, dtype=bool)
    for t in range(length):
        logits = adjust(logprobs, cfg, None).astype(np.float64)
        kept = guide.masked(logits, length - t)
        ended |= ~np.isfinite(kept).any(axis=1)  # complete, and nothing may follow
        kept[ended, 0] = 0.0  # (a stand-in draw, not kept)
        gained = np.where(ended, 0.0, _log_mass(kept) - _log_mass(logits))
        log_weight += gained.reshape(texts, particles)
        ids = draw(kept, cfg.temperature == 0, generator)
        tokens[:, t] = np.where(ended, -1, ids)
        guide.step(np.where(ended, guide.text_size, ids))  # (an ended row stays)
        if t + 1 == length:
            break
        copied = _survivors(log_weight, generator)
        if copied is not None:
            tokens, ids, ended = tokens[copied], ids[copied], ended[copied]
            arrays = tuple(np.ascontiguousarray(a[:, copied]) for a in arrays)
            guide.shrink(copied)
        logprobs, arrays = decoder.advance(ids, arrays)
    weights = _weights(log_weight)
    picked = [g * particles + generator.choice(particles, p=w / w.sum())
              for g, w in enumerate(weights)]
    return tokens[picked]


def sampled_steps(decoder: Decoder, start: Start, context: torch.Tensor, length: int,
                  cfg: SampleConfig, seed: int | None, n: int, stops: Sequence[np.ndarray],
                  guide_of: Callable[[int], Guide | None], particles: int | None,
                  end_id: int | None) -> Iterator[np.ndarray]:
    """Per step, the next id of each of `n` samples from `start` (as `sample_from` gives
    them): drawn by particles where `particles_for` says so, else masked by the guide
    `guide_of(rows)` makes (None: no constraints). Everything is checked before this
    returns; by particles, every text is drawn before the first step is given, as many
    texts side by side as MAX_ROWS rows hold."""
    constrained = guide_of(0)  # compiled and checked once, before anything is drawn
    particles = particles_for(particles, cfg, constrained is not None, bool(stops), end_id)
    if particles == 1:
        return sample_from(decoder, start, context, length, cfg, seed, n, stops,
                           constrained and constrained.fresh(n))
    check_options(length, cfg, n)
    if not length:
        return iter(np.zeros((0, n), np.int64))
    generator, per_batch = generator_for(seed), max(1, MAX_ROWS // particles)
    batches = [particle_sample(decoder, start, length, cfg,
                               constrained.fresh(min(per_batch, n - i) * particles),
                               particles, generator, texts=min(per_batch, n - i))
               for i in range(0, n, per_batch)]
    return iter(np.concatenate(batches).T)
