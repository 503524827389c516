"""The next-character distribution of a trained model, shared by sampling, beam search and
scoring.

Because all three read log-probabilities from the same `Decoder`, a beam's score is the
log-probability `logprob` gives its text, and width-1 beam search is greedy sampling, by
construction rather than by coincidence. One character at a time goes through the fast
`InferenceStep`; whole texts (a prime, a text to score) of 8 characters or more go
through the model's fused sequence kernels. Both are fp32 and agree to about 1e-6.

An empty prime means "the start of a text": the first character's distribution is the
character frequency of the training corpus (stored in the vocabulary), and the model
takes over from its zero initial state, as at the start of each training stream. A model
of documents (`--documents`) instead reads its end-of-document id first, from the zero
state, exactly as each training document began, so every prime starts a document. A model
of labelled files reads the label instead (after the end symbol, when its files were one
stream): a prime that begins with a label id (`TextCodec.prime(label=...)`) is written
in that label's style, and one that does not, in the most common label's.

A position is reached three ways: `start` reads a prime from the zero state; `read`
reads a text from any position and says what each id scored there (the one scoring loop:
`logprob`, sessions, `eval`, classify and explain all read through it, in pieces with
`read_pieces`); `advance` steps one character a row in numpy, for the loops that draw.

With reduced-precision weights (`weights="fp16"` or `"int8"`) whole texts go through the
same reduced step one character at a time, so scores still match what was sampled.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from charrnn.config import LENGTH
from charrnn.data.text_format import TextFormat
from charrnn.decoding.inference_step import InferenceStep
from charrnn.model.network import CharRNN, State, select_state

FUSED_FROM = 8  # characters: shorter texts are stepped (see `Decoder.feed`)


Start = tuple[State, torch.Tensor]  # a model state and each row's next log-probabilities


class Decoder:
    """Next-character log-probabilities from a trained model, without autograd."""

    def __init__(self, model: CharRNN, char_counts: list[int], weights: str = "fp32",
                 text_format: TextFormat | None = None, step_fn=None):
        self.model = model.eval()
        # the step: the model's own, or another runtime's (an exported ONNX graph)
        self.step_fn = step_fn if step_fn is not None else InferenceStep(model, weights)
        counts = torch.tensor(char_counts, dtype=torch.float64)
        self.first_logprobs = torch.log(counts / counts.sum()).to(torch.float32)
        self.text_format = text_format or TextFormat()
        self.end_id = self.text_format.end_id  # a model of documents: texts start after this id

    @property
    def vocab_size(self) -> int:
        return self.first_logprobs.numel()

    def feed(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """ids (batch, time) -> log-probabilities (batch, time, vocab) and the new state.

        Texts of `FUSED_FROM` characters or more go through the fused kernels (oneDNN's,
        several times faster than torch's own on a long prime); shorter ones through
        the step, which costs less than a fused call for a few characters and keeps the
        step's thread pool (`bench/serve.py` times a 200-character prime)."""
        if self.step_fn.weights != "fp32" or ids.shape[1] < FUSED_FROM:
            steps = []
            for t in range(ids.shape[1]):
                logprobs, state = self.step_fn(ids[:, t], state)
                steps.append(logprobs)
            return torch.stack(steps, dim=1), state
        with torch.inference_mode():
            logits, state = self.model(ids, state)
            return F.log_softmax(logits.float(), dim=-1), state

    def advance(self, ids: np.ndarray, state: tuple[np.ndarray, ...]
                ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """One character per row on numpy arrays (C-contiguous float32 state), for the
        loops that draw a character at a time (sampling, beam search, the batcher)."""
        return self.step_fn.advance(ids, state)

    def start(self, prime: torch.Tensor) -> Start:
        """The position after reading `prime` from the zero state, its opening first (a
        document's end symbol or label: `TextFormat.opening`): the state and the next
        character's log-probabilities. `prime` is one text's ids, or (rows, time) texts
        whose openings are of one length, read side by side (each label's, say)."""
        primes = prime[None, :] if prime.dim() == 1 else prime
        opened = torch.stack([self.text_format.opening(p) for p in primes])
        zero = self.model.initial_state(len(opened)), self.first_logprobs.expand(len(opened), -1)
        return self.read(zero, opened).end

    def read(self, start: Start, ids: torch.Tensor) -> Reading:
        """Read `ids` (rows, time) side by side from `start` in one pass (`feed`): where
        it ends, and the log-probability each id had where it was read."""
        ids = ids.long().contiguous()
        state, before = start
        if ids.shape[1] == 0:
            return Reading(ids, before, before.new_empty(len(ids), 0, before.shape[1]), start)
        after, state = self.feed(ids, state)
        return Reading(ids, before, after, (state, after[:, -1]))


@dataclass(frozen=True)
class Reading:
    """Ids read side by side from a position (`Decoder.read`): each row's first id was
    read under the distribution carried in (`before`), every later one under the
    model's output after the id before it (`after`)."""

    ids: torch.Tensor  # (rows, time)
    before: torch.Tensor  # (rows, vocab)
    after: torch.Tensor  # (rows, time, vocab): the distribution after each id
    end: Start  # the position after the last id

    @property
    def first(self) -> torch.Tensor:
        """(rows,) float64: the log-probability of each row's first id (0 for none)."""
        if self.ids.shape[1] == 0:
            return torch.zeros(len(self.ids), dtype=torch.float64)
        return self.before.gather(1, self.ids[:, :1]).double()[:, 0]

    @property
    def rest(self) -> torch.Tensor:
        """(rows,) float64: the summed log-probability of each row's other ids."""
        return self.after[:, :-1].gather(2, self.ids[:, 1:, None]).double().sum(dim=(1, 2))

    @property
    def total(self) -> torch.Tensor:
        """(rows,) float64: the log-probability of each row's ids, first + rest."""
        return self.first + self.rest

    def logprobs(self) -> torch.Tensor:
        """(rows, time) float64: the log-probability of each id."""
        first = self.before.gather(1, self.ids[:, :1])
        rest = self.after[:, :-1].gather(2, self.ids[:, 1:, None])[..., 0]
        return torch.cat([first, rest], dim=1).double()

    def distributions(self) -> torch.Tensor:
        """(rows, time, vocab): the log-probabilities each id was read under."""
        return torch.cat([self.before[:, None], self.after[:, :-1]], dim=1)


def read_pieces(decoder: Decoder, start: Start, texts: Iterable[torch.Tensor],
                size: int) -> Iterator[Reading]:
    """The scoring loop: texts of ids (rows, time), one after another, read from `start`
    in pieces of at most `size` ids, the position carried from each piece to the next,
    so what is read is exact however the text is cut. Scoring, classifying, surprise
    and `logprob` all read a text through `Decoder.read`."""
    for ids in texts:
        for begin in range(0, ids.shape[1], size):
            reading = decoder.read(start, ids[:, begin : begin + size])
            start = reading.end
            yield reading


def repeat(start: Start, rows: int) -> Start:
    """A one-row position as `rows` identical rows (independent samples from one text)."""
    if rows == 1:
        return start
    index = torch.zeros(rows, dtype=torch.long)
    return select_state(start[0], index), start[1].index_select(0, index)


def check_length(length: int) -> None:
    """A whole number of characters, at least 0 (not 2.5, nor True): `config.LENGTH`, the
    rule an exported model's runtime holds a length to as well."""
    LENGTH.check("length", length)


def ends_with(tokens: np.ndarray, stops: list[np.ndarray]) -> np.ndarray:
    """Rows of `tokens` (rows, time) whose text ends with one of the stop id sequences."""
    done = np.zeros(len(tokens), dtype=bool)
    for stop in stops:
        if 0 < stop.size <= tokens.shape[1]:
            done |= (tokens[:, -stop.size:] == stop).all(axis=1)
    return done


def logprob(decoder: Decoder, prime: torch.Tensor, ids: torch.Tensor) -> float:
    """Total log-probability in nats of the character ids `ids` following `prime`."""
    return float(decoder.read(decoder.start(prime), ids[None, :]).total[0])
