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
    word_ids = np.array([is_word_char(c) for c in chars], dtype=bool)
    state, logprobs = decoder.start(prime)
    arrays = tuple(np.ascontiguousarray(s.numpy()) for s in state)
    queue: list[tuple[float, int, str, object]] = []  # (-log p, tie, text, what follows)
    tie = 0
    found: list[tuple[str, float]] = []

    def push(log_p: float, text: str, follows) -> None:
        nonlocal tie
        heapq.heappush(queue, (-log_p, tie, text, follows))
        tie += 1

    push(0.0, "", (arrays, logprobs.numpy()[0]))
    steps = 0
    while queue and len(found) < k and steps < MAX_STEPS:
        neg, _, text, follows = heapq.heappop(queue)
        if follows is None:  # a word and its end: taken, in order of probability
            found.append((prefix + text, math.exp(-neg)))
            continue
        arrays, row = follows
        if isinstance(row, int):  # a prefix's next distribution, from one step now
            logprobs_after, arrays = decoder.advance(np.array([row]), arrays)
            row = logprobs_after[0]
            steps += 1
        text_row = row[: len(chars)].astype(np.float64)
        # what ends a word: a non-word character, or a document's end (the id after them)
        ends = np.concatenate([text_row[~word_ids], row[len(chars) : len(chars) + 1]])
        if text and ends.size:  # the word ends here, with any non-word character
            push(-neg + float(np.logaddexp.reduce(ends)), text, None)
        if len(text) >= MAX_WORD_CHARS:
            continue
        for i in np.flatnonzero(word_ids):
            if np.isfinite(text_row[i]):
                push(-neg + float(text_row[i]), text + chars[i], (arrays, int(i)))
    return found

