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

import asyncio
import contextlib
import dataclasses
import json
import math
import os
import time
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from charrnn.api.language_model import LanguageModel
from charrnn.config import ServeConfig
from charrnn.decoding.batcher import Batcher, Busy, Generation
from charrnn.decoding.batcher import Request as Generate
from charrnn.errors import CharRNNError
from charrnn.export.javascript import writing_page_part
from charrnn.interface.serve import fields
from charrnn.interface.serve.fields import FieldError
from charrnn.interface.serve.guards import Guard
from charrnn.model import runs
from charrnn.threads import release_worker_threads

STREAM_INTERVAL = 0.05  # seconds between a stream's events once the first has gone
COMPILERS = 2  # constrained requests whose rules are compiled at once (the rest wait)


class _JSON(JSONResponse):
    """JSON with non-ASCII escaped: a byte-level model's text can hold undecodable bytes
    (lone surrogates), which escaped JSON carries and raw UTF-8 cannot."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False,
                          separators=(",", ":")).encode("ascii")


class Service:
    """What the routes share: the model, its batcher, a second decoder for beam search,
    scoring, next words and particles, the limits and what `/v1/model` says."""

    def __init__(self, lm: LanguageModel, config: ServeConfig, warm: bool = True):
        self.lm, self.config = lm, config
        self.batcher = Batcher(lm, config.max_batch, config.max_waiting)
        if warm:
            self.batcher.warm_up()
        self.side = LanguageModel(lm.model, lm.vocab, lm.record, lm.path, lm.weights,
                                  words=lm.words)
        self.side_limiter = anyio.CapacityLimiter(1)
        self.side_waiting = 0
        self.compile_limiter = anyio.CapacityLimiter(COMPILERS)
        self.compiling = 0
        self.info = _finite({**_model_info(lm, config.show_paths), "limits": _limits(config)})
        release_worker_threads()  # from here on, the batcher's thread runs the model

    async def run_side(self, call, *args, **kwargs) -> Any:
        """Beam search or scoring on the side thread, one at a time; 503 when
        `max_waiting` are already waiting for it."""
        if self.side_waiting >= self.config.max_waiting:
            raise FieldError(None, "too many requests are waiting; try again shortly", 503)
        self.side_waiting += 1
        try:
            return await anyio.to_thread.run_sync(lambda: _releasing(call, *args, **kwargs),
                                                  limiter=self.side_limiter)
        except CharRNNError as exc:
            raise fields.library_error(exc) from None
        finally:
            self.side_waiting -= 1

    async def submit(self, request: Generate, wake,
                     names: dict[str, str] | None = None) -> Generation:
        """Queue a generation; the library's errors name its fields, said here by the
        request's own `names` for them (/generate's prime is its start_text). A
        constrained one is checked and compiled on a thread (`COMPILERS` at once, 503
        when `max_waiting` already wait for one)."""
        if not request.constraints:
            return self._submit(request, wake, names)
        if self.compiling >= self.config.max_waiting:
            raise FieldError(None, "too many requests are waiting; try again shortly", 503)
        self.compiling += 1
        try:
            return await anyio.to_thread.run_sync(self._submit, request, wake, names,
                                                  limiter=self.compile_limiter)
        finally:
            self.compiling -= 1

    def _submit(self, request: Generate, wake, names: dict[str, str] | None) -> Generation:
        try:
            return self.batcher.submit(request, wake)
        except Busy as exc:
            raise FieldError(None, str(exc), 503) from None
        except CharRNNError as exc:
            raise fields.library_error(exc, names) from None


def _releasing(call, *args, **kwargs) -> Any:
    """`call` on a side thread, whose OpenMP workers are freed when it returns: while
    they exist, the batcher's own run slower (see `charrnn.threads`)."""
    try:
        return call(*args, **kwargs)
    finally:
        release_worker_threads()


def _model_info(lm: LanguageModel, show_paths: bool = False) -> dict[str, Any]:
    """`charrnn info --json` of the served checkpoint, and the decoding precision. Files
    are named, not located (a path tells a client about the operator's disk), unless
    the operator asked for paths."""
    try:
        info = runs.describe(lm.path) if lm.path is not None else {}
    except CharRNNError:
        info = {}
    if info and not show_paths:
        info = _located_nowhere(info)
    name = runs.run_name(lm.path) if lm.path is not None else "model"
    return {"name": name, **info, "weights": lm.weights,
            "documents": lm.documents, "labels": list(lm.labels),
            "default_label": lm.default_label,
            "parameters": info.get("parameters", lm.model.num_parameters)}


def _located_nowhere(info: dict[str, Any]) -> dict[str, Any]:
    """`info` with its files named, not located: the checkpoint, run folder and corpus
    by name; the parent model and the weight patterns, as typed at training (often
    absolute), relative to the served run folder (`_seen_from`)."""
    run = Path(info["run"]).resolve()
    parent, data = info.get("parent"), info.get("data")
    if isinstance(parent, dict) and isinstance(parent.get("name"), str):
        parent = {**parent, "name": _seen_from(run, parent["name"])}
    if isinstance(data, dict) and isinstance(data.get("weights"), (list, tuple)):
        data = {**data, "weights": [_seen_from(run, pattern) + "=" + weight for pattern, _,
                                    weight in (str(w).rpartition("=") for w in data["weights"])]}
    return {**info, "checkpoint": Path(info["checkpoint"]).name, "run": run.name,
            "corpus": {**info["corpus"], "source": _file_name(info["corpus"]["source"])},
            "parent": parent, "data": data}


def _seen_from(run: Path, typed: str) -> str:
    """An absolute path typed at training (a parent model, a weight's pattern) relative
    to the served run folder when it lies in the project that holds the runs (runs sit
    in <project>/checkpoints/<run>: `../parent`, `../../letters/bob/*`), else by its
    name; a relative one locates nothing and stays as typed."""
    path, project = Path(typed), run.parent.parent
    if not path.is_absolute():
        return typed
    if len(project.parts) > 1 and Path(os.path.normpath(path)).is_relative_to(project):
        return Path(os.path.relpath(path, run)).as_posix()
    return path.name


def _file_name(source: str | None) -> str | None:
    return None if source is None else Path(source).name


def _finite(value: Any) -> Any:
    """NaN and infinities (a diverged run's metrics) as null, which JSON can carry."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _limits(config: ServeConfig) -> dict[str, int]:
    """What a client may ask for (the page trims its prime to max_prime)."""
    return {"max_length": config.max_length, "max_samples": config.samples_limit,
            "max_prime": config.max_prime, "max_width": config.max_width}


# --- waiting for a generation -----------------------------------------------------------

class _Waker:
    """Wakes the event loop from the batcher's thread, for the first ids of a stream and
    for the end: a stream reads what else arrived every `STREAM_INTERVAL`, so a busy
    batch costs the event loop two wake-ups a request, not one a character."""

    def __init__(self, stream: bool):
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()
        self.waiting_for_first = stream
        self.ended = False

    def __call__(self, gen: Generation) -> None:
        if gen.done.is_set() and not self.ended:
            self.ended = True
        elif self.waiting_for_first:
            self.waiting_for_first = False
        else:
            return
        self.loop.call_soon_threadsafe(self.event.set)

    async def wait(self, timeout: float | None = None) -> None:
        """Until woken (or `timeout` seconds). Python 3.11's `asyncio.wait_for` drops a
        cancellation that arrives as the event is set (the server's shutdown does both:
        it cancels what outlasts the grace period and fails it in the batcher), so a
        stream cut at shutdown could end as if whole; `asyncio.timeout` keeps it."""
        with contextlib.suppress(asyncio.TimeoutError):
            if hasattr(asyncio, "timeout"):  # Python 3.11 and later
                async with asyncio.timeout(timeout):
                    await self.event.wait()
            else:
                await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()


async def _disconnected(request: Request) -> None:
    """Returns when the client closes its connection (the body is already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _until_done(gen: Generation, waker: _Waker, request: Request) -> bool:
    """Wait for the generation to end; False (and the generation cancelled) if the client
    left first."""
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        while not gen.done.is_set():  # (checked each second too: a lost wake-up costs 1 s)
            waiting = asyncio.ensure_future(waker.wait(1.0))
            await asyncio.wait({gone, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if gone.done():
                waiting.cancel()
                gen.cancel()
                return False
        return True
    finally:
        gone.cancel()


def _failed(gen: Generation) -> None:
    """A failed generation's answer: 500 for the server's own fault (logged by the
    batcher), 503 while it shuts down."""
    if gen.error is not None:
        raise FieldError(None, gen.error, 500 if gen.internal else 503)


# --- routes -------------------------------------------------------------------------------

async def sample(request: Request) -> Response:
    service: Service = request.app.state.service
    data = fields.json_object(await request.body())
    req, stream = fields.sample_request(data, service.lm, service.config)
    began = time.perf_counter()
    if req.particles > 1:
        return await _by_particles(service, req, stream, began)
    waker = _Waker(stream)
    gen = await service.submit(req, waker)
    if stream:
        return StreamingResponse(_events(service.lm, gen, waker, began),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})
    if not await _until_done(gen, waker, request):
        return Response(status_code=499)
    _failed(gen)
    return _JSON({"prime": req.prime, "samples": service.lm.codec.texts(gen.rows),
                         "time": round(time.perf_counter() - began, 4)})


async def _events(lm: LanguageModel, gen: Generation, waker: _Waker,
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
        return _JSON({"prime": req.prime, "samples": samples, "time": took})

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
    waker = _Waker(stream=False)
    gen = await service.submit(req, waker, {"prime": "start_text"})
    if not await _until_done(gen, waker, request):
        return Response(status_code=499)
    _failed(gen)
    return _JSON({"start_text": start_text, "completions": service.lm.codec.texts(gen.rows),
                  "replaced": respelled.replaced, "dropped": respelled.dropped,
                  "time": round(time.perf_counter() - began, 4)})


async def beam(request: Request) -> Response:
    service: Service = request.app.state.service
    options = fields.beam_request(fields.json_object(await request.body()), service.lm,
                                  service.config)
    began = time.perf_counter()
    found = await service.run_side(service.side.beam, **options)
    return _JSON({"prime": options["prime"],
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
    return _JSON({"logprob": nats, "symbols": count, "nats_per_char": -per,
                         "bits_per_char": -per / 0.6931471805599453})


async def next_words(request: Request) -> Response:
    """`lm.next_words`: the k likeliest next whole words, each with its probability."""
    service: Service = request.app.state.service
    options = fields.next_words_request(fields.json_object(await request.body()),
                                        service.config)
    began = time.perf_counter()
    found = await service.run_side(service.side.next_words, **options)
    return _JSON({"prime": options["prime"],
                  "words": [{"word": w, "probability": p} for w, p in found],
                  "time": round(time.perf_counter() - began, 4)})


async def classify(request: Request) -> Response:
    service: Service = request.app.state.service
    text = fields.classify_request(fields.json_object(await request.body()), service.config)
    found = await service.run_side(service.side.classify, text)
    return _JSON(found.to_dict())


async def model(request: Request) -> Response:
    return _JSON(request.app.state.service.info)


async def health(request: Request) -> Response:
    service: Service = request.app.state.service
    return _JSON({"status": "ok", **service.batcher.load})


async def page(request: Request) -> Response:
    """The writing page; a client that asks for JSON only (rnn-writer checks that the
    server is up with `GET /`, as torch-rnn-server answered it) gets a greeting."""
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        name = request.app.state.service.info["name"]
        return _JSON({"message": f"charrnn serve: {name}. Have fun!"})
    return HTMLResponse(request.app.state.page, headers={"Cache-Control": "no-store"})


# --- errors -------------------------------------------------------------------------------

async def _field_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FieldError)
    headers = {"Retry-After": "1"} if exc.status == 503 else None
    return _JSON(exc.body(), status_code=exc.status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _JSON(fields.error_body(exc.detail), status_code=exc.status_code,
                 headers=exc.headers)


async def _bug(request: Request, exc: Exception) -> Response:
    """A bug in a route: 500 with one line (Starlette then raises it on to uvicorn,
    which logs the traceback)."""
    return _JSON(fields.error_body(f"internal error: {type(exc).__name__} (the server's "
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
