"""The k most likely next whole words after a prime, each with its exact probability.

A word is a run of word characters (`config.is_word_char`) ended by any other character;
the next word continues the word the prime ends in, or starts at the next character. Its
probability is that of its characters and then of a character that ends it (any
non-word one), so the probabilities of all words and of "no word" (a non-word character
at once) add up to one. The search is best first: a word's probability only falls as
characters are added, so the first k words taken from the front of the queue are the k
most likely, found exactly; each expansion is one decoding step.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import torch

from charrnn.config import is_word_char
from charrnn.decoding.decoder import Decoder
from charrnn.errors import ConfigError

MAX_K = 50  # words asked for at once
MAX_STEPS = 4_000  # decoding steps one search may take (it stops with what it found)
MAX_WORD_CHARS = 64  # a word longer than this is not followed further


def next_words(decoder: Decoder, chars: list[str], prime: torch.Tensor, prefix: str,
               k: int) -> list[tuple[str, float]]:
    """(word, probability) for the k most likely next words after `prime` (ids), best
    first; `prefix` is the part of the current word the prime ends with (it starts each
    word given). `chars` are the model's text characters, by id."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ConfigError(f"k must be between 1 and {MAX_K}, not {k!r}", field="k")
    word_ids = np.flatnonzero([is_word_char(c) for c in chars])
    not_word = np.setdiff1d(np.arange(len(chars)), word_ids)
    state, logprobs = decoder.start(prime)
    queue: list[tuple[float, int, str, object]] = []  # (-log p, tie, text, what follows)
    found: list[tuple[str, float]] = []
    ties = iter(range(2**62))

    def push(log_p: float, text: str, follows: object) -> None:
        heapq.heappush(queue, (-log_p, next(ties), text, follows))

    def expand(log_p: float, text: str, arrays: tuple, row: np.ndarray) -> None:
        """After `text`: the word ending here, and its continuations by a word character,
        best first, as one entry keyed by the likeliest (each taken in turn)."""
        row = row.astype(np.float64)
        # what ends a word: a non-word character, or a document's end (the id after them)
        ends = np.concatenate([row[not_word], row[len(chars) : len(chars) + 1]])
        if text and ends.size:
            push(log_p + float(np.logaddexp.reduce(ends)), text, None)
        if len(text) < MAX_WORD_CHARS:
            order = word_ids[np.argsort(-row[word_ids], kind="stable")]
            order = order[np.isfinite(row[order])]
            if order.size:
                push(log_p + float(row[order[0]]), text, (arrays, log_p, row, order, 0))

    expand(0.0, "", tuple(np.ascontiguousarray(s.numpy()) for s in state),
           logprobs.numpy()[0])
    steps = 0
    while queue and len(found) < k and steps < MAX_STEPS:
        neg, _, text, follows = heapq.heappop(queue)
        if follows is None:  # a word and its end: taken, in order of probability
            found.append((prefix + text, math.exp(-neg)))
        elif len(follows) == 2:  # a prefix: its next distribution, from one step
            arrays, char = follows
            after, arrays = decoder.advance(np.array([char]), arrays)
            expand(-neg, text, arrays, after[0])
            steps += 1
        else:  # the next continuation by a word character, then the one after it
            arrays, log_p, row, order, rank = follows
            char = int(order[rank])
            push(-neg, text + chars[char], (arrays, char))
            if rank + 1 < order.size:
                push(log_p + float(row[order[rank + 1]]), text,
                     (arrays, log_p, row, order, rank + 1))
    return found
