"""One inference step, and the sampling, beam search and scoring built on it.

Because all three read next-character log-probabilities from the same `Decoder`, a beam's
score is the log-probability `logprob` gives its text, and width-1 beam search is greedy
sampling, by construction rather than by coincidence.

An empty prime means "the start of a text": the first character's distribution is the
character frequency of the training corpus (stored in the vocabulary), and the model
takes over from its zero initial state, as at the start of each training stream.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from charrnn.errors import ConfigError
from charrnn.model import CharRNN, State, select_state


@contextlib.contextmanager
def _without_onednn():
    """oneDNN's RNN kernels are slow and erratic for the tiny batches of decoding."""
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = previous


class Decoder:
    """Next-character log-probabilities from a trained model, without autograd."""

    def __init__(self, model: CharRNN, char_counts: list[int]):
        self.model = model.eval()
        counts = torch.tensor(char_counts, dtype=torch.float64)
        self.first_logprobs = torch.log(counts / counts.sum()).to(torch.float32)

    @property
    def vocab_size(self) -> int:
        return self.first_logprobs.numel()

    def feed(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """ids (batch, time) -> log-probabilities (batch, time, vocab) and the new state."""
        with torch.inference_mode(), _without_onednn():
            logits, state = self.model(ids, state)
            return F.log_softmax(logits.float(), dim=-1), state

    def step(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One character per row: ids (batch,) -> log-probabilities (batch, vocab)."""
        logprobs, state = self.feed(ids[:, None], state)
        return logprobs[:, 0], state

    def start(self, prime: torch.Tensor, batch: int = 1) -> tuple[State, torch.Tensor]:
        """State after reading `prime`, and the next character's log-probabilities."""
        state = self.model.initial_state(1)
        if prime.numel() == 0:
            logprobs = self.first_logprobs[None, :]
        else:
            out, state = self.feed(prime[None, :], state)
            logprobs = out[:, -1]
        if batch != 1:
            rows = torch.zeros(batch, dtype=torch.long)
            state, logprobs = select_state(state, rows), logprobs.index_select(0, rows)
        return state, logprobs


def _check_length(length: int) -> None:
    if length < 0:
        raise ConfigError(f"--length must be >= 0, not {length}")


def generator_for(seed: int | None) -> torch.Generator:
    """A private random generator: seeded for reproducible text, else fresh entropy."""
    return torch.Generator().manual_seed(random.SystemRandom().getrandbits(63) if seed is None
                                         else seed)


def sample_ids(
    decoder: Decoder, prime: torch.Tensor, length: int, temperature: float = 1.0,
    seed: int | None = None,
) -> Iterator[int]:
    """`length` character ids drawn from softmax(logits / temperature), yielded one by one.

    Temperature 0 means greedy: always the most likely character. Options are checked and
    the prime is read before this returns, so errors surface before any output.
    """
    _check_length(length)
    if not math.isfinite(temperature) or temperature < 0:
        raise ConfigError(f"--temperature must be >= 0, not {temperature}")
    generator = generator_for(seed)
    state, logprobs = decoder.start(prime)

    def draw() -> Iterator[int]:
        nonlocal state, logprobs
        for i in range(length):
            if temperature == 0:
                nxt = logprobs.argmax(dim=-1)
            else:
                probs = torch.softmax(logprobs / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator)[:, 0]
            yield int(nxt[0])
            if i + 1 < length:
                logprobs, state = decoder.step(nxt, state)

    return draw()


def beam_search(
    decoder: Decoder, prime: torch.Tensor, length: int, width: int, n_best: int = 1,
) -> list[tuple[list[int], float]]:
    """The `n_best` most likely continuations of exactly `length` characters found by a beam
    of `width`, best first, each with its total log-probability in nats.

    Every step advances all beams in one batched forward pass, and the hidden states follow
    their beams by index. With width >= |V|^(length-1) the search is exhaustive.
    """
    _check_length(length)
    if width < 1:
        raise ConfigError(f"--width must be >= 1, not {width}")
    if not 1 <= n_best <= width:
        raise ConfigError(f"--n-best must be between 1 and --width ({width}), not {n_best}")
    vocab = decoder.vocab_size
    state, logprobs = decoder.start(prime)
    scores = torch.zeros(1, dtype=torch.float64)
    tokens = torch.zeros(1, 0, dtype=torch.long)
    for i in range(length):
        candidates = (scores[:, None] + logprobs.double()).view(-1)
        scores, flat = candidates.topk(min(width, candidates.numel()))
        beams, chars = flat // vocab, flat % vocab
        tokens = torch.cat([tokens.index_select(0, beams), chars[:, None]], dim=1)
        if i + 1 < length:
            logprobs, state = decoder.step(chars, select_state(state, beams))
    keep = min(n_best, scores.numel())
    return [(tokens[j].tolist(), float(scores[j])) for j in range(keep)]


def logprob(decoder: Decoder, prime: torch.Tensor, ids: torch.Tensor) -> float:
    """Total log-probability in nats of the character ids `ids` following `prime`."""
    if ids.numel() == 0:
        return 0.0
    state, first = decoder.start(prime)
    total = first[0, ids[0]].double()
    if ids.numel() > 1:
        rest, _ = decoder.feed(ids[None, :-1], state)
        total = total + rest[0].gather(1, ids[1:, None]).double().sum()
    return float(total)
