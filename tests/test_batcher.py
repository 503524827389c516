"""The continuous batcher in Python: short primes read inside the batched step give the
texts a request gets alone, for a text model and a model of documents, and a request
hears nothing before its first character."""

from __future__ import annotations

import threading

import pytest

import charrnn
from charrnn.config import SampleConfig
from charrnn.decoding.batcher import Batcher, Request
from charrnn.decoding.decoder import FUSED_FROM


@pytest.fixture(scope="module")
def names_lm(tmp_path_factory):
    """A small model of documents (one name a line)."""
    folder = tmp_path_factory.mktemp("names")
    path = folder / "names.txt"
    path.write_text("\n".join(["mara", "marie", "ann", "anna", "jo", "joseph", "kate",
                               "katherine", "li", "lisa"] * 20) + "\n", encoding="utf-8")
    charrnn.train(path, documents="lines", steps=40, hidden_size=32, embed_size=8,
                  batch_size=8, seq_len=16, eval_every=10**6, out=folder / "run")
    return charrnn.load(folder / "run")


def run_together(lm, requests: list[tuple[Request, int]], max_batch: int = 32) -> list:
    """Submit every request at once; each one's texts once all are done."""
    batcher = Batcher(lm, max_batch=max_batch)
    try:
        gens = [batcher.submit(Request(**{**vars(r), "seed": seed})) for r, seed in requests]
        for gen in gens:
            assert gen.done.wait(30) and gen.error is None
        return [[lm.vocab.decode(row) for row in gen.rows] for gen in gens]
    finally:
        batcher.close()


def alone(lm, request: Request, seed: int) -> list[str]:
    return lm.samples(request.num_samples, request.length, prime=request.prime, seed=seed)


@pytest.mark.parametrize("model", ["lm", "names_lm"])
def test_short_and_long_primes_read_in_the_batch_give_the_text_a_request_gets_alone(
        model, request):
    lm = request.getfixturevalue(model)
    a, b = [c for c in lm.vocab.chars if c.isalpha()][:2]
    primes = ["", a, b + a, a + b + b, b * (FUSED_FROM - 2), a * (FUSED_FROM - 1),
              a * FUSED_FROM, (a + b) * FUSED_FROM]  # up to FUSED_FROM: read in the batch
    requests = [(Request(prime=p, length=25, num_samples=1 + i % 2), 10 + i)
                for i, p in enumerate(primes)]
    together = run_together(lm, requests)
    for (req, seed), texts in zip(requests, together, strict=True):
        assert texts == alone(lm, req, seed), req.prime
    assert run_together(lm, requests[3:4]) == [alone(lm, *requests[3])]  # alone, too


def test_a_request_hears_nothing_before_its_first_character(lm):
    heard: list[int] = []
    batcher = Batcher(lm)
    try:
        finished = threading.Event()

        def on_update(gen) -> None:
            heard.append(len(gen.rows[0]))
            if gen.done.is_set():
                finished.set()

        prime = "".join(c for c in lm.vocab.chars if c.isalpha())[:5]
        batcher.submit(Request(prime=prime, length=12, seed=1), on_update)
        assert finished.wait(30)
    finally:
        batcher.close()
    assert heard[0] == 1 and heard[-1] == 12  # not called while its prime was read


def test_a_cancelled_request_frees_its_rows_for_the_next(lm):
    batcher = Batcher(lm, max_batch=2)
    try:
        letter = next(c for c in lm.vocab.chars if c.isalpha())
        long = batcher.submit(Request(prime=letter * 5, length=10**4, num_samples=2, seed=1))
        long.cancel()
        assert long.done.wait(30)
        after = batcher.submit(Request(prime=letter, length=5, num_samples=2, seed=2))
        assert after.done.wait(30) and after.error is None
        assert [len(r) for r in after.rows] == [5, 5]
    finally:
        batcher.close()


def test_a_documents_model_with_no_prime_and_a_repetition_penalty_beside_another(names_lm):
    penalised = Request(prime="", length=20, options=SampleConfig(
        repetition_penalty=1.3), num_samples=2)
    plain = Request(prime="", length=20)
    together = run_together(names_lm, [(penalised, 5), (plain, 6)])
    assert together[0] == names_lm.samples(2, 20, repetition_penalty=1.3, seed=5)
    assert together[1] == alone(names_lm, plain, 6)
