"""The decoder's ways in: `start` from a prime, `read` a text with what each id scored
(the one scoring loop behind logprob, eval, classify, sessions and explain), `advance`
one character per row; reading is checked against a loop of one-character steps."""

import numpy as np
import pytest
import torch

from charrnn.decoding.decoder import Decoder, read_pieces

TEXT = "ROMEO:\nO that I were a glove upon that hand,\nGood night!\n"


def stepped(lm, text: str) -> list[np.ndarray]:
    """The distribution before each character of `text` (read from the start of a text),
    one `advance` at a time: the oracle."""
    state, logprobs = lm.decoder.start(lm.codec.prime(""))
    arrays, logprobs = tuple(np.ascontiguousarray(s.numpy()) for s in state), logprobs.numpy()
    before = []
    for i in lm.codec.encode(text).tolist():
        before.append(logprobs[0].copy())
        logprobs, arrays = lm.decoder.advance(np.array([i]), arrays)
    return before


def test_the_decoder_has_one_way_in_for_each_need():
    """start (a prime), read (a text, scored), advance (a character a row, in numpy for
    the drawing loops) and feed (the one pass under read, for batches of documents)."""
    public = {name for name, value in vars(Decoder).items()
              if not name.startswith("_") and callable(value)}
    assert public == {"start", "read", "advance", "feed"}


@pytest.mark.parametrize("size", [1, 3, 8, 4096])
def test_reading_in_pieces_scores_each_character_as_one_step_at_a_time(lm, size):
    ids = lm.codec.encode(TEXT)
    start = lm.decoder.start(lm.codec.prime(""))
    readings = list(read_pieces(lm.decoder, start, [ids[None, :]], size))
    assert torch.equal(torch.cat([r.ids[0] for r in readings]), ids)
    oracle = stepped(lm, TEXT)
    each = torch.cat([r.logprobs()[0] for r in readings])
    assert each.tolist() == pytest.approx([b[i] for b, i in zip(oracle, ids.tolist(),
                                                                 strict=True)], abs=1e-4)
    seen = torch.cat([r.distributions()[0] for r in readings])
    assert np.allclose(seen.numpy(), np.stack(oracle), atol=1e-4)
    assert sum(float(r.first[0] + r.rest[0]) for r in readings) == pytest.approx(
        lm.logprob(TEXT), abs=1e-4)


def test_start_reads_primes_side_by_side_as_each_alone(lm):
    primes = torch.stack([lm.codec.prime("ROMEO:"), lm.codec.prime("JULIET")])
    state, logprobs = lm.decoder.start(primes)
    for row, prime in enumerate(primes):
        alone_state, alone = lm.decoder.start(prime)
        assert torch.allclose(logprobs[row], alone[0], atol=1e-5)
        for rows, one in zip(state, alone_state, strict=True):
            assert torch.allclose(rows[:, row], one[:, 0], atol=1e-5)


def test_reading_nothing_stays_where_it_was(lm):
    start = lm.decoder.start(lm.codec.prime("ROMEO"))
    reading = lm.decoder.read(start, torch.zeros(1, 0, dtype=torch.long))
    assert reading.end is start
    assert reading.total.tolist() == [0.0] and lm.logprob("", prime="ROMEO") == 0.0
