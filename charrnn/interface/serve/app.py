"""The HTTP API and the writing page, as a Starlette app over one `Batcher`.

Generation (`/v1/sample`, `/generate`) goes through the batcher, so every request in
flight shares one batched step per character; a request's constraints are compiled on a
thread of their own first (a verse form or a long word list can take a while), so the
event loop keeps streaming. Beam search, scoring, next words and sampling by particles
run one at a time on a worker thread with a decoder of their own (the batcher's step
buffers belong to the batcher's thread). A client that goes away is noticed while its
request waits or streams, and its rows leave the batch at the next step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from charrnn.api.language_model import LanguageModel
from charrnn.config import ServeConfig
from charrnn.decoding.batcher import Generation
from charrnn.decoding.batcher import Request as Generate
from charrnn.export.javascript import writing_page_part
from charrnn.interface.serve import fields, openai_api
from charrnn.interface.serve.fields import FieldError
from charrnn.interface.serve.guards import Guard
from charrnn.interface.serve.service import (
    JSON,
    STREAM_INTERVAL,
    Service,
    Waker,
    raise_failure,
    until_done,
)

# --- routes -------------------------------------------------------------------------------

async def sample(request: Request) -> Response:
    service: Service = request.app.state.service
    data = fields.json_object(await request.body())
    req, stream = fields.sample_request(data, service.lm, service.config)
    began = time.perf_counter()
    if req.particles > 1:
        return await _by_particles(service, req, stream, began)
    waker = Waker(stream)
    gen = await service.submit(req, waker)
    if stream:
        return StreamingResponse(_events(service.lm, gen, waker, began),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})
    if not await until_done(gen, waker, request):
        return Response(status_code=499)
    raise_failure(gen)
    return JSON({"prime": req.prime, "samples": service.lm.codec.texts(gen.rows),
                         "time": round(time.perf_counter() - began, 4)})


async def _events(lm: LanguageModel, gen: Generation, waker: Waker,
                  began: float) -> AsyncIterator[str]:
    """Server-Sent Events: {"sample": i, "text": piece} as pieces are drawn, then an
    "end" event with the whole samples (or an "error" event)."""
    texts = [lm.vocab.streaming_text() for _ in gen.rows]
    sent = [0] * len(gen.rows)
    try:
        while True:
            finished = gen.done.is_set()
            for i, row in enumerate(gen.rows):
                size = len(row)  # read once: the worker may append meanwhile
                fresh, sent[i] = row[sent[i] : size], size
                piece = "".join(texts[i].feed(x) for x in fresh)
                if finished:
                    piece += texts[i].flush()
                if piece:
                    yield _event("message", {"sample": i, "text": piece})
            if finished:
                break
            await waker.wait(STREAM_INTERVAL if any(sent) else 1.0)
        if gen.error is not None:
            yield _event("error", fields.error_body(gen.error))
        else:
            yield _event("end", {"samples": lm.codec.texts(gen.rows),
                                 "time": round(time.perf_counter() - began, 4)})
    finally:
        gen.cancel()  # a no-op once done; a client gone mid-stream frees its rows


async def _by_particles(service: Service, req: Generate, stream: bool,
                        began: float) -> Response:
    """A request drawn by particles: `lm.samples(..., particles=N)` on the side thread
    (one at a time, beside beam search; it runs to its end, bounded by max_length and
    max_samples). Its texts are whole before any is sent: a stream gets each in one
    event, then "end"."""
    samples = await service.run_side(
        service.side.samples, req.num_samples, req.length, prime=req.prime, seed=req.seed,
        stop=req.stop, label=req.label, constraints=req.constraints,
        particles=req.particles, **dataclasses.asdict(req.options))
    took = round(time.perf_counter() - began, 4)
    if not stream:
        return JSON({"prime": req.prime, "samples": samples, "time": took})

    async def events() -> AsyncIterator[str]:
        for i, text in enumerate(samples):
            if text:
                yield _event("message", {"sample": i, "text": text})
        yield _event("end", {"samples": samples, "time": took})

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})


def _event(kind: str, data: dict[str, Any]) -> str:
    payload = json.dumps(data, ensure_ascii=True)
    return f"data: {payload}\n\n" if kind == "message" else f"event: {kind}\ndata: {payload}\n\n"


async def generate(request: Request) -> Response:
    """torch-rnn-server's API, for rnn-writer and other clients written for it:
    start_text is echoed as it arrived (still percent-encoded), and characters the
    model never saw are replaced or dropped, as `replaced` and `dropped` say."""
    service: Service = request.app.state.service
    start_text = fields.raw_query_value(request.scope["query_string"], "start_text")
    req, respelled = fields.generate_query(request.query_params, service.lm, service.config)
    began = time.perf_counter()
    waker = Waker(stream=False)
    gen = await service.submit(req, waker, {"prime": "start_text"})
    if not await until_done(gen, waker, request):
        return Response(status_code=499)
    raise_failure(gen)
    return JSON({"start_text": start_text, "completions": service.lm.codec.texts(gen.rows),
                  "replaced": respelled.replaced, "dropped": respelled.dropped,
                  "time": round(time.perf_counter() - began, 4)})


async def beam(request: Request) -> Response:
    service: Service = request.app.state.service
    options = fields.beam_request(fields.json_object(await request.body()), service.lm,
                                  service.config)
    began = time.perf_counter()
    found = await service.run_side(service.side.beam, **options)
    return JSON({"prime": options["prime"],
                         "results": [{"text": t, "logprob": s} for t, s in found],
                         "time": round(time.perf_counter() - began, 4)})


async def logprob(request: Request) -> Response:
    service: Service = request.app.state.service
    options = fields.logprob_request(fields.json_object(await request.body()), service.lm,
                                     service.config)
    nats = await service.run_side(service.side.logprob, **options)
    if not math.isfinite(nats):
        raise FieldError("text", "the model gives this text probability 0 (a byte its "
                                 "corpus never held)")
    count = len(service.lm.vocab.encode(options["text"])) + int(options["complete"])
    per = nats / count if count else 0.0
    return JSON({"logprob": nats, "symbols": count, "nats_per_char": -per,
                         "bits_per_char": -per / 0.6931471805599453})


async def next_words(request: Request) -> Response:
    """`lm.next_words`: the k likeliest next whole words, each with its probability."""
    service: Service = request.app.state.service
    options = fields.next_words_request(fields.json_object(await request.body()),
                                        service.config)
    began = time.perf_counter()
    found = await service.run_side(service.side.next_words, **options)
    return JSON({"prime": options["prime"],
                  "words": [{"word": w, "probability": p} for w, p in found],
                  "time": round(time.perf_counter() - began, 4)})


async def classify(request: Request) -> Response:
    service: Service = request.app.state.service
    text = fields.classify_request(fields.json_object(await request.body()), service.config)
    found = await service.run_side(service.side.classify, text)
    return JSON(found.to_dict())


async def model(request: Request) -> Response:
    return JSON(request.app.state.service.info)


async def health(request: Request) -> Response:
    service: Service = request.app.state.service
    return JSON({"status": "ok", **service.batcher.load})


async def page(request: Request) -> Response:
    """The writing page; a client that asks for JSON only (rnn-writer checks that the
    server is up with `GET /`, as torch-rnn-server answered it) gets a greeting."""
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        name = request.app.state.service.info["name"]
        return JSON({"message": f"charrnn serve: {name}. Have fun!"})
    return HTMLResponse(request.app.state.page, headers={"Cache-Control": "no-store"})


# --- errors -------------------------------------------------------------------------------

async def _field_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FieldError)
    headers = {"Retry-After": "1"} if exc.status == 503 else None
    return JSON(exc.body(), status_code=exc.status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSON(fields.error_body(exc.detail), status_code=exc.status_code,
                 headers=exc.headers)


async def _bug(request: Request, exc: Exception) -> Response:
    """A bug in a route: 500 with one line (Starlette then raises it on to uvicorn,
    which logs the traceback)."""
    return JSON(fields.error_body(f"internal error: {type(exc).__name__} (the server's "
                                   f"log has the details)"), status_code=500)


def create_app(lm: LanguageModel, config: ServeConfig, warm: bool = True) -> Starlette:
    """The app; its batcher's worker stops at the app's shutdown (or with
    `app.state.service.batcher.close()` where no server runs its lifespan)."""
    service = Service(lm, config.validate(), warm)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            service.batcher.close()

    app = Starlette(
        routes=[
            Route("/", page), Route("/health", health), Route("/generate", generate),
            Route("/v1/model", model), Route("/v1/sample", sample, methods=["POST"]),
            Route("/v1/beam", beam, methods=["POST"]),
            Route("/v1/logprob", logprob, methods=["POST"]),
            Route("/v1/next_words", next_words, methods=["POST"]),
            Route("/v1/classify", classify, methods=["POST"]),
            Route("/v1/models", openai_api.models),
            Route("/v1/models/{model:path}", openai_api.model),
            Route("/v1/completions", openai_api.completions, methods=["POST"]),
            Route("/v1/chat/completions", openai_api.chat_completions, methods=["POST"]),
        ],
        exception_handlers={FieldError: _field_error, HTTPException: _http_error,
                            Exception: _bug},
        middleware=[Middleware(Guard, config=service.config)],
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.page = writing_page()
    return app


def writing_page() -> str:
    """page.html with the style and the suggestion script it shares with an exported
    page."""
    page = resources.files(__package__).joinpath("page.html").read_text("utf-8")
    return (page.replace("/*WRITING_STYLE*/", writing_page_part("writing.css"))
                .replace("/*SUGGESTIONS*/", writing_page_part("suggestions.js")))
