"""The matrix products of a decoding step, each done by the route that is fastest here.

A decoding step at a small batch does little but read its weight matrices, so how a
product is computed sets the speed, and the best way differs by batch size and machine.
On the 2-core machine of `bench/decode.py` one row (batch-1 sampling) runs fastest as
numpy's matrix-vector product (OpenBLAS) and 8 or 64 rows through oneDNN's packed weights
(figures in `docs/results.md`); MKL, Accelerate or another torch build may order them
differently, so nothing is assumed. The first time a step sees a batch size (in
power-of-two classes, so shrinking beams do not measure again) `choose_routes` times every
route of every product on that size and drops any whose result disagrees with torch's
`addmm`. Then it times the step's products called in turn, as a step calls them, with
each product's fastest route within one thread pool: numpy's OpenBLAS threads, or
torch's OpenMP threads. A step never mixes the two: pools that busy-wait in turn on a
few cores stall each other (a beam step mixing them ran from 1.3x to 20x slower here).
The faster pool is kept. `addmm` is always a route, so the slowest path that is always
correct remains. `bench/decode.py` prints the routes chosen.

A choice is watched while it is used: one call in `WATCH_EVERY` of a kept route is timed,
and where the median of `WATCH_SAMPLES` such calls is more than `SLOWER` times what the
route was expected to take (a choice made in a noisy moment, or a route that runs slower
inside a step than alone), the step is told (`Product.on_slower`) and chooses again
(`decoding/inference_step.py` decides when: at most once in a while, and every batch
size now and then anyway). A route kept again sets its expectation to what it was seen
to take, so a route that is simply slower inside a step is not re-timed for ever.

Reduced weights (`weights="fp16"` or `"int8"`) have one route: PyTorch's fbgemm dynamic
kernels, which read a half or a quarter of the bytes. Their int8 weights are made by
`int8_rows`, as an exported model's are. The int8 kernels quantise their input over the
whole batch; every input they see is a hidden state, inside [-1, 1], so one extra row
holding -1 and 1 pins that range for every call: a row's result never depends on the
other rows, and a beam's score is the log-probability `logprob` gives.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch

from charrnn.errors import ConfigError
from charrnn.threads import OPENBLAS_TIMEOUT

# (x (rows, in), out (rows, out)) -> the product: `out`, or an array the route made
Route = Callable[[np.ndarray, np.ndarray], np.ndarray]
_TRIALS = 5  # timed calls per route or plan when choosing; the fastest call counts
# OpenBLAS's threads spin after their last call (about 0.1 s, unless `charrnn.threads`
# shortened it), slowing torch's threads meanwhile; torch's routes are only timed once
# they have gone quiet
_OPENBLAS_SPIN = 0.15
_OPENBLAS_SHORT_SPIN = 0.005  # with OPENBLAS_THREAD_TIMEOUT shortened (charrnn.threads)
_PLAN_ROUNDS = 3  # rounds in which each pool's step is timed, in turn
WATCH_EVERY = 64  # a kept route's calls: one in this many is timed
WATCH_SAMPLES = 9  # timed calls weighed together (their median)
SLOWER = 2.0  # a median this many times a route's expected time: the step chooses again
_numpy_used_at = -math.inf
POOLS = {"numpy gemv": "numpy", "numpy gemm": "numpy", "torch addmm": "torch",
         "oneDNN packed": "torch", "fbgemm fp16": "torch", "fbgemm int8": "torch"}


def packed_ops_work() -> bool:
    """Whether this torch build has oneDNN's pre-packed linear ops (x86 CPU builds do)."""
    try:
        w = torch.ops.mkldnn._reorder_linear_weight(torch.ones(2, 2), 1)
        out = torch.ops.mkldnn._linear_pointwise(torch.ones(1, 2), w, None, "none", [], "")
        return bool(torch.equal(out, torch.full((1, 2), 2.0)))
    except (AttributeError, RuntimeError):
        return False


PACKED_OPS = packed_ops_work()


def batch_class(rows: int) -> int:
    """The power of two at or above `rows`: batch sizes that share one choice of route."""
    return 1 << max(0, rows - 1).bit_length()


class Product:
    """x @ weight.T + bias on float32 numpy rows, by the fastest correct route."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, weights: str = "fp32"):
        self.weight = weight.detach().float().contiguous()
        self.bias = None if bias is None else bias.detach().float().contiguous()
        self.reduced = None if weights == "fp32" else _pack_reduced(self.weight, self.bias,
                                                                     weights)
        self._w, self._b = self.weight.numpy(), None if bias is None else self.bias.numpy()
        self._w_t: np.ndarray | None = None
        self._packs: dict[int, torch.Tensor] = {}
        self.chosen: dict[int, str] = {}  # batch class -> route name
        self.timings: dict[int, dict[str, float]] = {}  # batch class -> route -> seconds
        self.kept: dict[int, Route] = {}  # batch class -> the chosen route
        self.expected: dict[int, float] = {}  # batch class -> seconds a kept call should take
        self.on_slower: Callable[[int], None] | None = None  # told a batch class is slow
        self._seen: dict[int, list[float]] = {}  # batch class -> timed calls since last told
        self._slow: dict[int, float] = {}  # batch class -> the median that was too slow
        self._calls = 0

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.weight.shape)

    def __call__(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """x @ weight.T + bias for C-contiguous float32 rows, written into `out` or into
        an array of the route's own (use what is returned)."""
        route = self.kept.get(batch_class(x.shape[0]))
        if route is None:  # used on its own: the fastest route, whatever its thread pool
            timings = self.measure(x.shape[0])
            route = self.use(x.shape[0], min(timings, key=timings.__getitem__))
        self._calls += 1
        if self._calls % WATCH_EVERY:
            return route(x, out)
        start = time.perf_counter()
        found = route(x, out)
        self._watch(batch_class(x.shape[0]), time.perf_counter() - start)
        return found

    def _watch(self, key: int, seconds: float) -> None:
        """Keep a timed call; every WATCH_SAMPLES of them, tell `on_slower` if their
        median is more than SLOWER times the expected time."""
        seen = self._seen.setdefault(key, [])
        seen.append(seconds)
        if len(seen) < WATCH_SAMPLES:
            return
        typical = sorted(seen)[len(seen) // 2]
        seen.clear()
        if typical > SLOWER * self.expected[key] and self.on_slower is not None:
            self._slow[key] = typical
            self.on_slower(key)

    def routes(self, rows: int) -> dict[str, Route]:
        """Every route that can run a product of `rows` rows here, by name."""
        if self.reduced is not None:
            return {self.reduced[2]: self._reduced}
        found: dict[str, Route] = {"torch addmm": self._addmm, "numpy gemm": self._gemm}
        if rows == 1:
            found["numpy gemv"] = self._gemv
        if PACKED_OPS:
            found["oneDNN packed"] = self._packed
        return found

    def measure(self, rows: int, pool: str | None = None) -> dict[str, float]:
        """Seconds per call of every route (in `pool`, if given) on `rows` rows whose
        result is correct; the trials go round the routes, so a passing disturbance
        slows them all alike."""
        candidates = {name: route for name, route in self.routes(rows).items()
                      if pool is None or POOLS[name] == pool}
        x = np.random.default_rng(rows).uniform(-1, 1, (rows, self.shape[1]))
        x = x.astype(np.float32)
        out = np.empty((rows, self.shape[0]), np.float32)
        reference = self._reference(x)
        for name, route in list(candidates.items()):
            found = route(x, out)  # also the warm-up: packs weights, wakes thread pools
            if not np.allclose(found, reference, rtol=1e-4, atol=1e-4):
                del candidates[name]
        timings = dict.fromkeys(candidates, float("inf"))
        for _ in range(_TRIALS):
            for name, route in candidates.items():
                timings[name] = min(timings[name], _seconds(lambda r=route: r(x, out)))
        self.timings.setdefault(batch_class(rows), {}).update(timings)
        return timings

    def _reference(self, x: np.ndarray) -> np.ndarray:
        """torch's own result for checking the routes (fbgemm's for reduced weights)."""
        if self.reduced is not None:
            return self._reduced(x, None)
        return torch.nn.functional.linear(torch.from_numpy(x), self.weight, self.bias).numpy()

    def use(self, rows: int, name: str) -> Route:
        """Run products of this batch class by the route `name` from now on."""
        key = batch_class(rows)
        slow = self._slow.pop(key, 0.0)  # what it took where it was found slow
        kept_again = self.chosen.get(key) == name
        self.chosen[key] = name
        self.kept[key] = self.routes(rows)[name]
        self.expected[key] = max(self.timings[key][name], slow if kept_again else 0.0)
        self._seen.pop(key, None)
        return self.kept[key]

    def _addmm(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        x_t, out_t = torch.from_numpy(x), torch.from_numpy(out)
        if self.bias is None:
            torch.mm(x_t, torch.from_numpy(self._transposed()), out=out_t)
        else:
            torch.addmm(self.bias, x_t, torch.from_numpy(self._transposed()), out=out_t)
        return out

    def _gemm(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        global _numpy_used_at
        _numpy_used_at = time.perf_counter()
        np.dot(x, self._transposed(), out=out)
        return out if self._b is None else np.add(out, self._b, out=out)

    def _gemv(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        global _numpy_used_at
        _numpy_used_at = time.perf_counter()
        np.dot(self._w, x[0], out=out[0])
        return out if self._b is None else np.add(out, self._b, out=out)

    def _packed(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        key = batch_class(x.shape[0])  # one pack serves a class: its size is a layout hint
        pack = self._packs.get(key)
        if pack is None:
            if len(self._packs) >= 4:
                self._packs.clear()
            pack = self._packs[key] = torch.ops.mkldnn._reorder_linear_weight(self.weight, key)
        return torch.ops.mkldnn._linear_pointwise(torch.from_numpy(x), pack, self.bias,
                                                  "none", [], "").numpy()

    def _reduced(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        packed, op, _ = self.reduced
        return op(torch.from_numpy(x), packed).numpy()

    def _transposed(self) -> np.ndarray:
        if self._w_t is None:
            self._w_t = np.ascontiguousarray(self._w.T)
        return self._w_t


def choose_routes(products: list[Product], rows: int) -> dict[str, float]:
    """Give every product of a step its route for `rows` rows, all in the thread pool
    whose fastest routes, called in turn, take the least time (see the module doc).
    Returns each pool's seconds per step. The pools' steps are timed in rounds (the
    fastest of each kept), in turn where numpy's threads go quiet at once (the commands
    shorten their spin), so a disturbance that passes while one is timed slows the
    other's rounds too and does not decide the choice alone; numpy's threads are let go
    quiet before torch's rounds."""
    inputs = [np.random.default_rng(rows).uniform(-1, 1, (rows, p.shape[1])).astype(np.float32)
              for p in products]
    outs = [np.empty((rows, p.shape[0]), np.float32) for p in products]
    steps, plans = {}, {}
    for pool in ("torch", "numpy"):
        _numpy_quiet(pool)
        timings = [product.measure(rows, pool) for product in products]
        if not all(timings):
            continue
        names = plans[pool] = [min(found, key=found.__getitem__) for found in timings]
        routes = [p.routes(rows)[name] for p, name in zip(products, names, strict=True)]

        def step(routes=routes) -> None:
            for route, x, out in zip(routes, inputs, outs, strict=True):
                route(x, out)

        steps[pool] = step
    seconds = dict.fromkeys((f"{pool} only" for pool in steps), math.inf)
    order = list(steps) * _PLAN_ROUNDS  # in turn where numpy's threads go quiet at once;
    if not _spin_shortened():  # else each pool's rounds together (one long wait, not three)
        order = sorted(order, key=list(steps).index)
    for pool in order:
        _numpy_quiet(pool)
        steps[pool]()  # wakes the pool
        seconds[f"{pool} only"] = min(seconds[f"{pool} only"],
                                      *(_seconds(steps[pool]) for _ in range(_TRIALS)))
    best = min(seconds, key=seconds.__getitem__)
    for product, name in zip(products, plans[best.removesuffix(" only")], strict=True):
        product.use(rows, name)
    return seconds


def _numpy_quiet(pool: str) -> None:
    """Before timing torch's pool: wait until numpy's OpenBLAS threads stop spinning
    (a millisecond or two where `charrnn.threads` shortened their spin, else about 0.1 s)."""
    if pool != "torch":
        return
    spin = _OPENBLAS_SHORT_SPIN if _spin_shortened() else _OPENBLAS_SPIN
    time.sleep(max(0.0, _numpy_used_at + spin - time.perf_counter()))


def _spin_shortened() -> bool:
    """Whether OpenBLAS's idle threads were told to sleep soon (`charrnn.threads`)."""
    return os.environ.get("OPENBLAS_THREAD_TIMEOUT") == OPENBLAS_TIMEOUT


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _x86_engine() -> str | None:
    engines = torch.backends.quantized.supported_engines
    return next((e for e in ("x86", "fbgemm") if e in engines), None)


@contextlib.contextmanager
def _quantized_engine():
    """fbgemm-family packing (the fast x86 kernels), whatever engine was set globally."""
    engine = _x86_engine()
    if engine is None:
        raise ConfigError("this PyTorch build has no x86 (fbgemm) kernels for fp16/int8 "
                          "weights; use fp32 weights")
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        with warnings.catch_warnings():  # quantised int8 tensors are marked deprecated
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.backends.quantized.engine = previous


def int8_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The one int8 quantiser (`--weights int8`, for decoding and for export): a float32
    matrix (rows, cols) as int8 values and each row's float32 scale, value x scale
    standing for the weight. A row's scale is its largest magnitude / 127 (at least
    1e-12; 1 for a row of zeros), and a value is round-half-even(weight x (1 / scale)),
    the reciprocal taken in float32: what torch's `quantize_per_channel` computes, so
    fbgemm's kernels and an exported bundle hold the same integers."""
    rows = np.ascontiguousarray(matrix, dtype=np.float32)
    largest = np.abs(rows).max(axis=1)
    scales = np.where(largest == 0, np.float32(1),
                      np.maximum(largest / np.float32(127), np.float32(1e-12)))
    inverse = np.float32(1) / scales
    values = np.clip(np.rint(rows * inverse[:, None]), -127, 127).astype(np.int8)
    return values, scales.astype(np.float32)


def _pack_reduced(weight: torch.Tensor, bias: torch.Tensor | None, weights: str):
    """Weights packed for the fp16 or int8 dynamic kernels, the op that applies them, and
    the route's name."""
    ops = torch.ops.quantized
    try:
        with _quantized_engine():
            if weights == "fp16":
                return ops.linear_prepack_fp16(weight, bias), ops.linear_dynamic_fp16, \
                    "fbgemm fp16"
            values, scales = int8_rows(weight.numpy())
            zero = torch.zeros(weight.shape[0], dtype=torch.long)
            q = torch._make_per_channel_quantized_tensor(
                torch.from_numpy(values), torch.from_numpy(scales).double(), zero, 0)
            packed = ops.linear_prepack(q, bias)
            anchor = torch.zeros(1, weight.shape[1])
            anchor[0, :2] = torch.tensor([-1.0, 1.0])

            def int8(x: torch.Tensor, p) -> torch.Tensor:  # 7-bit input (reduce_range):
                # no overflow in fbgemm's 16-bit pair sums
                return ops.linear_dynamic(torch.cat([x, anchor]), p, True)[:-1]

            return packed, int8, "fbgemm int8"
    except (AttributeError, RuntimeError) as err:
        raise ConfigError(f"this PyTorch build cannot run {weights} weights ({err}); "
                          "use fp32 weights") from None
