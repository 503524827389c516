"""`charrnn serve` over real HTTP on 127.0.0.1: the JSON API against the Python API,
torch-rnn-server's /generate, streaming, batching equivalence, limits, errors, fuzzing,
disconnects, the API key, origins, and a graceful stop of the real command."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote_plus

import httpx
import pytest

SEEDED = [  # (options, seed): each sampled alone and beside the others
    ({"prime": "ROMEO:", "length": 60}, 1),
    ({"prime": "JULIET:\n", "length": 45, "temperature": 0.7, "top_k": 5}, 2),
    ({"prime": "", "length": 50, "top_p": 0.8, "num_samples": 3}, 3),
    ({"prime": "O that", "length": 70, "repetition_penalty": 1.3, "stop": ["\n"]}, 4),
    ({"prime": "NURSE", "length": 30, "temperature": 0}, 5),
    ({"prime": "I will", "length": 40, "temperature": 1.4, "num_samples": 2, "stop": "."}, 6),
]


def expected(lm, options: dict, seed: int) -> list[str]:
    """What the Python API gives for the same request."""
    kwargs = {k: v for k, v in options.items() if k not in ("length", "num_samples")}
    return lm.samples(options.get("num_samples", 1), options["length"], seed=seed, **kwargs)


def post(url: str, path: str, body, **kwargs) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=30, **kwargs)


def test_a_seeded_sample_is_the_python_apis_alone_and_beside_others(lm, charrnn_server):
    with charrnn_server(lm) as url:
        for options, seed in SEEDED:  # alone
            reply = post(url, "/v1/sample", {**options, "seed": seed})
            assert reply.status_code == 200, reply.text
            assert reply.json()["samples"] == expected(lm, options, seed)
        results: dict[int, httpx.Response] = {}

        def ask(i: int, options: dict, seed: int) -> None:
            results[i] = post(url, "/v1/sample", {**options, "seed": seed})

        # all together, twice over, so requests join and leave a running batch
        threads = [threading.Thread(target=ask, args=(i, *SEEDED[i % len(SEEDED)]))
                   for i in range(2 * len(SEEDED))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == list(range(2 * len(SEEDED)))  # every request answered
    for i, reply in results.items():
        assert reply.status_code == 200, reply.text
        assert reply.json()["samples"] == expected(lm, *SEEDED[i % len(SEEDED)])


def read_events(lines) -> list[tuple[str, dict]]:
    """Server-Sent Events from a stream's lines: (event kind, its JSON data)."""
    events, kind = [], "message"
    for line in lines:
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            events.append((kind, json.loads(line[6:])))
            kind = "message"
    return events


def test_streaming_sends_pieces_then_the_whole_samples(lm, charrnn_server):
    body = {"prime": "ROMEO:", "length": 2000, "num_samples": 2, "seed": 9, "stream": True}
    with charrnn_server(lm) as url, httpx.stream("POST", url + "/v1/sample", json=body,
                                                  timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response.iter_lines())
    pieces = [e for kind, e in events if kind == "message"]
    assert len(pieces) > 4  # sent as it was generated, not all at the end
    assert events[-1][0] == "end"
    whole = expected(lm, {"prime": "ROMEO:", "length": 2000, "num_samples": 2}, 9)
    assert events[-1][1]["samples"] == whole
    for i in range(2):
        assert "".join(p["text"] for p in pieces if p["sample"] == i) == whole[i]


def test_torch_rnn_server_generate(lm, charrnn_server):
    with charrnn_server(lm) as url:
        reply = httpx.get(url + "/generate", params={"start_text": "ROMEO", "n": 4}, timeout=30)
        twice = [httpx.get(url + "/generate", params={"start_text": "I", "n": 2, "seed": 5},
                           timeout=30).json() for _ in range(2)]
        empty = httpx.get(url + "/generate", timeout=30).json()
        greeting = httpx.get(url + "/", headers={"accept": "application/json"}).json()
        page = httpx.get(url + "/", headers={"accept": "text/html,*/*"})
    assert reply.status_code == 200
    data = reply.json()
    assert set(data) == {"start_text", "completions", "replaced", "dropped", "time"}
    assert data["start_text"] == "ROMEO" and len(data["completions"]) == 4
    for text in data["completions"]:  # each ends at its first sentence end, or at 140
        ends = [i for i, c in enumerate(text) if c in ".!?"]
        assert (ends and ends[0] == len(text) - 1) or (not ends and len(text) == 140)
    assert twice[0]["completions"] == twice[1]["completions"]
    assert empty["start_text"] == "" and len(empty["completions"]) == 1
    assert "Have fun" in greeting["message"]  # rnn-writer's check that the server is up
    assert page.headers["content-type"].startswith("text/html") and "<textarea" in page.text


def test_any_unicode_start_text_the_vocabulary_spells(tmp_path, cli, charrnn_server):
    import charrnn

    corpus = tmp_path / "unicode.txt"
    corpus.write_text('Grüße aus Köln. "Ça va très bien!" 日本語のテキスト。 😀 naïve?\n' * 40,
                      encoding="utf-8")
    assert cli("train", corpus, "--steps", "5", "--hidden-size", "16", "--embed-size", "8",
               "--batch-size", "2", "--seq-len", "16", "--out", tmp_path / "run").exit_code == 0
    model = charrnn.load(tmp_path / "run")
    with charrnn_server(model) as url:
        reply = httpx.get(url + "/generate", params={"start_text": "Grüße 日本 😀", "n": 2,
                                                     "seed": 1}, timeout=30)
        unknown = httpx.get(url + "/generate", params={"start_text": "Ω “naïve” Köln",
                                                       "seed": 1}, timeout=30)
    # the echo is start_text as it arrived in the query, as torch-rnn-server's was
    assert reply.status_code == 200 and unquote_plus(reply.json()["start_text"]) == "Grüße 日本 😀"
    assert reply.json()["completions"] == expected(
        model, {"prime": "Grüße 日本 😀", "length": 140, "num_samples": 2, "temperature": 0.7,
                "stop": [".", "!", "?"]}, 1)
    # characters the model never saw do not block suggestions: replaced, or dropped
    assert unknown.status_code == 200
    assert unknown.json()["replaced"] == {"“": '"', "”": '"'}
    assert unknown.json()["dropped"] == "Ω"
    assert unknown.json()["completions"] == expected(
        model, {"prime": ' "naïve" Köln', "length": 140, "temperature": 0.7,
                "stop": [".", "!", "?"]}, 1)


def test_a_byte_level_models_undecodable_bytes_travel_as_json(tmp_path, cli, charrnn_server):
    """Bytes that are not UTF-8 on their own (a sample cut inside a character) come back as
    the same surrogate escapes `lm.samples` returns, in plain JSON and in events."""
    import charrnn

    corpus = tmp_path / "bytes.txt"
    corpus.write_text("Grüße aus Köln, naïve café. 日本語 😀\n" * 60, encoding="utf-8")
    assert cli("train", corpus, "--level", "byte", "--steps", "5", "--hidden-size", "16",
               "--embed-size", "8", "--batch-size", "2", "--seq-len", "16",
               "--out", tmp_path / "run").exit_code == 0
    model = charrnn.load(tmp_path / "run")
    with charrnn_server(model) as url:
        plain = post(url, "/v1/sample", {"length": 300, "num_samples": 3, "seed": 4})
        with httpx.stream("POST", url + "/v1/sample", timeout=30,
                          json={"length": 300, "seed": 4, "stream": True}) as response:
            events = read_events(response.iter_lines())
        impossible = post(url, "/v1/logprob", {"text": "\u00ff"})
    expected_texts = expected(model, {"length": 300, "num_samples": 3}, 4)
    assert any(any("\udc80" <= c <= "\udcff" for c in t) for t in expected_texts)
    assert plain.status_code == 200 and plain.json()["samples"] == expected_texts
    alone = expected(model, {"length": 300}, 4)
    assert events[-1][0] == "end" and events[-1][1]["samples"] == alone
    assert "".join(e["text"] for kind, e in events if kind == "message") == alone[0]
    assert impossible.status_code in (200, 400)  # a byte never seen: probability 0 -> 400
    if impossible.status_code == 400:
        assert impossible.json()["field"] == "text"


def test_beam_logprob_model_and_health_mirror_the_python_api(lm, charrnn_server):
    with charrnn_server(lm) as url:
        beam = post(url, "/v1/beam", {"prime": "ROMEO", "length": 25, "width": 6, "n_best": 3,
                                      "stop": "\n"}).json()
        score = post(url, "/v1/logprob", {"text": "O that I were", "prime": "ROMEO:\n"}).json()
        model = httpx.get(url + "/v1/model").json()
        health = httpx.get(url + "/health").json()
    found = lm.beam(25, width=6, prime="ROMEO", n_best=3, stop="\n")
    assert [(r["text"], r["logprob"]) for r in beam["results"]] == [
        (t, pytest.approx(s, abs=1e-4)) for t, s in found]
    nats = lm.logprob("O that I were", prime="ROMEO:\n")
    assert score["logprob"] == pytest.approx(nats, abs=1e-4)
    assert score["symbols"] == 13 and score["nats_per_char"] == pytest.approx(-nats / 13, 1e-5)
    assert model["model"]["hidden_size"] == lm.model.config.hidden_size
    assert model["parameters"] == lm.model.num_parameters and model["weights"] == "fp32"
    assert health == {"status": "ok", "rows": 0, "priming": 0, "waiting": 0}


BAD = [  # (method, path, body or query, status, the field named)
    ("POST", "/v1/sample", b"{not json", 400, None),
    ("POST", "/v1/sample", b"[1, 2]", 400, None),
    ("POST", "/v1/sample", {"temprature": 1}, 400, "temprature"),
    ("POST", "/v1/sample", {"temperature": -1}, 400, "temperature"),
    ("POST", "/v1/sample", {"temperature": "hot"}, 400, "temperature"),
    ("POST", "/v1/sample", {"length": 10**30}, 400, "length"),
    ("POST", "/v1/sample", {"length": True}, 400, "length"),
    ("POST", "/v1/sample", {"length": 2.5}, 400, "length"),
    ("POST", "/v1/sample", {"top_k": 0}, 400, "top_k"),
    ("POST", "/v1/sample", {"top_p": 1.5}, 400, "top_p"),
    ("POST", "/v1/sample", {"repetition_penalty": 0.5}, 400, "repetition_penalty"),
    ("POST", "/v1/sample", {"num_samples": 1000}, 400, "num_samples"),
    ("POST", "/v1/sample", {"seed": -3}, 400, "seed"),
    ("POST", "/v1/sample", {"prime": "\u00e9t\u00e9"}, 400, "prime"),
    ("POST", "/v1/sample", {"prime": 12}, 400, "prime"),
    ("POST", "/v1/sample", {"prime": "x" * 20_000}, 413, "prime"),
    ("POST", "/v1/sample", {"stop": [1]}, 400, "stop"),
    ("POST", "/v1/sample", {"stream": "yes"}, 400, "stream"),
    ("POST", "/v1/sample", {"temperature": 10**400}, 400, "temperature"),
    ("POST", "/v1/sample", {"temperature": 1e-30}, 400, "temperature"),
    ("POST", "/v1/sample", b'{"stop": "\\ud800"}', 400, "stop"),  # a lone surrogate
    ("POST", "/v1/beam", {"width": 0}, 400, "width"),
    ("POST", "/v1/beam", {"width": 4, "n_best": 5}, 400, "n_best"),
    ("POST", "/v1/beam", {"length_penalty": "long"}, 400, "length_penalty"),
    ("POST", "/v1/beam", {"prime": "\u00e9t\u00e9"}, 400, "prime"),
    ("POST", "/v1/beam", {"stop": ["ok", "\u00e9"]}, 400, "stop"),
    ("POST", "/v1/logprob", {"text": "\u00e9t\u00e9"}, 400, "text"),
    ("POST", "/v1/logprob", {"text": "ok", "prime": "\u00e9"}, 400, "prime"),
    ("POST", "/v1/logprob", {}, 400, "text"),
    ("POST", "/v1/logprob", {"text": "ok", "complete": True}, 400, "complete"),
    ("GET", "/generate", {"n": "many"}, 400, "n"),
    ("GET", "/generate", {"n": "50"}, 400, "n"),
    ("GET", "/generate", {"temperature": "nan"}, 400, "temperature"),
    ("GET", "/generate", {"n": "1" + "0" * 400}, 400, "n"),
    ("GET", "/generate", {"file": "/etc/passwd"}, 400, "file"),
    ("GET", "/v1/sample", None, 405, None),
    ("GET", "/nowhere", None, 404, None),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "field"), BAD,
                         ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_malformed_requests_get_a_json_error_naming_the_field(lm, charrnn_server, method, path,
                                                              body, status, field, _shared_url):
    url = _shared_url
    if method == "GET":
        reply = httpx.get(url + path, params=body, timeout=30)
    elif isinstance(body, bytes):
        reply = httpx.post(url + path, content=body, timeout=30)
    else:
        reply = post(url, path, body)
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["field"] == field and reply.json()["error"]


@pytest.fixture(scope="module")
def _shared_url(lm, charrnn_server):
    with charrnn_server(lm) as url:
        yield url


def random_value(rng: random.Random, depth: int = 0):
    kinds = [lambda: None, lambda: rng.random() < 0.5, lambda: rng.randint(-10**20, 10**20),
             lambda: rng.uniform(-1e6, 1e6), lambda: rng.choice([0, 1, 2, 5, 64, -1]),
             lambda: rng.choice([0.0, 0.5, 1.0, 1e308, -0.0]),
             lambda: "".join(rng.choice("aeiou RMO:\n\u00e9\U0001f600\\\"") for _ in
                             range(rng.randint(0, 30)))]
    if depth < 2:
        kinds += [lambda: [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))],
                  lambda: {"k": random_value(rng, depth + 1)}]
    return rng.choice(kinds)()


FIELDS = ["prime", "length", "temperature", "top_k", "top_p", "repetition_penalty", "stop",
          "num_samples", "seed", "stream", "width", "n_best", "length_penalty",
          "no_repeat_ngram", "text", "complete", "include", "pattern", "particles", "k",
          "bogus"]  # (no verse form: its dictionary and rules are slow to build)


def fuzz_request(rng: random.Random) -> dict:
    """One random request: mostly plausible fields with random values, sometimes raw
    bytes, broken JSON, odd methods and paths."""
    path = rng.choice(["/v1/sample", "/v1/beam", "/v1/logprob", "/generate", "/health",
                       "/v1/model", "/v1/sample/x", "/%00", "/generate?n=1&n=2",
                       "/v1/next_words"])
    choice = rng.random()
    if choice < 0.1:
        content = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
    elif choice < 0.2:
        content = json.dumps({"prime": "RO"})[: rng.randint(0, 10)].encode()
    else:
        body = {f: random_value(rng) for f in rng.sample(FIELDS, rng.randint(0, 5))}
        body = {k: v for k, v in body.items() if not (k == "length" and isinstance(v, int)
                                                       and v > 300)}  # keep it quick
        if body.get("stream") is True and rng.random() < 0.7:
            body["stream"] = False
        content = json.dumps(body).encode()
    method = rng.choice(["POST"] * 6 + ["GET", "PUT", "DELETE"])
    params = None
    if path == "/generate":
        method = "GET"
        params = {k: str(random_value(rng))[:40] for k in
                  rng.sample(["start_text", "n", "temperature", "seed", "x"], 3)}
    return {"method": method, "url": path, "content": content if method != "GET" else None,
            "params": params}


def test_a_thousand_random_and_malformed_requests_never_break_the_server(lm, charrnn_server):
    rng = random.Random(20261130)
    statuses: dict[int, int] = {}
    with (charrnn_server(lm, max_length=300) as url,
          httpx.Client(base_url=url, timeout=30) as client):
        for _ in range(1000):
            reply = client.request(**fuzz_request(rng))
            statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
            assert reply.status_code < 500, (reply.status_code, reply.text)
            if reply.status_code >= 400:
                assert reply.json()["error"]
        after = client.post("/v1/sample", json={"prime": "ROMEO:", "length": 50, "seed": 1})
        health = client.get("/health").json()
    assert after.json()["samples"] == expected(lm, {"prime": "ROMEO:", "length": 50}, 1)
    assert health["rows"] == health["waiting"] == 0
    assert statuses.get(200, 0) > 50 and sum(v for k, v in statuses.items() if k >= 400) > 500


def test_a_full_queue_answers_503_with_retry_after(lm, charrnn_server):
    with charrnn_server(lm, max_batch=1, max_samples=1, max_waiting=1,
                        max_length=1_000_000) as url:
        first = httpx.stream("POST", url + "/v1/sample", timeout=30,
                             json={"length": 1_000_000, "stream": True})
        with first as streaming:
            lines = streaming.iter_lines()  # kept: a dropped iterator closes the connection
            next(lines)  # the only row is generating
            waiting = threading.Thread(target=post, args=(url, "/v1/sample", {"length": 5}))
            waiting.start()
            deadline = time.monotonic() + 10
            while httpx.get(url + "/health").json()["waiting"] < 1:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            refused = post(url, "/v1/sample", {"length": 5})
        waiting.join()
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert "try again" in refused.json()["error"]


def test_a_client_that_leaves_frees_its_rows(lm, charrnn_server):
    with charrnn_server(lm, max_batch=2, max_samples=2, max_length=1_000_000) as url:
        for stream in (True, False):
            with httpx.Client(timeout=30) as client:
                body = {"length": 1_000_000, "num_samples": 2, "stream": stream}
                if stream:
                    with client.stream("POST", url + "/v1/sample", json=body) as response:
                        lines = response.iter_lines()
                        next(lines)
                        assert httpx.get(url + "/health").json()["rows"] == 2
                else:
                    with pytest.raises(httpx.ReadTimeout):
                        client.post(url + "/v1/sample", json=body, timeout=0.3)
            deadline = time.monotonic() + 10
            while httpx.get(url + "/health").json()["rows"]:
                assert time.monotonic() < deadline, "the rows were not freed"
                time.sleep(0.02)
        after = post(url, "/v1/sample", {"length": 20, "num_samples": 2, "seed": 3})
    assert after.json()["samples"] == expected(lm, {"length": 20, "num_samples": 2}, 3)


def test_an_api_key_is_needed_by_every_request_but_the_page(lm, charrnn_server):
    key = "correct horse battery"
    with charrnn_server(lm, api_key=key) as url:
        missing = post(url, "/v1/sample", {"length": 5})
        wrong = post(url, "/v1/sample", {"length": 5}, headers={"x-api-key": "nope"})
        right = post(url, "/v1/sample", {"length": 5}, headers={"x-api-key": key})
        health = httpx.get(url + "/health")
        page = httpx.get(url + "/")
    assert missing.status_code == wrong.status_code == health.status_code == 401
    assert "x-api-key" in missing.json()["error"]
    assert missing.json()["message"] == wrong.json()["message"] == "Forbidden"  # rnn-writer's
    assert right.status_code == 200 and page.status_code == 200


def test_other_sites_are_refused_unless_allowed(lm, charrnn_server):
    allowed = "https://writer.example.org"
    with charrnn_server(lm, cors_origins=(allowed,)) as url:
        other = post(url, "/v1/sample", {"length": 5}, headers={"origin": "https://evil.test"})
        same = post(url, "/v1/sample", {"length": 5}, headers={"origin": url})
        listed = post(url, "/v1/sample", {"length": 5}, headers={"origin": allowed})
        preflight = httpx.options(url + "/v1/sample", headers={
            "origin": allowed, "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, x-api-key"})
    assert other.status_code == 403 and "--cors-origin" in other.json()["error"]
    assert same.status_code == 200 and "access-control-allow-origin" not in same.headers
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == allowed
    assert preflight.status_code == 204
    assert "x-api-key" in preflight.headers["access-control-allow-headers"]


def test_a_rebound_host_name_is_refused(lm, charrnn_server):
    """DNS rebinding: a page at evil.test:PORT whose name now points at 127.0.0.1 sends
    its own Host and Origin, which match each other."""
    with charrnn_server(lm) as url:
        port = url.rsplit(":", 1)[1]
        rebound = post(url, "/v1/sample", {"length": 5},
                       headers={"host": f"evil.test:{port}", "origin": f"http://evil.test:{port}"})
        local = httpx.get(url + "/health", headers={"host": f"localhost:{port}"})
    assert rebound.status_code == 403 and "--allowed-host" in rebound.json()["error"]
    assert local.status_code == 200


@pytest.mark.parametrize("bound", ["127.0.1.1", "0.0.0.0"])
def test_a_rebound_host_name_is_refused_however_the_server_is_bound(lm, charrnn_server,
                                                                    bound):
    """Bound to an address the loopback names do not cover, or to every interface, a
    page whose name was rebound to the server is still refused; the server's own
    address, and each --allowed-host, are answered."""
    with charrnn_server(lm, host=bound, allowed_hosts=("writer.example.org",)) as url:
        port = url.rsplit(":", 1)[1]

        def health(host: str) -> httpx.Response:
            return httpx.get(url + "/health", headers={"host": host,
                                                       "origin": f"http://{host}"})

        rebound = health(f"evil.test:{port}")
        own = httpx.get(url + "/health")
        listed = health(f"writer.example.org:{port}")
        rebound_post = post(url, "/v1/sample", {"length": 5},
                            headers={"host": f"evil.test:{port}",
                                     "origin": f"http://evil.test:{port}"})
    assert rebound.status_code == rebound_post.status_code == 403
    assert "--allowed-host" in rebound.json()["message"]
    assert own.status_code == 200 and listed.status_code == 200


def test_an_allowed_host_with_a_port_matches_that_port_only(lm, charrnn_server):
    """--allowed-host writer.example.org:8443 answers a Host of that name and port (as a
    proxy on that port sends it) and no other port; a name without a port answers any
    port; a port that is no port is refused when the server is set up."""
    from charrnn.config import ServeConfig
    from charrnn.errors import ConfigError

    with charrnn_server(lm, allowed_hosts=("writer.example.org:8443", "any.example.org",
                                           "[::2]:8080")) as url:
        def status(host: str) -> int:
            return httpx.get(url + "/health", headers={"host": host}).status_code

        answered = [status(h) for h in ("writer.example.org:8443", "WRITER.example.org:8443",
                                        "any.example.org", "any.example.org:1234",
                                        "[::2]:8080")]
        refused = [status(h) for h in ("writer.example.org:9999", "writer.example.org",
                                       "writer.example.org:8443x", "[::2]:8081")]
    assert answered == [200] * 5
    assert refused == [403] * 4
    for bad in ("example.org:70000", "example.org:", "example.org:http", "[::1]x"):
        with pytest.raises(ConfigError, match="allowed_host must be"):
            ServeConfig(allowed_hosts=(bad,)).validate()


def test_model_info_names_files_and_shows_paths_only_when_asked(lm, charrnn_server):
    with charrnn_server(lm) as url:
        named = httpx.get(url + "/v1/model")
    with charrnn_server(lm, show_paths=True) as url:
        located = httpx.get(url + "/v1/model").json()
    run = lm.path.parent
    assert str(run) not in named.text and str(run.parent) not in named.text
    info = named.json()
    assert info["checkpoint"] == lm.path.name and info["run"] == run.name
    assert "/" not in (info["corpus"]["source"] or "")
    assert located["checkpoint"] == str(lm.path) and located["run"] == str(run)


def test_model_info_shows_a_parent_and_weight_patterns_from_the_served_folder(
        tmp_path, tiny_text, charrnn_server):
    """A run fine-tuned from a parent named by its absolute path, with weight patterns
    typed as absolute paths: /v1/model shows both relative to the served run folder and
    no absolute path at all; --show-paths shows them as typed."""
    import charrnn

    project = tmp_path / "project"
    for name, repeats in (("alice", 12), ("bob", 6)):
        (project / "letters" / name).mkdir(parents=True)
        (project / "letters" / name / "a.txt").write_text(tiny_text(repeats))
    small = {"hidden_size": 16, "embed_size": 8, "batch_size": 4, "seq_len": 16,
             "eval_every": 5, "steps": 5}
    charrnn.train(str(project / "letters"), out=project / "checkpoints" / "parent", **small)
    weight = f"{project}/letters/alice/*=2"
    charrnn.train(str(project / "letters" / "*" / "*.txt"), out=project / "checkpoints" /
                  "child", init_from=str(project / "checkpoints" / "parent"),
                  weights=(weight,), **{k: v for k, v in small.items() if "size" not in k})
    child = charrnn.load(project / "checkpoints" / "child")
    with charrnn_server(child) as url:
        named = httpx.get(url + "/v1/model")
    with charrnn_server(child, show_paths=True) as url:
        located = httpx.get(url + "/v1/model").json()
    assert str(tmp_path) not in named.text
    assert named.json()["parent"]["name"] == "../parent"
    assert named.json()["data"]["weights"] == ["../../letters/alice/*=2"]
    assert located["parent"]["name"] == str(project / "checkpoints" / "parent")
    assert located["data"]["weights"] == [weight]


def test_bodies_over_the_limit_are_refused(lm, charrnn_server):
    with charrnn_server(lm, max_body=1000) as url:
        declared = httpx.post(url + "/v1/sample", content=b" " * 1001)
        chunked = httpx.post(url + "/v1/sample", content=iter([b" " * 600, b" " * 600]))
        fine = httpx.post(url + "/v1/sample", content=b'{"length": 3}' + b" " * 900)
    assert declared.status_code == chunked.status_code == 413
    assert "1,000 bytes" in chunked.json()["error"]
    assert fine.status_code == 200


# --- the real command ----------------------------------------------------------------------

def start_command(*args: str, env: dict | None = None):
    """`charrnn serve ARGS --port 0` in a subprocess: (the process, its URL once it
    serves, the lines it wrote to stderr until then)."""
    proc = subprocess.Popen([sys.executable, "-m", "charrnn", "serve", *args, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if " at http://" in line:
            return proc, line.split(" at ")[1].split()[0], lines
    proc.wait()
    raise AssertionError("".join(lines))


def test_sigterm_finishes_what_is_in_flight_and_exits_0(trained_run):
    proc, url, _ = start_command("--checkpoint", str(trained_run), "--grace", "10")
    try:
        with httpx.stream("POST", url + "/v1/sample", timeout=30,
                          json={"length": 1500, "stream": True, "seed": 2}) as response:
            lines = response.iter_lines()
            next(lines)
            proc.send_signal(signal.SIGTERM)
            events = read_events(lines)
        assert proc.wait(timeout=30) == 0
        assert events[-1][0] == "end" and len(events[-1][1]["samples"][0]) == 1500
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/health")
        assert "Traceback" not in proc.stderr.read()
    finally:
        proc.kill()


def test_ctrl_c_cancels_what_outlasts_the_grace_period(trained_run):
    proc, url, _ = start_command("--checkpoint", str(trained_run), "--grace", "0.5",
                                 "--max-length", "100000")
    try:
        with httpx.stream("POST", url + "/v1/sample", timeout=30,
                          json={"length": 100000, "stream": True}) as response:
            lines = response.iter_lines()
            next(lines)
            began = time.monotonic()
            proc.send_signal(signal.SIGINT)
            rest, cut = [], False
            try:
                rest.extend(lines)
            except httpx.RemoteProtocolError:
                cut = True
        # Cut mid-stream, or (when the batcher stops just before the stream is cancelled)
        # told so in an error event; never ended as if whole.
        assert "event: end" not in rest
        assert cut or ("event: error" in rest and any("shutting down" in x for x in rest))
        assert proc.wait(timeout=30) == 0 and time.monotonic() - began < 10
    finally:
        proc.kill()


def test_listening_beyond_this_machine_without_a_key_warns(trained_run):
    proc, url, lines = start_command("--checkpoint", str(trained_run), "--host", "0.0.0.0")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert any("warning" in line and "--api-key" in line for line in lines)
    keyed, _, lines = start_command("--checkpoint", str(trained_run), "--host", "0.0.0.0",
                                    env={"CHARRNN_API_KEY": "a long enough key"})
    keyed.send_signal(signal.SIGTERM)
    assert keyed.wait(timeout=30) == 0
    assert not any("warning" in line for line in lines)


@pytest.mark.parametrize(("args", "message"), [
    (["--port", "70000"], "--port must be between 0 and 65535"),
    (["--max-batch", "0"], "--max-batch must be >= 1"),
    (["--max-waiting", "0"], "--max-waiting must be >= 1"),
    (["--api-key", "short"], "--api-key must be at least 8 characters"),
    (["--cors-origin", "evil"], "--cors-origin must look like"),
    (["--allowed-host", "example.org:70000"], "--allowed-host must be a host name"),
])
def test_bad_serve_options_are_one_line(cli, one_error_line, trained_run, args, message):
    line = one_error_line(cli("serve", "--checkpoint", trained_run, *args))
    assert message in line


def test_a_port_in_use_is_one_line(cli, one_error_line, trained_run):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        line = one_error_line(cli("serve", "--checkpoint", trained_run,
                                  "--port", taken.getsockname()[1]))
    finally:
        taken.close()
    assert "cannot listen on 127.0.0.1" in line


def test_help_states_the_limits(cli):
    text = cli("serve", "--help").output
    for option in ("--max-batch", "--max-waiting", "--max-length", "--max-samples",
                   "--max-prime", "--max-body", "--max-width", "--api-key", "--cors-origin"):
        assert option in text


def test_accepted_connections_send_at_once():
    """TCP_NODELAY on every connection: without it a kept-alive client waited 40 ms for
    each response (Nagle's algorithm against its delayed ACK)."""
    import asyncio
    import socket

    from charrnn.interface.serve.runner import bind

    async def accept_one() -> int:
        accepted: asyncio.Future = asyncio.get_running_loop().create_future()

        class Keep(asyncio.Protocol):
            def connection_made(self, transport):
                accepted.set_result(transport.get_extra_info("socket"))

        listening = bind("127.0.0.1", 0)
        server = await asyncio.get_running_loop().create_server(Keep, sock=listening)
        _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
        conn = await accepted
        nodelay = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        writer.close()
        server.close()
        return nodelay

    assert asyncio.run(accept_one()) == 1


# --- failures: one request's stays its own; the server never hangs -----------------------

def test_a_request_that_fails_fails_alone_over_http(lm, charrnn_server, failing_draws,
                                                     caplog):
    """A request whose own draw raises (top_k 7, see conftest) is answered 500 with a
    message, logged with its traceback; the requests beside it get their seeded texts."""
    bad = {"prime": "JULIET", "length": 300, "top_k": 7}
    with charrnn_server(lm) as url:
        results: dict[int, httpx.Response] = {}

        def ask(i: int, body: dict) -> None:
            results[i] = post(url, "/v1/sample", body)

        bodies = [{**options, "seed": seed} for options, seed in SEEDED] + [bad]
        threads = [threading.Thread(target=ask, args=(i, b)) for i, b in enumerate(bodies)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with httpx.stream("POST", url + "/v1/sample", json={**bad, "stream": True},
                          timeout=30) as response:
            events = read_events(response.iter_lines())
        health = httpx.get(url + "/health").json()
    assert sorted(results) == list(range(len(bodies)))
    failed = results.pop(len(SEEDED))
    assert failed.status_code == 500 and "internal error" in failed.json()["message"]
    assert "Retry-After" not in failed.headers  # a bug, not a busy server
    for i, reply in results.items():
        assert reply.status_code == 200 and reply.json()["samples"] == expected(lm, *SEEDED[i])
    assert events[-1][0] == "error" and "internal error" in events[-1][1]["message"]
    assert health["status"] == "ok" and health["rows"] == 0
    assert "RuntimeError: a draw that fails" in caplog.text and "Traceback" in caplog.text


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_stopped_worker_answers_what_it_held_and_is_started_again(lm, charrnn_server,
                                                                     monkeypatch):
    """The batcher's thread ends mid-request (a BaseException nothing catches): the
    request in flight gets 500 at once, not a hang, and the next one is served."""
    from charrnn.decoding.batcher import Batcher

    real = Batcher._turn
    turns = []

    def turn(self):
        turns.append(1)
        if len(turns) == 5:
            raise SystemExit("the worker's thread ends")
        real(self)

    monkeypatch.setattr(Batcher, "_turn", turn)
    with charrnn_server(lm) as url:
        began = time.monotonic()
        held = post(url, "/v1/sample", {"prime": "ROMEO", "length": 1000, "seed": 1})
        waited = time.monotonic() - began
        again = post(url, "/v1/sample", {"prime": "ROMEO:", "length": 60, "seed": 1})
    assert held.status_code == 500 and "worker stopped" in held.json()["message"]
    assert waited < 10
    assert again.status_code == 200
    assert again.json()["samples"] == expected(lm, {"prime": "ROMEO:", "length": 60}, 1)


def test_a_lost_wake_up_still_answers(lm, charrnn_server, monkeypatch):
    """Should the server's own callback raise, its request ends failed (500), answered
    within a second or so, and the worker goes on."""
    from charrnn.interface.serve import service as service_module

    real = service_module.Waker.__call__

    def call(self, gen):
        if gen.request.length == 299:
            raise RuntimeError("a callback that fails")
        real(self, gen)

    monkeypatch.setattr(service_module.Waker, "__call__", call)
    with charrnn_server(lm) as url:
        broken = post(url, "/v1/sample", {"prime": "ROMEO", "length": 299})
        fine = post(url, "/v1/sample", {"prime": "ROMEO:", "length": 60, "seed": 1})
    assert broken.status_code == 500 and "callback" in broken.json()["message"]
    assert fine.status_code == 200
    assert fine.json()["samples"] == expected(lm, {"prime": "ROMEO:", "length": 60}, 1)


FAILING_SERVE = """
import sys
import charrnn.decoding.sampling as sampling
real = sampling.adjust
def adjust(logprobs, cfg, seen):
    if cfg.top_k == 7:
        raise RuntimeError("a draw that fails")
    return real(logprobs, cfg, seen)
sampling.adjust = adjust
from charrnn.interface.cli import main
sys.argv = ["charrnn", "serve", *sys.argv[1:]]
main()
"""


def test_charrnn_serve_prints_a_failed_requests_traceback(trained_run):
    """The real command, with one request's draw made to fail: the client gets 500 and
    a message, the command's stderr the traceback, and it goes on serving."""
    proc = subprocess.Popen([sys.executable, "-c", FAILING_SERVE, "--checkpoint",
                             str(trained_run), "--port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if " at http://" in line:
                url = line.split(" at ")[1].split()[0]
                break
        failed = post(url, "/v1/sample", {"prime": "ROMEO", "length": 50, "top_k": 7})
        fine = post(url, "/v1/sample", {"prime": "ROMEO", "length": 50})
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        err = proc.stderr.read()
    finally:
        proc.kill()
    assert failed.status_code == 500 and failed.json()["message"].startswith("internal error")
    assert fine.status_code == 200
    assert "Traceback" in err and "RuntimeError: a draw that fails" in err
    assert "charrnn.decoding.batcher" in err


# --- rnn-writer, with its own expressions run in Node -------------------------------------

RNN_WRITER = Path(__file__).with_name("rnn_writer_client.js")


def rnn_writer(url: str, cases: list[dict]) -> list[dict]:
    """What rnn-writer makes of each /generate reply (see rnn_writer_client.js)."""
    import shutil

    node = shutil.which("node")
    if node is None:
        pytest.skip("needs Node.js (node) to run rnn-writer's own expressions")
    done = subprocess.run([node, str(RNN_WRITER), url, json.dumps(cases)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_rnn_writer_uses_every_reply_and_shows_every_error(lm, charrnn_server):
    key = "a long enough key"
    texts = ["To be, or not", "Ромео и 50% love", "she said \u201cnever\u201d and",
             "100% sure that"]
    cases = ([{"text": t, "n": 3, "key": key} for t in texts]
             + [{"text": "ROMEO", "n": "abc", "key": key},
                {"text": "ROMEO", "n": 0, "key": key},
                {"text": "ROMEO", "n": 2, "key": "the wrong key"},
                {"text": "ROMEO", "n": 2, "key": None}])
    with charrnn_server(lm, api_key=key) as url:
        results = rnn_writer(url, cases)
    for text, result in zip(texts, results, strict=False):
        assert "thrown" not in result, (text, result)
        assert result["shown"] is None and result["used"], (text, result)
        assert len(result["suggestions"]) == 3
    bad_n, zero_n, wrong_key, no_key = results[len(texts):]
    for result in (bad_n, zero_n):
        assert result["shown"].startswith("The server replied with this error:")
        assert "n must" in result["shown"]
    assert wrong_key["shown"] == no_key["shown"] == "That API key doesn't appear to be valid."
