"""Continuous batching: many independent generations advanced by one batched step per
character, each with its own prime, settings and seed (what `charrnn serve` runs on).

A worker thread owns the decoder. Each turn it

1. reads primes: waiting requests are admitted in arrival order while the batch has rows
   free, their primes already encoded (once, when they were submitted). A short prime
   (fewer ids than `Decoder.feed` reads with its fused kernels: a document's end symbol
   and up to 6 characters) joins the batch at once from the zero state, its rows reading
   the prime's ids in the batched steps instead of drawing: a one-row pass of its own
   ran on other threads than the batch's and slowed every batched step (bench/serve.py
   measures it). Longer primes are read by the decoder in pieces of `PRIME_PIECE` ids
   cut from each prime's start (so where a prime is cut never depends on other
   requests), pieces until `prime_budget` ids were read this turn; a long prime takes
   several turns, its state carried, so reading a newcomer's prime delays the running
   generations by one bounded pass, never by a whole queue;
2. draws the next character of every running request with `sampling.draw_batch`, the
   one sampler `lm.sample` uses too, each request with its own settings and random
   generator (rows still reading a short prime take its next id instead);
3. drops the rows that finished (length, stop string, cancelled) and advances all the
   others in one `Decoder.advance`.

So a seeded request gives the text `lm.samples(...)` gives, by construction. One caveat,
measured rather than assumed away: a row's log-probabilities come from the step's
product route for the batch size it shares (numpy's gemv for one row, oneDNN's packed
weights for more), and a prime longer than a piece is read in pieces, so they can differ
from a lone run's in the last bits (about 1e-6); a draw that lands within that
difference of a boundary, rarely, goes the other way. Callers hold a `Generation`: ids
arrive in its rows as they are drawn; `on_update` (called from the worker thread) says
when the first ones have arrived and when the request ended. In between, the rows grow
without a call: a caller that streams reads them when it likes.

Failures stay where they belong. What one request does alone (reading its prime, its
draw, its stop strings, its caller's `on_update`) fails that request alone, with
`Generation.internal` set; the other rows drop it and go on, seeded texts unchanged. A
failure of the shared step fails what was in flight. Either is logged with its traceback
(the `charrnn.decoding.batcher` logger). The worker itself never stops on an error, and
if its thread ends all the same, it fails what it held and `submit` starts a new one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from charrnn.config import Constraints, SampleConfig
from charrnn.decoding.constraints import Guide, guide_for
from charrnn.decoding.decoder import FUSED_FROM, repeat
from charrnn.decoding.sampling import Draws, Layout, bias_vector, check_options, draw_batch
from charrnn.errors import CharRNNError

PRIME_PIECE = 256  # ids of a prime read in one pass
SHUTTING_DOWN = "the server is shutting down"

log = logging.getLogger(__name__)


class Busy(CharRNNError):
    """The queue of waiting requests is full: ask again later."""


@dataclass
class Request:
    """One generation: `num_samples` independent continuations of `prime`."""

    prime: str = ""
    length: int = 200
    options: SampleConfig = field(default_factory=SampleConfig)
    seed: int | None = None
    num_samples: int = 1
    stop: Sequence[str] = ()
    label: str | None = None  # a model of labelled files: write in this label's style
    constraints: Constraints = field(default_factory=Constraints)  # what each text holds
    particles: int = 1  # > 1: each text drawn by that many weighted rows (not here: the
    #                     server runs such a request by `lm.samples`; the batcher refuses it)
    bias: Mapping[int, float] = field(default_factory=dict)  # character id -> added to its
    #                     log-probability at every step (OpenAI's logit_bias)


class Generation:
    """A request's progress: `rows[i]` holds the ids drawn so far for sample i; `done` is
    set when every sample has ended (or the request was cancelled or failed). A failed
    request has `error`; `internal` says whether the fault was the server's (a bug,
    logged) rather than the moment's (shutting down)."""

    def __init__(self, request: Request, on_update: Callable[[Generation], None] | None,
                 prime: torch.Tensor, stops: list[np.ndarray]):
        self.request = request
        self.prime, self.stops = prime, stops  # encoded once, when it was submitted
        self.rows: list[list[int]] = [[] for _ in range(request.num_samples)]
        self.done = threading.Event()
        self.error: str | None = None
        self.internal = False
        self.cancelled = False
        self.guide: Guide | None = None  # the rows kept to the request's constraints
        self.bias: np.ndarray | None = None  # the request's logit bias as a row, if any
        self._on_update = on_update

    def cancel(self) -> None:
        """Stop at the worker's next turn (a client that went away)."""
        self.cancelled = True

    def updated(self) -> None:
        """Tell the caller (from the worker's thread). A callback that raises is the
        caller's bug: it is logged and its request ends failed, never the worker."""
        if self._on_update is None:
            return
        try:
            self._on_update(self)
        except Exception:
            log.exception("a request's on_update callback raised; the request is failed")
            self._on_update = None
            self.cancelled = True
            if not self.done.is_set():
                self.finish(_internal("its on_update callback raised"), internal=True)

    def finish(self, error: str | None = None, internal: bool = False) -> None:
        """End the request (once: a later call changes nothing) and tell its caller."""
        if self.done.is_set():
            return
        self.error, self.internal = error, internal and error is not None
        self.done.set()
        self.updated()


def _internal(what: str) -> str:
    return f"internal error: {what} (the server's log has the details)"


class _Running:
    """An admitted request: its `Draws` (the sampler's state for its rows), its rows'
    id lists in the order of `draws.active`, and whether its caller heard of them."""

    def __init__(self, gen: Generation, draws: Draws):
        self.gen, self.draws = gen, draws
        self.told = False
        self.rows = list(gen.rows)

    def record(self, ids: np.ndarray) -> np.ndarray | None:
        """Keep the drawn ids (a prime's are read, not kept); which rows run on (None:
        all of them)."""
        reading = bool(self.draws.forcing)
        keep = self.draws.record(ids)
        if not reading:
            if ids.size == 1:
                self.rows[0].append(int(ids[0]))
            else:
                for row, i in zip(self.rows, ids.tolist(), strict=True):
                    row.append(i)
        if self.gen.cancelled:
            return np.zeros(ids.size, dtype=bool)
        return keep

    def shrink(self, keep: np.ndarray) -> None:
        self.draws.shrink(keep)
        self.rows = [row for row, kept in zip(self.rows, keep.tolist(), strict=True) if kept]


class _Priming:
    """A request whose prime is still being read, a budget's worth per turn: the ids
    still to read, and the decoder's position after those read so far."""

    def __init__(self, gen: Generation):
        self.gen, self.rest, self.start = gen, gen.prime, None


class Batcher:
    """The worker thread and its queue; see the module doc. `lm` is a `LanguageModel`."""

    def __init__(self, lm, max_batch: int = 32, max_waiting: int = 64,
                 prime_budget: int = 256):
        if min(max_batch, max_waiting, prime_budget) < 1:
            raise CharRNNError("max_batch, max_waiting and prime_budget must be >= 1")
        self.lm, self.decoder = lm, lm.decoder
        self.max_batch, self.max_waiting = max_batch, max_waiting
        self.prime_budget = prime_budget
        self._waiting: deque[Generation] = deque()
        self._lock = threading.Lock()  # guards _waiting and _worker_alive
        self._wake = threading.Event()
        self._stopping = False
        self._priming: list[_Priming] = []
        self._running: list[_Running] = []
        self._state: tuple[np.ndarray, ...] = ()
        self._layout: Layout | None = None  # made again when the batch changes
        self._owners: dict[int, _Running] = {}  # the layout's requests by their draws
        self._joined = False  # a request joined since the last step
        self._logprobs = np.zeros((0, self.decoder.vocab_size), dtype=np.float32)
        self.steps = 0  # batched steps taken, for figures
        self.restarts = 0  # workers started again after one stopped
        self._worker_alive = True
        self._thread = self._start_worker()

    def _start_worker(self) -> threading.Thread:
        thread = threading.Thread(target=self._work, name="charrnn-batcher", daemon=True)
        thread.start()
        return thread

    # --- the callers' side ------------------------------------------------------------

    def submit(self, request: Request,
               on_update: Callable[[Generation], None] | None = None) -> Generation:
        """Queue a request (its options and prime are checked here, so errors reach the
        caller at once); raises `Busy` when the queue is full."""
        check_options(request.length, request.options, request.num_samples)
        if request.particles != 1:
            raise CharRNNError("particles: the batcher draws one row a sample; draw by "
                               "particles with lm.samples", field="particles")
        if request.num_samples > self.max_batch:
            raise CharRNNError(f"num_samples must be <= {self.max_batch}, "
                               f"not {request.num_samples}")
        bias = bias_vector(request.bias, self.decoder.vocab_size)  # checked here, kept
        codec = self.lm.codec  # unknown characters raise here, naming the field
        gen = Generation(request, on_update, codec.prime(request.prime, label=request.label),
                         codec.stops(request.stop))
        words_only = request.constraints.words_only  # (the trie is built once, then kept)
        gen.bias = bias
        gen.guide = guide_for(request.constraints, codec.vocab, request.num_samples,
                              request.length, request.prime,  # checked here too
                              self.lm.known_words() if words_only else None)
        with self._lock:
            if self._stopping:
                raise Busy(SHUTTING_DOWN)
            if len(self._waiting) >= self.max_waiting:
                raise Busy("too many requests are waiting; try again shortly")
            if not self._worker_alive:  # it failed what it held as it stopped
                log.error("the batcher's worker had stopped; starting a new one")
                self._worker_alive, self.restarts = True, self.restarts + 1
                self._thread = self._start_worker()
            self._waiting.append(gen)
        self._wake.set()
        return gen

    def warm_up(self) -> None:
        """Measure the step's routes for every batch size class now, not while the first
        clients wait (`matmul_routes.py` times them on first use)."""
        rows = 1
        while True:
            size = min(rows, self.max_batch)
            state = tuple(np.zeros_like(s.numpy()) for s in self.lm.model.initial_state(size))
            self.decoder.advance(np.zeros(size, dtype=np.int64), state)
            if size == self.max_batch:
                return
            rows *= 2

    @property
    def load(self) -> dict[str, int]:
        """Rows generating, requests reading their prime, requests waiting."""
        running = [r for r in self._running if not r.gen.done.is_set()]  # none just ended
        return {"rows": sum(r.draws.active.size for r in running),
                "priming": len(self._priming), "waiting": len(self._waiting)}

    def close(self, timeout: float = 5.0) -> None:
        """Cancel everything in flight and stop the worker."""
        with self._lock:
            self._stopping = True
        self._wake.set()
        self._thread.join(timeout)

    # --- the worker ---------------------------------------------------------------------

    def _work(self) -> None:
        """Turns until closed. An error of the shared step fails what was generating
        and the worker goes on; should the thread end all the same, it fails what it
        held first, so no caller waits for ever (and `submit` starts a new one)."""
        stopped = _internal("the batcher's worker stopped")
        try:
            while not self._stopping:
                if not (self._running or self._priming or self._waiting):
                    self._wake.wait(0.5)
                    self._wake.clear()
                    continue
                try:
                    self._turn()
                except Exception:
                    log.exception("the batched step failed; failing the requests it ran")
                    self._fail_running(_internal("the batched step failed"))
        except BaseException:
            log.critical("the batcher's worker stopped", exc_info=True)
            raise
        finally:
            if self._stopping:
                self._fail_everything(SHUTTING_DOWN, internal=False)
            else:
                self._fail_everything(stopped, internal=True)

    def _turn(self) -> None:
        self._admit()
        self._read_primes()
        if self._running:
            self._step()

    def _rows_taken(self) -> int:
        return (sum(r.draws.active.size for r in self._running)
                + sum(p.gen.request.num_samples for p in self._priming))

    def _admit(self) -> None:
        """Waiting requests join the prime readers while rows are free (in order)."""
        while self._waiting:
            gen = self._waiting[0]
            if self._rows_taken() + gen.request.num_samples > self.max_batch:
                return
            with self._lock:
                self._waiting.popleft()
            try:
                self._start(gen)
            except Exception:
                _fail_one(gen, "its prime could not be read")

    def _start(self, gen: Generation) -> None:
        """A request's prime: a short one is read in the batched steps, a longer one
        waits its turn among the prime readers."""
        prime = gen.prime
        forcing = self.decoder.text_format.opening(prime).tolist()
        # Short: fewer ids than the decoder reads with its fused kernels. None at all
        # (a text's first character is drawn from the character counts) is not.
        short = 0 < len(forcing) < FUSED_FROM
        if gen.cancelled or (short and gen.request.length == 0):
            gen.finish()
        elif short:  # read in the batched step, no pass of its own
            start = self.lm.model.initial_state(1), torch.zeros(1, self.decoder.vocab_size)
            self._join(gen, start, prime, forcing)
        else:
            self._priming.append(_Priming(gen))

    def _read_primes(self) -> None:
        """Spend this turn's prime budget, first come first served, a piece at a time.
        The reader is taken off the list while its piece is read and put back only if
        more remains, so a failure (in reading or in joining) ends that request alone
        and never takes another off the list."""
        spent = 0
        while self._priming and spent < self.prime_budget:
            item = self._priming.pop(0)
            chunk, item.rest = item.rest[:PRIME_PIECE], item.rest[PRIME_PIECE:]
            spent += max(chunk.numel(), 1)
            try:
                if self._read_piece(item, chunk):
                    self._priming.insert(0, item)
            except Exception:
                _fail_one(item.gen, "its prime could not be read")

    def _read_piece(self, item: _Priming, chunk: torch.Tensor) -> bool:
        """Read one piece of a prime; whether more remains (else the request joins)."""
        if item.start is None:
            item.start = self.decoder.start(chunk)
        else:
            item.start = self.decoder.read(item.start, chunk[None, :]).end
        if item.rest.numel():
            return True
        if item.gen.cancelled or item.gen.request.length == 0:
            item.gen.finish()
        else:
            self._join(item.gen, item.start, item.gen.prime)
        return False

    def _join(self, gen: Generation, start, context: torch.Tensor,
              forcing: Sequence[int] = ()) -> None:
        """Add a request's rows to the batch. Everything is made before anything is
        changed, so a request that fails here leaves the batch as it was."""
        request = gen.request
        state, first = repeat(start, request.num_samples)
        arrays = tuple(np.ascontiguousarray(s.numpy()) for s in state)
        draws = Draws(request.options, request.seed, request.num_samples,
                      self.decoder.vocab_size, context.numpy(), gen.stops, request.length,
                      forcing, gen.guide, gen.bias)
        run = _Running(gen, draws)
        if self._state:
            joined = tuple(np.concatenate([a, b], axis=1)
                           for a, b in zip(self._state, arrays, strict=True))
        else:
            joined = arrays
        logprobs = np.concatenate([self._logprobs, first.numpy()], axis=0)
        self._running.append(run)
        self._state, self._logprobs, self._layout = joined, logprobs, None
        self._joined = self._joined or not forcing  # (forcing: once its prime is read)

    def _step(self) -> None:
        """Every running row draws its next id; the survivors advance together."""
        ids = self._draw()
        keep, primed = self._record(ids)
        self.steps += 1
        if keep is not None or self._joined:
            # A request just drew its first character or ended: hand the GIL over so its
            # waiter (the server's event loop) sends that now, not when this thread next
            # blocks, which took milliseconds while the next steps ran.
            time.sleep(0)
        self._joined = primed
        if keep is not None:
            self._layout = None
            ids = ids[keep]
            self._state = tuple(a[:, keep] for a in self._state)
        if ids.size == 0:
            self._state = ()
            self._logprobs = self._logprobs[:0]
            return
        self._logprobs, self._state = self.decoder.advance(ids, self._state)

    def _record(self, drawn: np.ndarray) -> tuple[np.ndarray | None, bool]:
        """Each request keeps its drawn ids; which rows advance (None: all of them, made
        only when some do not) and whether a short prime was just read (its first draw
        is then the next step's)."""
        keep = None
        still = []
        offset = 0
        primed = False
        for run in self._running:
            rows = run.draws.active.size
            reading = bool(run.draws.forcing)
            kept = self._kept(run, drawn[offset : offset + rows])
            if kept is not None:
                if keep is None:
                    keep = np.ones(len(drawn), dtype=bool)
                keep[offset : offset + rows] = kept
            offset += rows
            if kept is None:
                still.append(run)
            elif kept.any():
                run.shrink(kept)
                still.append(run)
            else:
                if not run.gen.done.is_set():
                    run.gen.finish()
                continue
            if reading:  # nothing to tell its caller yet
                if not run.draws.forcing:
                    self._layout, primed = None, True
            elif not run.told:
                run.told = True
                run.gen.updated()
        self._running = still
        return keep, primed

    @staticmethod
    def _kept(run: _Running, ids: np.ndarray) -> np.ndarray | None:
        """`run.record(ids)`, or no row kept when the request failed (in its draw, or
        in recording)."""
        if not run.gen.done.is_set():
            try:
                return run.record(ids)
            except Exception:
                _fail_one(run.gen, "its draw could not be recorded")
        return np.zeros(len(ids), dtype=bool)

    def _draw(self) -> np.ndarray:
        """The next id of every row, by the one sampler (`sampling.draw_batch`); a
        request whose own draw raises fails alone."""
        logprobs = self._logprobs
        if len(self._running) == 1:  # one request: its own draw, cheapest for one row
            return _own_draw(self._running[0], logprobs)
        if self._layout is None:
            self._layout = Layout([run.draws for run in self._running])
            self._owners = {id(run.draws): run for run in self._running}
        owners = self._owners
        return draw_batch(logprobs, self._layout,
                          lambda draws, rows: _own_draw(owners[id(draws)], rows))

    def _fail_running(self, message: str) -> None:
        """The shared step failed: end what was generating (the prime readers and the
        waiting requests had no part in it and go on)."""
        running, self._running = self._running, []
        self._state, self._layout = (), None
        self._logprobs = self._logprobs[:0]
        for run in running:
            if run.gen.cancelled:
                run.gen.finish()
            else:
                run.gen.finish(message, internal=True)

    def _fail_everything(self, message: str, internal: bool) -> None:
        """The worker stops: end every request it holds. The waiting ones are taken
        under the lock that also marks the worker gone, so a request submitted after
        that finds it gone and starts another, and none is left behind."""
        for run in self._running:
            run.gen.finish(None if run.gen.cancelled else message, internal)
        for item in self._priming:
            item.gen.finish(message, internal)
        self._running, self._priming, self._state = [], [], ()
        self._layout = None
        self._logprobs = self._logprobs[:0]
        with self._lock:
            waiting, self._waiting = list(self._waiting), deque()
            self._worker_alive = False
        for gen in waiting:
            gen.finish(message, internal)


def _own_draw(run: _Running, logprobs: np.ndarray) -> np.ndarray:
    """`run.draw`, failing that request alone if it raises (its rows then read id 0
    this step and leave the batch)."""
    if not run.gen.done.is_set():
        try:
            return run.draws.draw(logprobs)
        except Exception:
            _fail_one(run.gen, "its draw failed")
    return np.zeros(logprobs.shape[0], dtype=np.int64)


def _fail_one(gen: Generation, what: str) -> None:
    """A request's own failure: logged with its traceback, that request ended."""
    log.exception("a request failed alone: %s", what)
    gen.finish(_internal(what), internal=True)
