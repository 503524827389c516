"""The one sampler: log-probabilities in, the next id of every row out, for any number
of requests side by side, each with its own options, random generator and stop strings.

A request's rows are a `Draws`: what it carries from step to step (its generator, what
each row has seen for a repetition penalty, each row's recent ids for its stop strings,
how many characters it has made). `draw_batch` draws the next id of every row of many
requests at once: the requests drawn with temperature alone in one vectorised pass
that computes, row for row, exactly what `Draws.draw` computes for the request alone
(the same float32 logits, float64 cumulative sums and uniforms from the request's own
generator), the others request by request. So a seeded request gives the same text
alone (`sample_from`, and through it `lm.sample`, `lm.samples` and a session) as beside
others (`batcher.py`, and through it `charrnn serve`): one copy of the rules, not two.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch

from charrnn.config import NUM_SAMPLES, SampleConfig
from charrnn.decoding.constraints import Guide
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


def temperature_only(cfg: SampleConfig, vocab_size: int, penalised: bool) -> bool:
    """Whether `adjust` would change nothing but the temperature: such rows can be drawn
    together with other requests' in one vectorised pass."""
    return (cfg.temperature > 0 and not penalised
            and (cfg.top_k is None or cfg.top_k >= vocab_size)
            and (cfg.top_p is None or cfg.top_p >= 1))


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
    return _invert(logits, generator.random(logits.shape[0]))


def _invert(logits: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """`draw`'s inversion for many rows, each with its own uniform."""
    cdf = np.cumsum(np.exp(logits - logits.max(axis=1, keepdims=True)), axis=1,
                    dtype=np.float64)
    u = (1.0 - uniforms)[:, None] * cdf[:, -1:]
    return np.minimum((cdf < u).sum(axis=1), logits.shape[1] - 1)


MAX_BIAS = 100.0  # the largest bias (either sign) a character may get, as OpenAI allows


def bias_vector(bias: Mapping[int, float], vocab_size: int) -> np.ndarray | None:
    """Per-character biases (id -> value) as a row to add to log-probabilities; None for
    none. Ids must be the model's and values within +-MAX_BIAS: -100 all but bans a
    character, +100 all but forces it."""
    if not bias:
        return None
    row = np.zeros(vocab_size, dtype=np.float32)
    for char_id, value in bias.items():
        if isinstance(char_id, bool) or not isinstance(char_id, int) \
                or not 0 <= char_id < vocab_size:
            raise ConfigError(f"bias: {char_id!r} is not a character id of this model "
                                f"(0 to {vocab_size - 1})", field="bias")
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not -MAX_BIAS <= value <= MAX_BIAS:
            raise ConfigError(f"bias: the bias of character {char_id} must be a number "
                                f"from {-MAX_BIAS:g} to {MAX_BIAS:g}, not {value!r}",
                                field="bias")
        row[char_id] = value
    return row


def check_options(length: int, cfg: SampleConfig, num_samples: int) -> None:
    """A generation's settings, checked before anything is read or drawn."""
    check_length(length)
    cfg.validate()
    NUM_SAMPLES.check("num_samples", num_samples)


class Draws:
    """One request's rows from step to step (see the module doc). `context` is the text
    read so far (what a repetition penalty counts); `stops` are id arrays; `forcing`, ids
    of a prime still to be read inside the batched steps: until they are read, the rows
    take them instead of drawing (and they count toward nothing); `guide` keeps the rows
    to constraints (`constraints.py`); `bias`, (vocab,) or None, is added to each row's
    log-probabilities before the options adjust them (OpenAI's `logit_bias`)."""

    def __init__(self, cfg: SampleConfig, seed: int | None, rows: int, vocab_size: int,
                 context: np.ndarray, stops: Sequence[np.ndarray], length: int,
                 forcing: Sequence[int] = (), guide: Guide | None = None,
                 bias: np.ndarray | None = None):
        self.cfg, self.length, self.guide, self.bias = cfg, length, guide, bias
        self.forcing = list(forcing)
        self.stops = [s for s in stops if s.size]
        self.generator = generator_for(seed)
        self.active = np.arange(rows)  # which rows still run
        self.history = np.zeros((rows, 0), dtype=np.int64)
        self.steps = 0
        self.seen = None
        if cfg.repetition_penalty != 1.0:
            self.seen = np.zeros((rows, vocab_size), dtype=bool)
            self.seen[:, context] = True
        self.temperature_only = temperature_only(cfg, vocab_size, self.seen is not None)

    @property
    def plain(self) -> bool:
        """Drawn in `draw_batch`'s vectorised pass (temperature alone, no prime left)."""
        return (self.temperature_only and not self.forcing and self.guide is None
                and self.bias is None)

    @property
    def finished(self) -> bool:
        return self.steps >= self.length or self.active.size == 0

    def draw(self, logprobs: np.ndarray) -> np.ndarray:
        """The next id of each running row, from their log-probabilities (or the next
        id of the prime they are still reading)."""
        if self.forcing:
            return np.full(self.active.size, self.forcing[0], dtype=np.int64)
        if self.bias is not None:
            logprobs = logprobs + self.bias
        if self.guide is not None:
            logprobs = self.guide.masked(logprobs, self.length - self.steps)
        return draw(adjust(logprobs, self.cfg, self.seen), self.cfg.temperature == 0,
                    self.generator)

    def uniforms(self) -> np.ndarray:
        """The uniforms `draw` would take from the generator, one per running row."""
        return self.generator.random(self.active.size)

    def record(self, ids: np.ndarray) -> np.ndarray | None:
        """Count the drawn ids; which rows run on after them (None: all of them, the
        common case, kept cheap; none once the request has its length). A prime's id
        is read, not counted."""
        if self.forcing:
            del self.forcing[0]
            return None
        self.steps += 1
        if self.seen is not None:
            self.seen[np.arange(ids.size), ids] = True
        going = (self.guide.advance(ids, self.length - self.steps)
                 if self.guide is not None else None)
        if self.steps >= self.length:
            return np.zeros(ids.size, dtype=bool)
        if not self.stops:
            return going
        self.history = np.concatenate([self.history, ids[:, None]], axis=1)
        keep = ~ends_with(self.history, self.stops)
        if self.guide is not None:  # a stop ends only a text that meets its constraints
            keep |= ~self.guide.accepted()
        if going is not None:
            keep &= going
        return None if keep.all() else keep

    def shrink(self, keep: np.ndarray) -> None:
        """Only the rows in `keep` run on."""
        self.active, self.history = self.active[keep], self.history[keep]
        if self.seen is not None:
            self.seen = self.seen[keep]
        if self.guide is not None:
            self.guide.shrink(keep)


class Layout:
    """Which rows of a batch `draw_batch` draws in its vectorised pass, and their
    temperatures: made again only when requests join, end or shrink."""

    def __init__(self, requests: Sequence[Draws]):
        self.plain: list[Draws] = []
        self.single: list[np.random.Generator] | None = []  # None: some has 2+ rows
        self.others: list[tuple[Draws, slice]] = []
        rows: list[int] = []
        temperatures: list[float] = []
        offset = 0
        for draws in requests:
            count = draws.active.size
            if draws.plain:
                self.plain.append(draws)
                if count > 1:
                    self.single = None
                elif self.single is not None:
                    self.single.append(draws.generator)
                rows.extend(range(offset, offset + count))
                temperatures.extend([draws.cfg.temperature] * count)
            else:
                self.others.append((draws, slice(offset, offset + count)))
            offset += count
        self.every = not self.others
        self.rows = np.array(rows, dtype=np.int64)
        self.temperatures = np.array(temperatures, dtype=np.float32)[:, None]


def draw_batch(logprobs: np.ndarray, layout: Layout, own=Draws.draw) -> np.ndarray:
    """The next id of every row of the requests in `layout`, rows in their order; `own`
    draws one request's rows alone (a caller may wrap it to fail that request alone)."""
    ids = np.empty(logprobs.shape[0], dtype=np.int64)
    for draws, rows in layout.others:
        ids[rows] = own(draws, logprobs[rows])
    if not layout.plain:
        return ids
    if layout.single is not None:  # one row each: a float a row is cheaper
        uniforms = np.array([generator.random() for generator in layout.single])
    else:
        uniforms = np.concatenate([draws.uniforms() for draws in layout.plain])
    logits = (logprobs if layout.every else logprobs[layout.rows]) / layout.temperatures
    drawn = _invert(logits, uniforms)
    if layout.every:
        return drawn
    ids[layout.rows] = drawn
    return ids


def sample_from(
    decoder: Decoder, start: Start, context: torch.Tensor, length: int, cfg: SampleConfig,
    seed: int | None = None, num_samples: int = 1, stops: Sequence[np.ndarray] = (),
    guide: Guide | None = None,
) -> Iterator[np.ndarray]:
    """Per step, the next id of each of `num_samples` independent samples from `start`
    (see `Decoder.start`), after the text of ids `context`; -1 for a sample that has
    already ended on a stop string; until all are `length` long or stopped.

    Options are checked before this returns, so errors surface before any output;
    finished samples leave the batch, so they cost nothing."""
    check_options(length, cfg, num_samples)
    draws = Draws(cfg, seed, num_samples, decoder.vocab_size, context.numpy(), stops, length,
                  guide=guide)
    state, first = repeat(start, num_samples)
    logprobs = first.numpy()
    arrays = tuple(np.ascontiguousarray(s.numpy()) for s in state)

    def run() -> Iterator[np.ndarray]:
        nonlocal logprobs, arrays
        while not draws.finished:
            ids = draws.draw(logprobs)
            if draws.active.size == num_samples:
                yield ids
            else:
                out = np.full(num_samples, -1, dtype=np.int64)
                out[draws.active] = ids
                yield out
            keep = draws.record(ids)
            if keep is not None:
                if not keep.any():
                    return
                draws.shrink(keep)
                ids, arrays = ids[keep], tuple(a[:, keep] for a in arrays)
            logprobs, arrays = decoder.advance(ids, arrays)

    return run()
