"""A text being written with the model: the text so far and the model's state after it.

What an editor plug-in, a REPL or a teaching sketch needs (ml5's charRNN offered `feed`,
`predict`, `generate` and `reset`): feed text once and keep the state, read the next
character's distribution, continue the text, ask for candidates without taking them,
fork, undo. Every operation reads the same `Decoder` as the stateless API from the
position the session holds, so `lm.session(prime=p).sample(n, seed=s)` is
`lm.sample(n, prime=p, seed=s)`, and the session's running `score` is the `logprob` of
its text after the prime.

Positions are never modified in place (the decoder returns fresh states), so a fork or
an undo point costs a reference, not a copy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from charrnn.config import BeamConfig, SampleConfig
from charrnn.decoding.beam import beam_from
from charrnn.decoding.codec import TextCodec
from charrnn.decoding.decoder import Decoder, Start
from charrnn.decoding.sampling import sample_from
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
    `decoder` and `codec`)."""

    def __init__(self, decoder: Decoder, codec: TextCodec, prime: str = "",
                 label: str | None = None):
        self._decoder, self._codec = decoder, codec
        self.label = label  # a labelled model writes in this label's style
        ids = codec.prime(prime, label=label)
        self._origin = _Point(ids, self._decoder.start(ids), 0.0)
        self._point = self._origin
        self._history: list[_Point] = []  # the points before each change, for undo

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
               stop: str | Sequence[str] = ()) -> Iterator[str]:
        """Continue the text piece by piece (options as `LanguageModel.sample`); what was
        generated is kept, also when the caller stops reading early."""
        cfg = SampleConfig(temperature, top_k, top_p, repetition_penalty)
        steps = sample_from(self._decoder, self._point.start, self._point.ids, length, cfg,
                            seed, 1, self._codec.stops(stop))
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
               stop: str | Sequence[str] = ()) -> str:
        """Continue the text by up to `length` characters and keep them; returns them."""
        return "".join(self.stream(length, temperature, seed, top_k, top_p,
                                   repetition_penalty, stop))

    def suggest(self, k: int, length: int, temperature: float = SAMPLING.temperature,
                seed: int | None = None, top_k: int | None = SAMPLING.top_k,
                top_p: float | None = SAMPLING.top_p,
                repetition_penalty: float = SAMPLING.repetition_penalty,
                stop: str | Sequence[str] = ()) -> list[str]:
        """`k` independent continuations, generated together (one batched step per
        character); none is kept: `feed` the one you choose."""
        cfg = SampleConfig(temperature, top_k, top_p, repetition_penalty)
        steps = list(sample_from(self._decoder, self._point.start, self._point.ids, length,
                                 cfg, seed, k, self._codec.stops(stop)))
        return texts_of(self._codec, steps, k)

    def beam(self, length: int, width: int | None = None, n_best: int = 1,
             stop: str | Sequence[str] = (), length_penalty: float = 0.0,
             no_repeat_ngram: int = 0) -> list[tuple[str, float]]:
        """The most likely continuations (options as `LanguageModel.beam`); none is kept."""
        if width is None:
            width = max(BeamConfig.width, n_best)
        cfg = BeamConfig(width, n_best, length_penalty, no_repeat_ngram).validate()
        found = beam_from(self._decoder, self._point.start, self._point.ids, length, cfg,
                          self._codec.stops(stop))
        return [(self._codec.vocab.decode(ids), score) for ids, score in found]

    def fork(self) -> Session:
        """An independent copy: what either does later leaves the other as it is."""
        twin = object.__new__(Session)
        twin._codec, twin._decoder, twin._origin = self._codec, self._decoder, self._origin
        twin._point, twin._history = self._point, list(self._history)
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

