"""What the routes share: the model, its batcher and side decoder (`Service`), what
`/v1/model` says about them, and waiting for a generation while its client may leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse

from charrnn.api.language_model import LanguageModel
from charrnn.config import ServeConfig
from charrnn.decoding.batcher import Batcher, Busy, Generation
from charrnn.decoding.batcher import Request as Generate
from charrnn.errors import CharRNNError
from charrnn.interface.serve import fields
from charrnn.interface.serve.fields import FieldError
from charrnn.model import runs
from charrnn.threads import release_worker_threads

STREAM_INTERVAL = 0.05  # seconds between a stream's events once the first has gone
COMPILERS = 2  # constrained requests whose rules are compiled at once (the rest wait)


class JSON(JSONResponse):
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
            return await anyio.to_thread.run_sync(lambda: releasing(call, *args, **kwargs),
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


def releasing(call, *args, **kwargs) -> Any:
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
    """`info` with its files named, not located: the checkpoint, run folder, corpus and
    validation file by name; the parent model and the weight patterns, as typed at training (often
    absolute), relative to the served run folder (`_seen_from`)."""
    run = Path(info["run"]).resolve()
    parent, data = info.get("parent"), info.get("data")
    if isinstance(parent, dict) and isinstance(parent.get("name"), str):
        parent = {**parent, "name": _seen_from(run, parent["name"])}
    if isinstance(data, dict) and isinstance(data.get("weights"), (list, tuple)):
        data = {**data, "weights": [_seen_from(run, pattern) + "=" + weight for pattern, _,
                                    weight in (str(w).rpartition("=") for w in data["weights"])]}
    validation = info.get("validation")
    return {**info, "checkpoint": Path(info["checkpoint"]).name, "run": run.name,
            "corpus": {**info["corpus"], "source": _file_name(info["corpus"]["source"])},
            "validation": validation if validation == "split" else _file_name(validation),
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

class Waker:
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


async def until_done(gen: Generation, waker: Waker, request: Request) -> bool:
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


def raise_failure(gen: Generation) -> None:
    """A failed generation's answer: 500 for the server's own fault (logged by the
    batcher), 503 while it shuts down."""
    if gen.error is not None:
        raise FieldError(None, gen.error, 500 if gen.internal else 503)
