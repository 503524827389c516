"""A text being written with the model: the text so far and the model's state after it.

What an editor plug-in, a REPL or a teaching sketch needs (ml5's charRNN offered `feed`,
`predict`, `generate` and `reset`): feed text once and keep the state, read the next
character's distribution, continue the text, ask for candidates without taking them,
fork, undo. Every operation reads the same `Decoder` as the stateless API from the
position the session holds, so `lm.session(prime=p).sample(n, seed=s)` is
`lm.sample(n, prime=p, seed=s)`, and the session's running `score` is the `logprob` of
its text after the prime.

A session may hold `constraints` (`charrnn.Constraints`, changed at any time): every
continuation it generates (each `sample`, `stream`, `suggest` and `beam`) then keeps to
them, as `lm.sample(..., constraints=...)` does after the text so far. They apply to the
text that generation writes, not to the story before it, and are checked when that
generation starts, before anything is drawn (`check` asks without generating).

Positions are never modified in place (the decoder returns fresh states), so a fork or
an undo point costs a reference, not a copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from charrnn.config import BeamConfig, Constraints, SampleConfig
from charrnn.decoding.beam import beam_from
from charrnn.decoding.codec import TextCodec
from charrnn.decoding.constraints import Guide, guide_for
from charrnn.decoding.decoder import Decoder, Start
from charrnn.decoding.known_words import Trie
from charrnn.decoding.particles import particles_for, sampled_steps
from charrnn.decoding.sampling import check_options
from charrnn.errors import ConfigError

SAMPLING = SampleConfig()  # the defaults of every sampling signature here


@dataclass(frozen=True)
class _Point:
    """One moment of the session: the text's ids, the position after them, and their
    log-probability in nats after the prime."""

    ids: torch.Tensor
    start: Start
    score: float


class Session:
    """See the module doc; made by `LanguageModel.session(prime)` (or from a model's
    `decoder` and `codec`). `known` gives the word list of the model's corpus (what
    `constraints.words_only` keeps to; `lm.known_words`), asked for only then."""

    def __init__(self, decoder: Decoder, codec: TextCodec, prime: str = "",
                 label: str | None = None, constraints: Constraints | None = None,
                 known: Callable[[], Trie | None] | None = None):
        self._decoder, self._codec = decoder, codec
        self.label = label  # a labelled model writes in this label's style
        self._known = known
        self.constraints = constraints
        ids = codec.prime(prime, label=label)
        self._origin = _Point(ids, self._decoder.start(ids), 0.0)
        self._point = self._origin
        self._history: list[_Point] = []  # the points before each change, for undo

    @property
    def constraints(self) -> Constraints:
        """What every continuation from now on keeps to (`Constraints()`: nothing)."""
        return self._constraints

    @constraints.setter
    def constraints(self, constraints: Constraints | None) -> None:
        if constraints is not None and not isinstance(constraints, Constraints):
            raise ConfigError("constraints must be a charrnn.Constraints, not "
                              f"{type(constraints).__name__}", field="constraints")
        self._constraints = (Constraints() if constraints is None else constraints).validate()

    @property
    def text(self) -> str:
        """The whole text: the prime and everything fed or generated since."""
        return self._codec.vocab.decode(self._point.ids)

    @property
    def prime(self) -> str:
        return self._codec.vocab.decode(self._origin.ids)

    @property
    def position(self) -> tuple[Start, torch.Tensor]:
        """The decoder's position after the text, and the text's ids (what a repetition
        penalty counts): where a batched generation (`batcher.py`) takes over."""
        return self._point.start, self._point.ids

    @property
    def score(self) -> float:
        """Log-probability in nats of the text after the prime (`lm.logprob(...)` of it)."""
        return self._point.score

    def feed(self, text: str) -> Session:
        """Read `text` (one batched pass over it) and keep it; returns the session."""
        ids = self._codec.encode(text)
        if ids.numel():
            self._move(ids)
        return self

    def distribution(self) -> dict[str, float]:
        """The next character's probability, for every character the model knows (a
        documents model's end of document is "")."""
        probs = self._point.start[1][0].double().exp().tolist()
        return {self._codec.symbol(i): p for i, p in enumerate(probs)}

    def predict(self, top: int = 5) -> list[tuple[str, float]]:
        """The `top` most likely next characters with their probabilities, likeliest first."""
        if top < 1:
            raise ConfigError(f"top must be >= 1, not {top}")
        probs = self._point.start[1][0].double().exp()
        best = probs.topk(min(top, probs.numel()))
        return [(self._codec.symbol(i), float(p))
                for p, i in zip(best.values.tolist(), best.indices.tolist(), strict=True)]

    def stream(self, length: int, temperature: float = SAMPLING.temperature,
               seed: int | None = None, top_k: int | None = SAMPLING.top_k,
               top_p: float | None = SAMPLING.top_p,
               repetition_penalty: float = SAMPLING.repetition_penalty,
               stop: str | Sequence[str] = (), particles: int | None = None
               ) -> Iterator[str]:
        """Continue the text piece by piece (options as `LanguageModel.sample`); what was
        generated is kept, also when the caller stops reading early."""
        steps = self._steps(1, length, SampleConfig(temperature, top_k, top_p,
                                                    repetition_penalty), seed, stop, particles)
        made: list[int] = []

        def kept() -> Iterator[int]:
            for ids in steps:
                if ids[0] >= 0:
                    made.append(int(ids[0]))
                    yield made[-1]

        try:
            yield from self._codec.pieces(kept())
        finally:
            if made:
                self._move(torch.tensor(made))

    def sample(self, length: int, temperature: float = SAMPLING.temperature,
               seed: int | None = None, top_k: int | None = SAMPLING.top_k,
               top_p: float | None = SAMPLING.top_p,
               repetition_penalty: float = SAMPLING.repetition_penalty,
               stop: str | Sequence[str] = (), particles: int | None = None) -> str:
        """Continue the text by up to `length` characters and keep them; returns them."""
        return "".join(self.stream(length, temperature, seed, top_k, top_p,
                                   repetition_penalty, stop, particles))

    def suggest(self, k: int, length: int, temperature: float = SAMPLING.temperature,
                seed: int | None = None, top_k: int | None = SAMPLING.top_k,
                top_p: float | None = SAMPLING.top_p,
                repetition_penalty: float = SAMPLING.repetition_penalty,
                stop: str | Sequence[str] = (), particles: int | None = None) -> list[str]:
        """`k` independent continuations, generated together (one batched step per
        character); none is kept: `feed` the one you choose."""
        steps = list(self._steps(k, length, SampleConfig(temperature, top_k, top_p,
                                                         repetition_penalty),
                                 seed, stop, particles))
        return texts_of(self._codec, steps, k)

    def _steps(self, n: int, length: int, cfg: SampleConfig, seed: int | None,
               stop: str | Sequence[str], particles: int | None) -> Iterator[np.ndarray]:
        """`n` continuations' steps from here, as `LanguageModel.samples` draws them
        (masked, or by particles where asked or by default)."""
        return sampled_steps(self._decoder, self._point.start, self._point.ids, length, cfg,
                             seed, n, self._codec.stops(stop),
                             lambda rows: self._guide(rows, length), particles,
                             self._codec.vocab.end_id)

    def beam(self, length: int, width: int | None = None, n_best: int = 1,
             stop: str | Sequence[str] = (), length_penalty: float = 0.0,
             no_repeat_ngram: int = 0) -> list[tuple[str, float]]:
        """The most likely continuations (options as `LanguageModel.beam`); none is kept."""
        if width is None:
            width = max(BeamConfig.width, n_best)
        cfg = BeamConfig(width, n_best, length_penalty, no_repeat_ngram).validate()
        found = beam_from(self._decoder, self._point.start, self._point.ids, length, cfg,
                          self._codec.stops(stop), self._guide(1, length))
        return [(self._codec.vocab.decode(ids), score) for ids, score in found]

    def check(self, length: int, temperature: float = SAMPLING.temperature,
              top_k: int | None = SAMPLING.top_k, top_p: float | None = SAMPLING.top_p,
              repetition_penalty: float = SAMPLING.repetition_penalty,
              stop: str | Sequence[str] = (), particles: int | None = None) -> None:
        """Raise what a continuation of `length` with these options would raise from here
        (a bad option, constraints no such continuation can meet); draws nothing."""
        cfg = SampleConfig(temperature, top_k, top_p, repetition_penalty)
        check_options(length, cfg, 1)
        self._codec.stops(stop)
        constrained = self._guide(1, length) is not None
        particles_for(particles, cfg, constrained, bool(stop), self._codec.vocab.end_id)

    def _guide(self, rows: int, length: int) -> Guide | None:
        """`rows` continuations of `length` kept to the constraints (None: there are none),
        compiled and checked after the text so far, before anything is drawn."""
        if not self._constraints:
            return None
        words_only = self._constraints.words_only and self._known is not None
        return guide_for(self._constraints, self._codec.vocab, rows, length, self.text,
                         self._known() if words_only else None)

    def fork(self) -> Session:
        """An independent copy: what either does later leaves the other as it is."""
        twin = object.__new__(Session)
        twin._codec, twin._decoder, twin._origin = self._codec, self._decoder, self._origin
        twin._point, twin._history = self._point, list(self._history)
        twin.label, twin._known, twin._constraints = self.label, self._known, self._constraints
        return twin

    def undo(self, n: int = 1) -> int:
        """Take back the last `n` changes (feeds and continuations); returns how many
        there were to take back."""
        if n < 0:
            raise ConfigError(f"undo needs n >= 0, not {n}")
        taken = min(n, len(self._history))
        for _ in range(taken):
            self._point = self._history.pop()
        return taken

    def reset(self) -> Session:
        """Back to the prime, as the session began (it can be undone)."""
        if self._point is not self._origin:
            self._history.append(self._point)
            self._point = self._origin
        return self

    def _move(self, ids: torch.Tensor) -> None:
        reading = self._decoder.read(self._point.start, ids[None, :])
        self._history.append(self._point)
        self._point = _Point(torch.cat([self._point.ids, ids]), reading.end,
                             self._point.score + float(reading.total[0]))


def texts_of(codec: TextCodec, steps: list[np.ndarray], n: int) -> list[str]:
    """The `n` texts of a batched sampling's steps (-1 after a row stopped)."""
    if not steps:
        return [""] * n
    return codec.texts(np.stack(steps, axis=1).tolist())

