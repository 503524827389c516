"""The OpenAI API over the same batcher, so OpenAI's clients (the `openai` libraries,
editor plug-ins) use `charrnn serve` unchanged: `/v1/models`, `/v1/completions`,
`/v1/chat/completions`, their errors in OpenAI's shape.

Texts come from the same engine as `/v1/sample` (the batcher, or the side thread for
particles and for `best_of`, a beam search), so a seeded request gives what the Python
API gives. A text ends before its stop string, as OpenAI's do (`finish_reason` "stop");
else at `max_tokens` characters ("length"). `usage` counts characters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from charrnn.decoding.batcher import Request as Generate
from charrnn.interface.serve import fields
from charrnn.interface.serve.fields import FieldError
from charrnn.interface.serve.openai_requests import (
    Completion,
    chat_request,
    completion_request,
)
from charrnn.interface.serve.service import (
    JSON,
    STREAM_INTERVAL,
    Service,
    Waker,
    raise_failure,
    until_done,
)

OPENAI_PATHS = ("/v1/models", "/v1/completions", "/v1/chat/completions")
CREATED = int(time.time())  # when this server's model became available


def openai_error(message: str, status: int, param: str | None = None) -> JSON:
    """OpenAI's error shape; 503 (the queue is full, the server stops) is said as 429,
    the status OpenAI's clients retry on."""
    status = 429 if status == 503 else status
    kind = {401: "authentication_error", 404: "invalid_request_error",
            429: "rate_limit_error"}.get(status, "invalid_request_error" if status < 500
                                         else "server_error")
    code = {404: "model_not_found", 401: "invalid_api_key"}.get(status)
    headers = {"Retry-After": "1"} if status == 429 else None
    return JSON({"error": {"message": message, "type": kind, "param": param, "code": code}},
                status_code=status, headers=headers)


def _openai_errors(route: Callable[[Request], Awaitable[Response]]):
    """A route whose refusals (FieldError) are said in OpenAI's shape."""

    @functools.wraps(route)
    async def answering(request: Request) -> Response:
        try:
            return await route(request)
        except FieldError as exc:
            return openai_error(exc.message, exc.status, exc.field)
    return answering


@_openai_errors
async def models(request: Request) -> Response:
    """The one served model; `vocabulary` lists its characters (the texts it can write,
    the keys `ban_chars` and patterns speak of)."""
    return JSON({"object": "list", "data": [_model_card(request.app.state.service)]})


@_openai_errors
async def model(request: Request) -> Response:
    service: Service = request.app.state.service
    if request.path_params["model"] != service.info["name"]:
        raise FieldError("model", f"the model {request.path_params['model'][:100]!r} does "
                                  "not exist", 404)
    return JSON(_model_card(service))


def _model_card(service: Service) -> dict:
    return {"id": service.info["name"], "object": "model", "created": CREATED,
            "owned_by": "charrnn", "vocabulary": list(service.lm.vocab.chars)}


@_openai_errors
async def completions(request: Request) -> Response:
    return await _answer(request, completion_request, _completion_body)


@_openai_errors
async def chat_completions(request: Request) -> Response:
    return await _answer(request, chat_request, _chat_body)


async def _answer(request: Request, read, body) -> Response:
    """A completions or chat request read by `read`, its texts drawn (or streamed) and
    answered in the shape `body` gives them."""
    service: Service = request.app.state.service
    asked = read(fields.json_object(await request.body()), service.lm, service.config,
                 service.info["name"])
    if asked.stream:
        return await _streamed(service, asked, request, chat=read is chat_request)
    texts = await _all_texts(service, asked, request)
    if texts is None:
        return Response(status_code=499)
    return JSON(await body(service, asked, texts))


async def _completion_body(service: Service, asked: Completion, texts: list[list[str]]
                           ) -> dict:
    choices = []
    for k, (prompt, generation) in enumerate(zip(asked.prompts, asked.generations,
                                                 strict=True)):
        for i, text in enumerate(texts[k]):
            shown, reason = _ended(text, generation)
            logprobs = None
            if asked.logprobs is not None:  # (echoed: the prompt as the model read it)
                logprobs = await service.run_side(_logprobs, service.side, generation,
                                                  generation.prime if asked.echo else "",
                                                  shown, asked.logprobs)
            choices.append({"text": (prompt if asked.echo else "") + shown,
                            "index": k * asked.n + i, "logprobs": logprobs,
                            "finish_reason": reason})
    return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion",
            "created": int(time.time()), "model": asked.model, "choices": choices,
            "usage": _usage(asked.prompts, asked.n, [c["text"] for c in choices],
                            asked.echo)}


async def _chat_body(service: Service, asked: Completion, texts: list[list[str]]) -> dict:
    generation = asked.generations[0]
    ended = [_ended(text, generation) for text in texts[0]]
    choices = [{"index": i, "message": {"role": "assistant", "content": shown},
                "logprobs": None, "finish_reason": reason}
               for i, (shown, reason) in enumerate(ended)]
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
            "created": int(time.time()), "model": asked.model, "choices": choices,
            "usage": _usage(asked.prompts, asked.n, [shown for shown, _ in ended], False)}


# ---- drawing the texts ----

async def _all_texts(service: Service, asked: Completion, request: Request
                     ) -> list[list[str]] | None:
    """Each prompt's texts (None: the client left), all prompts at once."""
    if asked.best_of is not None and asked.best_of > 1:
        return [[text for text, _ in await service.run_side(
            service.side.beam, g.length, width=asked.best_of, prime=g.prime,
            n_best=g.num_samples, stop=g.stop, label=g.label,
            constraints=g.constraints or None)] for g in asked.generations]
    found = await asyncio.gather(*(_texts(service, g, request) for g in asked.generations))
    return None if any(t is None for t in found) else list(found)


async def _texts(service: Service, generation: Generate, request: Request
                 ) -> list[str] | None:
    if generation.particles > 1:
        return await _by_particles(service, generation)
    waker = Waker(stream=False)
    gen = await service.submit(generation, waker, {"prime": "prompt"})
    if not await until_done(gen, waker, request):
        return None
    raise_failure(gen)
    return service.lm.codec.texts(gen.rows)


async def _by_particles(service: Service, generation: Generate) -> list[str]:
    return await service.run_side(
        service.side.samples, generation.num_samples, generation.length,
        prime=generation.prime, seed=generation.seed, label=generation.label,
        constraints=generation.constraints, particles=generation.particles,
        **dataclasses.asdict(generation.options))


def _ended(text: str, generation: Generate) -> tuple[str, str]:
    """The text as OpenAI gives it (its stop string cut off) and why it ended."""
    for stop in generation.stop:
        if stop and text.endswith(stop):
            return text[: len(text) - len(stop)], "stop"
    return text, "stop" if len(text) < generation.length else "length"


def _usage(prompts: list[str], n: int, texts: list[str], echo: bool) -> dict[str, int]:
    """Characters: of the prompts, of the texts written (less the echoed prompts)."""
    prompt = sum(len(p) for p in prompts)
    made = sum(len(t) for t in texts) - (n * prompt if echo else 0)
    return {"prompt_tokens": prompt, "completion_tokens": made,
            "total_tokens": prompt + made}


def _logprobs(lm, generation: Generate, echoed: str, text: str, top: int) -> dict:
    """OpenAI's logprobs for `text` after the prompt as read (or for both, the prompt
    `echoed`): each character, its log-probability under the model (None for an echoed
    prompt's first), the `top` likeliest characters there, and where each starts. One
    batched pass over the characters (`Decoder.read`)."""
    written = echoed + text
    before = "" if echoed else generation.prime
    start = lm.decoder.start(lm.codec.prime(before, label=generation.label))
    reading = lm.decoder.read(start, lm.codec.encode(written)[None, :])
    scores = reading.logprobs()[0].tolist()
    best = reading.distributions()[0].double().topk(min(max(top, 1), len(lm.vocab)), dim=1)
    tops = [{lm.codec.symbol(j): v for v, j in zip(values[:top], which[:top], strict=True)
             if math.isfinite(v)}
            for values, which in zip(best.values.tolist(), best.indices.tolist(), strict=True)]
    scores = [s if math.isfinite(s) else None for s in scores]
    if echoed:  # the text's first character is read from no context at all
        scores[0], tops[0] = None, None
    return {"tokens": list(written), "token_logprobs": scores, "top_logprobs": tops,
            "text_offset": list(range(len(written)))}


# ---- streaming ----

async def _streamed(service: Service, asked: Completion, request: Request, chat: bool
                    ) -> Response:
    """Server-sent events in OpenAI's chunk format, ending with `data: [DONE]`: each
    choice's text as it is drawn, less what could still turn out to be its stop string
    (held back until it cannot), then a chunk with its finish_reason. Texts drawn by
    particles are whole before the first chunk. What the request gets wrong is refused
    before the stream starts."""
    ident = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}"
    kind = "chat.completion.chunk" if chat else "text_completion"

    def chunk(index: int, text: str | None, reason: str | None, first: bool = False) -> str:
        if chat:
            delta = ({"role": "assistant", "content": ""} if first else
                     {} if text is None else {"content": text})
            choice = {"index": index, "delta": delta, "logprobs": None,
                      "finish_reason": reason}
        else:
            choice = {"text": text or "", "index": index, "logprobs": None,
                      "finish_reason": reason}
        body = {"id": ident, "object": kind, "created": int(time.time()),
                "model": asked.model, "choices": [choice]}
        return f"data: {json.dumps(body, ensure_ascii=True)}\n\n"

    if any(g.particles > 1 for g in asked.generations):
        whole = await _all_texts(service, asked, request)
        rows = None
    else:
        wakers = [Waker(stream=True) for _ in asked.generations]
        rows = [await service.submit(g, waker, {"prime": "prompt"})
                for g, waker in zip(asked.generations, wakers, strict=True)]

    async def events() -> AsyncIterator[str]:
        if chat:
            for i in range(asked.n):
                yield chunk(i, None, None, first=True)
        if rows is None:
            for k, generation in enumerate(asked.generations):
                for i, text in enumerate(whole[k]):
                    shown, reason = _ended(text, generation)
                    if shown:
                        yield chunk(k * asked.n + i, shown, None)
                    yield chunk(k * asked.n + i, None, reason)
            yield "data: [DONE]\n\n"
            return
        try:
            async for piece in _pieces(service, asked, rows, wakers, chunk):
                yield piece
        finally:
            for gen in rows:
                gen.cancel()

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})


async def _pieces(service: Service, asked: Completion, gens: list, wakers: list[Waker],
                  chunk) -> AsyncIterator[str]:
    """The chunks of generations in the batcher, as their characters arrive: woken by
    the first generation still running (its first ids, its end), else every
    STREAM_INTERVAL, as `/v1/sample` streams."""
    hold = max((len(s) for g in asked.generations for s in g.stop), default=1) - 1
    readers = [[service.lm.vocab.streaming_text() for _ in g.rows] for g in gens]
    sent = [[0] * len(g.rows) for g in gens]
    held = [[""] * len(g.rows) for g in gens]
    while True:
        finished = all(g.done.is_set() for g in gens)
        for k, g in enumerate(gens):
            for i, row in enumerate(g.rows):
                size = len(row)  # read once: the worker may append meanwhile
                fresh, sent[k][i] = row[sent[k][i]:size], size
                held[k][i] += "".join(readers[k][i].feed(x) for x in fresh)
                ready = held[k][i][: max(0, len(held[k][i]) - hold)]
                if ready and not g.done.is_set():
                    held[k][i] = held[k][i][len(ready):]
                    yield chunk(k * asked.n + i, ready, None)
        if finished:
            break
        running = next((w for g, w in zip(gens, wakers, strict=True)
                        if not g.done.is_set()), None)
        if running is not None:
            await running.wait(STREAM_INTERVAL if any(map(any, sent)) else 1.0)
    for k, (g, generation) in enumerate(zip(gens, asked.generations, strict=True)):
        if g.error is not None:
            yield f"data: {json.dumps(_stream_error(g.error))}\n\n"
            return
        for i in range(len(g.rows)):
            rest = held[k][i] + readers[k][i].flush()
            whole = service.lm.codec.texts([g.rows[i]])[0]
            _, reason = _ended(whole, generation)
            cut = next((len(s) for s in generation.stop if s and whole.endswith(s)), 0)
            rest = rest[: len(rest) - cut]
            if rest:
                yield chunk(k * asked.n + i, rest, None)
            yield chunk(k * asked.n + i, None, reason)
    yield "data: [DONE]\n\n"


def _stream_error(message: str) -> dict:
    return {"error": {"message": message, "type": "server_error", "param": None,
                      "code": None}}
