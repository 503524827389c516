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

FAILING_TOP_K = 7  # see conftest's failing_draws


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


# --- failures stay where they belong ----------------------------------------------------

SEEDED = [(Request(prime="ROMEO:", length=60), 1),
          (Request(prime="", length=50, options=SampleConfig(top_p=0.8), num_samples=3), 2),
          (Request(prime="I will", length=40, options=SampleConfig(temperature=1.4),
                   num_samples=2, stop=(".",)), 3)]


def alone(lm, request: Request, seed: int) -> list[str]:
    """What `lm.samples` gives the request on its own."""
    o = request.options
    return lm.samples(request.num_samples, request.length, temperature=o.temperature,
                      prime=request.prime, seed=seed, top_k=o.top_k, top_p=o.top_p,
                      repetition_penalty=o.repetition_penalty, stop=list(request.stop))


def test_a_request_whose_draw_fails_fails_alone(lm, failing_draws, caplog):
    """A request made with top_k=FAILING_TOP_K fails in its own draw."""
    batcher = Batcher(lm)
    try:
        bad = Request(prime="JULIET", length=80, options=SampleConfig(top_k=FAILING_TOP_K))
        gens = [batcher.submit(Request(**{**vars(r), "seed": s})) for r, s in SEEDED[:2]]
        failed = batcher.submit(bad)
        gens.append(batcher.submit(Request(**{**vars(SEEDED[2][0]), "seed": 3})))
        assert failed.done.wait(30) and failed.internal
        assert "internal error" in failed.error
        for gen, (request, seed) in zip(gens, SEEDED, strict=True):
            assert gen.done.wait(30) and gen.error is None
            assert [lm.vocab.decode(row) for row in gen.rows] == alone(lm, request, seed)
    finally:
        batcher.close()
    assert "RuntimeError: a draw that fails" in caplog.text  # logged with its traceback
    assert "Traceback" in caplog.text


def test_a_request_whose_join_fails_fails_alone_beside_queued_and_running_ones(
        lm, monkeypatch, caplog):
    """A long prime whose rows cannot join the batch fails that request only: the long
    primes queued behind it and the request already running still end with their
    texts (none is dropped and left waiting, none failed with it)."""
    from charrnn.decoding import batcher as module

    real = module.Draws

    def draws(options, seed, *args, **kwargs):
        if seed == 666:
            raise RuntimeError("a join that fails")
        return real(options, seed, *args, **kwargs)

    monkeypatch.setattr(module, "Draws", draws)
    long_prime = "ROMEO:\nO that I were a glove upon that hand,\n" * 3
    batcher = Batcher(lm, prime_budget=10_000)
    try:
        running = batcher.submit(Request(prime="ROMEO:", length=400, seed=1))
        bad = batcher.submit(Request(prime=long_prime, length=40, seed=666))
        queued = [batcher.submit(Request(prime=long_prime, length=40, seed=s))
                  for s in (2, 3)]
        assert bad.done.wait(30) and bad.internal and "prime" in bad.error
        for gen in queued:  # neither dropped (its client left waiting) nor failed
            assert gen.done.wait(30) and gen.error is None and len(gen.rows[0]) == 40
        assert running.done.wait(30) and running.error is None
        assert len(running.rows[0]) == 400
    finally:
        batcher.close()
    assert "RuntimeError: a join that fails" in caplog.text


def test_a_callback_that_raises_fails_its_request_and_never_the_worker(lm, caplog):
    def explode(gen):
        raise ValueError("the caller's bug")

    batcher = Batcher(lm)
    try:
        broken = batcher.submit(Request(prime="ROMEO", length=300, seed=1), explode)
        fine = batcher.submit(Request(prime="ROMEO:", length=60, seed=1))
        assert broken.done.wait(30) and broken.internal and "callback" in broken.error
        assert fine.done.wait(30) and fine.error is None
        assert [lm.vocab.decode(r) for r in fine.rows] == alone(lm, SEEDED[0][0], 1)
        later = batcher.submit(Request(prime="O", length=20, seed=4))
        assert later.done.wait(30) and later.error is None and len(later.rows[0]) == 20
        assert batcher.restarts == 0
    finally:
        batcher.close()
    assert "ValueError: the caller's bug" in caplog.text


def test_a_failing_step_fails_what_ran_and_the_worker_goes_on(lm, monkeypatch, caplog):
    batcher = Batcher(lm)
    real = batcher.decoder.advance
    calls = []

    def advance(ids, state):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("the shared step fails once")
        return real(ids, state)

    monkeypatch.setattr(batcher.decoder, "advance", advance)
    try:
        first = batcher.submit(Request(prime="ROMEO", length=50, seed=1))
        assert first.done.wait(30) and first.internal and "step failed" in first.error
        after = batcher.submit(Request(prime="ROMEO:", length=60, seed=1))
        assert after.done.wait(30) and after.error is None
        assert [lm.vocab.decode(r) for r in after.rows] == alone(lm, SEEDED[0][0], 1)
    finally:
        batcher.close()
    assert "RuntimeError: the shared step fails once" in caplog.text


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_worker_that_stops_leaves_no_one_waiting_and_is_started_again(lm, monkeypatch,
                                                                          caplog):
    batcher = Batcher(lm)
    real = batcher._turn
    armed = threading.Event()  # set once every request is in: the next turn ends the thread

    def turn():
        if armed.is_set():
            armed.clear()
            raise SystemExit("the worker's thread ends")  # not an Exception: nothing catches it
        real()

    monkeypatch.setattr(batcher, "_turn", turn)
    try:
        held = [batcher.submit(Request(prime="ROMEO", length=2000, seed=i)) for i in range(3)]
        armed.set()
        for gen in held:  # failed as the thread ended, not left waiting
            assert gen.done.wait(30) and gen.internal and "worker stopped" in gen.error
        batcher._thread.join(5)
        assert not batcher._thread.is_alive()
        again = batcher.submit(Request(prime="ROMEO:", length=60, seed=1))
        assert again.done.wait(30) and again.error is None
        assert [lm.vocab.decode(r) for r in again.rows] == alone(lm, SEEDED[0][0], 1)
        assert batcher.restarts == 1
    finally:
        batcher.close()
    assert "the batcher's worker stopped" in caplog.text
    assert "starting a new one" in caplog.text
