"""`charrnn serve` with constraints (issue 38, items 8 and 9), over real HTTP on
127.0.0.1: every constraint field keeps every text to it (and gives what the Python API
gives for the same seed), each bad field is a 400 naming it, particles draw as
`lm.samples(particles=N)` does, and /v1/next_words is `lm.next_words`. On the golden a-z
model (vocabulary "\\n .a-z"), given a word list of its own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

import charrnn
from charrnn import Constraints
from charrnn.data import word_list
from charrnn.model import checkpoint

GOLDEN = Path(__file__).parent / "data" / "golden" / "lstm-1-char.safetensors"
WORDS = ["a", "at", "cat", "dog", "mat", "on", "sat", "the", "to", "toes"]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def holds(text: str, word: str) -> bool:
    return word in words(text)


@pytest.fixture(scope="module")
def listed(tmp_path_factory):
    """The golden model, its checkpoint given a word list (for words_only)."""
    path = tmp_path_factory.mktemp("listed") / "model.safetensors"
    ckpt = checkpoint.load(GOLDEN)
    checkpoint.save(path, {**ckpt.tensors, word_list.TENSOR: word_list.to_tensor(WORDS)},
                    ckpt.record)
    return charrnn.load(path)


@pytest.fixture(scope="module")
def served(listed, charrnn_server):
    """A client of the listed model's server (one connection, kept alive)."""
    with (charrnn_server(listed, max_length=300, max_samples=4, max_batch=4) as url,
          httpx.Client(base_url=url, timeout=60) as client):
        yield client


# (fields, what each text must satisfy): sent as JSON, and the same as `Constraints`
KEPT = [
    ({"pattern": r"[a-z]+( [a-z]+)*\."}, lambda t: re.fullmatch(r"[a-z]+( [a-z]+)*\.", t)),
    ({"words_only": True, "include": ["dog"], "ban_chars": "e"},
     lambda t: set(words(t)) <= set(WORDS) and holds(t, "dog") and "e" not in t),
    ({"words_only": True, "new_words": 0.25},
     lambda t: sum(w not in WORDS for w in words(t)) <= 0.25 * len(words(t))),
    ({"acrostic": "cab"}, lambda t: [line[:1] for line in t.split("\n")][:3] == list("cab")),
    ({"syllables": "1,2"}, lambda t: t.count("\n") >= 1),  # (counted by the verse rules)
]


def as_constraints(fields: dict) -> Constraints:
    syllables = fields.get("syllables", ())
    if isinstance(syllables, str):
        syllables = tuple(int(n) for n in syllables.split(","))
    return Constraints(**{**fields, "include": tuple(fields.get("include", ())),
                          "syllables": tuple(syllables)})


def test_every_constraint_field_keeps_every_text_to_it(served, listed):
    for i, (fields, kept) in enumerate(KEPT):
        body = {"length": 40, "num_samples": 3, "seed": 10 + i, "temperature": 1.2, **fields}
        reply = served.post("/v1/sample", json=body)
        assert reply.status_code == 200, (fields, reply.text)
        texts = reply.json()["samples"]
        assert texts == listed.samples(3, 40, seed=10 + i, temperature=1.2,
                                       constraints=as_constraints(fields)), fields
        assert all(kept(t) for t in texts), (fields, texts)
    list_form = served.post("/v1/sample", json={"length": 20, "seed": 5, "syllables": [1, 2]})
    string_form = served.post("/v1/sample", json={"length": 20, "seed": 5, "syllables": "1,2"})
    assert list_form.status_code == 200 and list_form.json() | {"time": 0} == \
        string_form.json() | {"time": 0}


BAD = [  # (path, body, status, the field named)
    ("/v1/sample", {"pattern": "(ab"}, 400, "pattern"),
    ("/v1/sample", {"pattern": "[0-9]+"}, 400, "pattern"),  # no digit in the vocabulary
    ("/v1/sample", {"pattern": ["a"]}, 400, "pattern"),
    ("/v1/sample", {"pattern": "a" * 1001}, 400, "pattern"),
    ("/v1/sample", {"words_only": "yes"}, 400, "words_only"),
    ("/v1/sample", {"new_words": 0.9, "words_only": True}, 400, "new_words"),
    ("/v1/sample", {"new_words": 0.2}, 400, "new_words"),  # without words_only
    ("/v1/sample", {"words_only": True, "include": ["cow"]}, 400, "include"),
    ("/v1/sample", {"syllables": "5,x"}, 400, "syllables"),
    ("/v1/sample", {"syllables": [5, 99]}, 400, "syllables"),
    ("/v1/sample", {"syllables": [True]}, 400, "syllables"),
    ("/v1/sample", {"syllables": {"a": 1}}, 400, "syllables"),
    ("/v1/sample", {"syllables": [1] * 65}, 400, "syllables"),
    ("/v1/sample", {"rhyme": "A1"}, 400, "rhyme"),
    ("/v1/sample", {"acrostic": "a b"}, 400, "acrostic"),
    ("/v1/sample", {"acrostic": 3}, 400, "acrostic"),
    ("/v1/sample", {"particles": 0, "include": ["cat"]}, 400, "particles"),
    ("/v1/sample", {"particles": 1025, "include": ["cat"]}, 400, "particles"),
    ("/v1/sample", {"particles": 1.5, "include": ["cat"]}, 400, "particles"),
    ("/v1/sample", {"particles": 4}, 400, "particles"),  # nothing to draw under
    ("/v1/sample", {"particles": 4, "include": ["cat"], "stop": "."}, 400, "particles"),
    ("/v1/sample", {"particles": 4, "include": ["cat"], "temperature": 0}, 400,
     "particles"),
    ("/v1/sample", {"particles": 4, "include": ["Cat"]}, 400, "include"),  # never saw C
    ("/v1/sample", {"particles": 4, "include": ["cat"], "length": 301}, 400, "length"),
    ("/v1/sample", {"particles": 4, "include": ["cat"], "num_samples": 5}, 400,
     "num_samples"),
    ("/v1/next_words", {"k": 0}, 400, "k"),
    ("/v1/next_words", {"k": 51}, 400, "k"),
    ("/v1/next_words", {"k": "5"}, 400, "k"),
    ("/v1/next_words", {"prime": "ABC"}, 400, "prime"),
    ("/v1/next_words", {"prime": 3}, 400, "prime"),
    ("/v1/next_words", {"prime": "a" * 10_001}, 413, "prime"),
    ("/v1/next_words", {"label": "nobody"}, 400, "label"),
    ("/v1/next_words", {"bogus": 1}, 400, "bogus"),
]


def test_each_bad_field_is_a_json_error_naming_it(served):
    for path, body, status, field in BAD:
        reply = served.post(path, json=body)
        assert reply.status_code == status, (body, reply.text)
        assert reply.json()["field"] == field and reply.json()["error"], (body, reply.json())


def test_words_only_without_a_word_list_is_a_400(charrnn_server):
    with charrnn_server(charrnn.load(GOLDEN), max_batch=1) as url:  # its corpus is not here
        reply = httpx.post(url + "/v1/sample", json={"words_only": True}, timeout=60)
    assert reply.status_code == 400 and reply.json()["field"] == "words_only"


def test_particles_draw_as_the_python_api_does(served, listed):
    body = {"length": 30, "num_samples": 2, "seed": 3, "include": ["cat"], "ban_chars": "e",
            "particles": 16}
    reply = served.post("/v1/sample", json=body)
    assert reply.status_code == 200, reply.text
    texts = reply.json()["samples"]
    assert texts == listed.samples(2, 30, seed=3, particles=16,
                                   constraints=Constraints(("cat",), ban_chars="e"))
    assert all(holds(t, "cat") and "e" not in t for t in texts), texts
    for asked in (None, 1):  # the library's default (particles here), and masked
        reply = served.post("/v1/sample", json={**body, "particles": asked})
        assert reply.json()["samples"] == listed.samples(
            2, 30, seed=3, particles=asked, constraints=Constraints(("cat",), ban_chars="e"))
    with served.stream("POST", "/v1/sample", json={**body, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in response.iter_lines()
                  if line.startswith("data: ")]
    assert [e["text"] for e in events[:-1]] == texts and events[-1]["samples"] == texts
    listed_only = served.post("/v1/sample", json={"length": 30, "seed": 4, "particles": 8,
                                                  "words_only": True})  # the side's list
    assert listed_only.status_code == 200, listed_only.text
    assert set(words(listed_only.json()["samples"][0])) <= set(WORDS)


def test_next_words_over_http_are_lm_next_words(served, listed):
    for prime, k in (("", 5), ("the ", 8), ("the ca", 3), ("a dog sat on the", 50)):
        reply = served.post("/v1/next_words", json={"prime": prime, "k": k})
        assert reply.status_code == 200, reply.text
        found = [(w["word"], w["probability"]) for w in reply.json()["words"]]
        # the same words in the same order; the probabilities to float32's rounding, since
        # the server's thread may take another matrix-product route than the test's
        assert found == [(word, pytest.approx(p, rel=1e-5))
                         for word, p in listed.next_words(prime, k)], prime
        assert reply.json()["prime"] == prime
    assert len(served.post("/v1/next_words", json={}).json()["words"]) == 5  # k's default
