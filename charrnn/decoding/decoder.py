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

With reduced-precision weights (`weights="fp16"` or `"int8"`) whole texts go through the
same reduced step one character at a time, so scores still match what was sampled.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from charrnn.config import setting_error
from charrnn.data.text_format import TextFormat
from charrnn.decoding.inference_step import InferenceStep
from charrnn.model.network import CharRNN, State, select_state

FUSED_FROM = 8  # characters: shorter texts are stepped (see `Decoder.feed`)


Start = tuple[State, torch.Tensor]  # a model state (one row) and the next log-probabilities


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

    def step(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One character per row: ids (batch,) -> log-probabilities (batch, vocab)."""
        return self.step_fn(ids, state)

    def advance(self, ids: np.ndarray, state: tuple[np.ndarray, ...]
                ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """`step` on numpy arrays (C-contiguous float32 state), for loops kept in numpy."""
        return self.step_fn.advance(ids, state)

    def read_from_zero(self, prime: torch.Tensor) -> torch.Tensor:
        """The ids read from the zero state before the first draw after `prime`: a
        document's end symbol or label first (it is read from its start, as in
        training; see `TextFormat.opening`)."""
        return self.text_format.opening(prime)

    def start(self, prime: torch.Tensor) -> Start:
        """State after reading `prime`, and the next character's log-probabilities."""
        state = self.model.initial_state(1)
        prime = self.read_from_zero(prime)
        if prime.numel() == 0:
            return state, self.first_logprobs[None, :]
        out, state = self.feed(prime[None, :], state)
        return state, out[:, -1]

    def advance_text(self, start: Start, ids: torch.Tensor) -> tuple[Start, float]:
        """The position after reading `ids` from `start` (one batched pass), and their
        total log-probability in nats there."""
        if ids.numel() == 0:
            return start, 0.0
        state, first = start
        total = first[0, ids[0]].double()
        out, state = self.feed(ids[None, :], state)
        if ids.numel() > 1:
            total = total + out[0, :-1].gather(1, ids[1:, None]).double().sum()
        return (state, out[:, -1]), float(total)


def repeat(start: Start, rows: int) -> Start:
    """A one-row position as `rows` identical rows (independent samples from one text)."""
    if rows == 1:
        return start
    index = torch.zeros(rows, dtype=torch.long)
    return select_state(start[0], index), start[1].index_select(0, index)


def check_length(length: int) -> None:
    if length < 0:
        raise setting_error(f"length must be >= 0, not {length}")


def ends_with(tokens: np.ndarray, stops: list[np.ndarray]) -> np.ndarray:
    """Rows of `tokens` (rows, time) whose text ends with one of the stop id sequences."""
    done = np.zeros(len(tokens), dtype=bool)
    for stop in stops:
        if 0 < stop.size <= tokens.shape[1]:
            done |= (tokens[:, -stop.size:] == stop).all(axis=1)
    return done


def logprob(decoder: Decoder, prime: torch.Tensor, ids: torch.Tensor) -> float:
    """Total log-probability in nats of the character ids `ids` following `prime`."""
    return decoder.advance_text(decoder.start(prime), ids)[1]
