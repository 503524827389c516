"""Serving under load: `charrnn serve` with 1, 8 and 32 concurrent clients, beside the same
load served one request at a time and beside the floor of a batch-32 step.

For the 2 x 512 LSTM and the default model (`medium`, 1 x 384), each briefly trained
(speed does not depend on the weights), it starts the real command on 127.0.0.1:

    charrnn serve --checkpoint RUN --port 0 [--max-batch 1]

and a bounded load generator (asyncio, in this process, each client on its own kept-alive
connection; see `Connection`): C clients each send a fixed number of streamed requests
for 200 characters (temperature 1, a 1-character prime) one after another. Reported per
load: throughput (characters per second, all clients together), time to first character
(the first streamed event), and p50 / p95 latency per request. Beside them, in the same run:

- `charrnn sample`'s characters per second for the same model (`lm.sample`, batch 1),
  the goal for one client (within 10%);
- the floor of a batch-32 step: its matrix products alone, measured as
  `bench/decode.py` measures floors, as characters per second (32 per step); the goal
  for 32 clients is half of it;
- what the whole step (products, the LSTM's gates, the log-softmax) reaches at 32 rows
  in a tight loop, without sampling or HTTP: the most a server built on it could reach;
- the same load with `--max-batch 1` (one request at a time, what torch-rnn-server
  does), and the ratio of the batched server to it;
- the time to first character of one client whose prime is 200 characters (goal
  < 50 ms), alone and while 31 others generate;
- the same loads of 1 and 32 clients through the OpenAI API (`/v1/completions`,
  streamed), just after each round's `/v1/sample` load: its share of that throughput
  (goal >= 0.90), median and every round.

This shared 2-core machine drifts by 10-20% over tens of seconds, so a goal's reference
measured once, apart from its load, moved the ratio as much. The loads with a goal (1
and 32 clients) run in 3 rounds, each just after its reference (`charrnn sample`, the
floor) is measured again, with the server idle; the round with the median ratio is
shown, and every round's ratio beside it.

`--soak SECONDS` then keeps 32 clients busy on the 2 x 512 model for that long, and
reports errors and the server's resident memory over time.

    python bench/serve.py
    python bench/serve.py --soak 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from decode import PLAY, SHARED, floor_seconds  # noqa: E402  (the same floors as decode.py)

import charrnn  # noqa: E402
from charrnn.api.language_model import load  # noqa: E402
from charrnn.config import ModelConfig, TrainConfig  # noqa: E402
from charrnn.data.cache import prepare  # noqa: E402
from charrnn.training.loop import train_model  # noqa: E402
from charrnn.training.presets import SIZES  # noqa: E402

LENGTH = 200
LOADS = {1: 20, 8: 8, 32: 4}  # clients -> requests each (a round, for 1 and 32 clients)
ROUNDS = 3  # rounds of the loads with a goal, each just after its reference is measured
PRIME_200 = ("ROMEO:\nBut soft, what light through yonder window breaks? It is the east, and "
             "Juliet is the sun. Arise, fair sun, and kill the envious moon, who is already "
             "sick and pale with grief, that thou her maid art far more fair.")[:200]


class Server:
    """`charrnn serve` in a subprocess; `url` once it serves."""

    def __init__(self, run: Path, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "charrnn", "serve", "--checkpoint", str(run), "--port", "0",
             "--max-waiting", "512", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        said = []
        for line in self.proc.stderr:
            said.append(line)
            if " at http://" in line:
                self.url = line.split(" at ")[1].split()[0]
                return
        raise SystemExit("charrnn serve did not start:\n" + "".join(said))

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


class Connection:
    """One client's kept-alive HTTP/1.1 connection, spoken over raw asyncio streams.

    The load generator shares the server's two cores, so every cycle it spends is taken
    from the server it measures: httpx cost a lone client about 8 ms a request here
    (5,265 chars/s against 6,300 with this connection, for the same server). Requests
    are plain HTTP/1.1 with a Content-Length; the streamed answer is read chunk by
    chunk (RFC 9112's chunked coding), the first event timed, the last one parsed."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 host: str):
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, url: str) -> Connection:
        host, port = url.split("//")[1].rstrip("/").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, f"{host}:{port}")

    def close(self) -> None:
        self.writer.close()

    async def stream(self, body: dict, path: str = "/v1/sample", keep: int = 4096
                     ) -> tuple[float, bytes]:
        """POST `path`: (seconds to the first event, the answer's last `keep` bytes)."""
        payload = json.dumps(body).encode()
        began = time.perf_counter()
        self.writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: " + self.host.encode()
                          + b"\r\nContent-Type: application/json\r\nContent-Length: "
                          + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200") or b"chunked" not in head.lower():
            raise RuntimeError(f"unexpected answer: {head[:200]!r}")
        first, tail = None, b""
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            data = await self.reader.readexactly(size + 2)
            if first is None:
                first = time.perf_counter() - began
            tail = (tail + data[:-2])[-keep:]
        await self.reader.readuntil(b"\r\n")  # the end of the (empty) trailer section
        return first, tail


async def connections(url: str, count: int) -> list[Connection]:
    return [await Connection.open(url) for _ in range(count)]


async def one_request(conn: Connection, prime: str = "S", seed: int | None = None,
                      api: str = "charrnn") -> tuple[float, float, int]:
    """(seconds to the first character, seconds to the end, characters) of one stream,
    through charrnn's `/v1/sample` or (api "openai") `/v1/completions`; either answer
    is read whole and its length checked."""
    began = time.perf_counter()
    if api == "openai":
        first, body = await conn.stream({"prompt": prime, "max_tokens": LENGTH,
                                         "stream": True, "seed": seed},
                                        "/v1/completions", keep=1 << 22)
        events = body.split(b"\n\n")
        if events[-2:] != [b"data: [DONE]", b""]:
            raise RuntimeError("the stream ended without data: [DONE]")
        text = "".join(json.loads(e[6:])["choices"][0]["text"] for e in events[:-2])
    else:
        first, tail = await conn.stream({"prime": prime, "length": LENGTH, "stream": True,
                                         "seed": seed})
        end = tail.rfind(b"event: end\ndata: ")
        if end < 0:
            raise RuntimeError("the stream ended without its end event")
        text = json.loads(tail[end + 17 :].split(b"\n\n")[0])["samples"][0]
    if len(text) != LENGTH:
        raise RuntimeError(f"a sample of {len(text)} characters, not {LENGTH}")
    return first, time.perf_counter() - began, LENGTH


async def load_run(url: str, clients: int, each: int, api: str = "charrnn"
                   ) -> dict[str, float]:
    """`clients` clients, `each` requests one after another; figures of the whole load."""
    conns = await connections(url, clients)
    await asyncio.gather(*(one_request(c, api=api) for c in conns))  # connections warm

    async def worker(c: int) -> list[tuple[float, float, int]]:
        return [await one_request(conns[c], seed=c * 1000 + i, api=api)
                for i in range(each)]

    began = time.perf_counter()
    results = [r for rs in await asyncio.gather(*(worker(c) for c in range(clients)))
               for r in rs]
    wall = time.perf_counter() - began
    for c in conns:
        c.close()
    firsts = sorted(r[0] for r in results)
    latencies = sorted(r[1] for r in results)
    return {"chars_s": sum(r[2] for r in results) / wall,
            "first_ms": 1e3 * statistics.median(firsts),
            "p50_ms": 1e3 * statistics.median(latencies),
            "p95_ms": 1e3 * latencies[int(0.95 * (len(latencies) - 1))]}


async def first_char_ms(url: str, busy: int, repeats: int = 15) -> float:
    """Median time to the first character of a request with a 200-character prime, while
    `busy` other clients keep generating."""
    stop = asyncio.Event()
    probe, *others = await connections(url, busy + 1)

    async def background(conn: Connection) -> None:
        while not stop.is_set():
            await one_request(conn)

    tasks = [asyncio.ensure_future(background(c)) for c in others]
    await asyncio.sleep(0.5 if busy else 0)
    firsts = []
    for i in range(repeats):
        firsts.append((await one_request(probe, PRIME_200, seed=i))[0])
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.gather(*tasks)
    for c in (probe, *others):
        c.close()
    return 1e3 * statistics.median(firsts)


async def soak(server: Server, seconds: float) -> dict[str, list]:
    """32 clients for `seconds`: requests, errors and resident memory every 30 s."""
    errors, done, memory = 0, 0, [(0.0, server.rss_mib())]
    end = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal errors, done
        conn = await Connection.open(server.url)
        while time.monotonic() < end:
            try:
                await one_request(conn)
                done += 1
            except Exception:
                errors += 1
                conn.close()
                conn = await Connection.open(server.url)
        conn.close()

    async def watch() -> None:
        began = time.monotonic()
        while time.monotonic() < end:
            await asyncio.sleep(min(30, max(0.0, end - time.monotonic())))
            memory.append((time.monotonic() - began, server.rss_mib()))

    await asyncio.gather(*(worker() for _ in range(32)), watch())
    return {"requests": done, "errors": errors, "memory": memory}


def trained(folder: Path, corpus: Path, hidden: int, layers: int) -> Path:
    run = folder / f"lstm-{layers}x{hidden}"
    train_model(prepare(corpus), ModelConfig(hidden_size=hidden, num_layers=layers),
                TrainConfig(steps=30, eval_every=10**9, val_frac=0.1), run)
    return run


def sample_chars_s(lm) -> float:
    """`charrnn sample`'s characters per second (`lm.sample`, batch 1)."""
    lm.sample(300, 1.0, "S", seed=0)
    began = time.perf_counter()
    lm.sample(3000, 1.0, "S", seed=1)
    return 3000 / (time.perf_counter() - began)


def floor_chars_s(lm) -> float:
    step = lm.decoder.step_fn
    step.advance(np.zeros(32, dtype=np.int64),
                 tuple(s.numpy() for s in lm.model.initial_state(32)))
    return 32 / floor_seconds(step, 32)


def bare_step_chars_s(lm, steps: int = 500) -> float:
    """A whole batch-32 step (products, the LSTM's gates, the log-softmax) in a tight
    loop: what any server built on the step could reach at best."""
    ids = np.zeros(32, dtype=np.int64)
    state = tuple(np.zeros_like(s.numpy()) for s in lm.model.initial_state(32))
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for _ in range(steps):
            _, state = lm.decoder.advance(ids, state)
        best = min(best, (time.perf_counter() - began) / steps)
    return 32 / best


def main() -> None:
    charrnn.tune_for_speed()  # measured as the commands run (numpy is loaded: its part is moot)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of 32-client soak")
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CHARRNN_CACHE"] = str(Path(tmp) / "cache")
        corpus = Path(tmp) / "corpus.txt"
        text = SHARED.read_text(encoding="utf-8") if SHARED.exists() else PLAY
        corpus.write_text(text[:200_000], encoding="utf-8")
        medium = SIZES["medium"]
        runs = {"lstm 2x512": trained(Path(tmp), corpus, 512, 2),
                f"medium (lstm {medium['num_layers']}x{medium['hidden_size']})":
                    trained(Path(tmp), corpus, medium["hidden_size"], medium["num_layers"])}
        for label, run in runs.items():
            report(label, run)
        if args.soak:
            server = Server(runs["lstm 2x512"])
            try:
                asyncio.run(load_run(server.url, 32, 1))  # warm: every batch size seen
                result = asyncio.run(soak(server, args.soak))
            finally:
                server.stop()
            memory = ", ".join(f"{t:.0f} s {m:.0f} MiB" for t, m in result["memory"])
            print(f"soak, lstm 2x512, 32 clients for {args.soak:.0f} s: {result['requests']:,} "
                  f"requests, {result['errors']} errors; resident memory: {memory}")


def report(label: str, run: Path) -> None:
    lm = load(run)
    bare = bare_step_chars_s(lm)
    rounds: dict[int, list[tuple[float, dict[str, float]]]] = {1: [], 32: []}
    openai_shares: dict[int, list[float]] = {1: [], 32: []}
    figures = {}
    server = Server(run)
    try:
        for _ in range(ROUNDS):  # each goal's load just after its reference
            for clients, reference in ((1, sample_chars_s), (32, floor_chars_s)):
                measured = reference(lm)
                own = asyncio.run(load_run(server.url, clients, LOADS[clients]))
                rounds[clients].append((measured, own))
                through = asyncio.run(load_run(server.url, clients, LOADS[clients], "openai"))
                openai_shares[clients].append(through["chars_s"] / own["chars_s"])
        figures[("32", 8)] = asyncio.run(load_run(server.url, 8, LOADS[8]))
        alone = asyncio.run(first_char_ms(server.url, 0))
        busy = asyncio.run(first_char_ms(server.url, 31))
    finally:
        server.stop()
    server = Server(run, "--max-batch", "1")
    try:
        for clients, each in LOADS.items():
            figures[("1", clients)] = asyncio.run(load_run(server.url, clients, each))
    finally:
        server.stop()
    reference, ratios = {}, {}
    for clients, found in rounds.items():
        ratios[clients] = [f["chars_s"] / ref for ref, f in found]
        middle = sorted(range(ROUNDS), key=ratios[clients].__getitem__)[ROUNDS // 2]
        reference[clients], figures[("32", clients)] = found[middle]
    sample, floor = reference[1], reference[32]
    print(f"{label}: charrnn sample {sample:,.0f} chars/s; batch-32 floor "
          f"{floor:,.0f} chars/s (its products alone)")
    print(f"  the bare batch-32 step, without sampling or HTTP: {bare:,.0f} chars/s "
          f"({bare / floor:.2f} of the floor)")
    print(f"  {'clients':>7} {'server':<14} {'chars/s':>9} {'first ms':>9} {'p50 ms':>8} "
          f"{'p95 ms':>8}  vs")
    for clients in LOADS:
        for batch, name in (("32", "batched"), ("1", "one at a time")):
            f = figures[(batch, clients)]
            shown = ", ".join(f"{r:.2f}" for r in ratios.get(clients, []))
            if batch == "1":
                versus = f"batched {figures[('32', clients)]['chars_s'] / f['chars_s']:.2f}x this"
            elif clients == 1:
                versus = f"{f['chars_s'] / sample:.2f} of charrnn sample (goal >= 0.90; {shown})"
            elif clients == 32:
                versus = f"{f['chars_s'] / floor:.2f} of the floor (goal >= 0.50; {shown})"
            else:
                versus = ""
            print(f"  {clients:>7} {name:<14} {f['chars_s']:>9,.0f} {f['first_ms']:>9.1f} "
                  f"{f['p50_ms']:>8.0f} {f['p95_ms']:>8.0f}  {versus}")
    for clients, shares in openai_shares.items():
        print(f"  /v1/completions beside /v1/sample, {clients} client(s), streamed: median "
              f"{statistics.median(shares):.2f} of its throughput (goal >= 0.90; "
              f"{', '.join(f'{r:.2f}' for r in shares)})")
    print(f"  first character after a 200-character prime: {alone:.1f} ms alone "
          f"(goal < 50 ms), {busy:.1f} ms beside 31 generating clients")


if __name__ == "__main__":
    main()
