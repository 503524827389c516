"""`charrnn serve` through the official `openai` Python library, unmodified, pointed at it
with `base_url` over real HTTP on 127.0.0.1 (issue 40): models, completions (seeded
texts are the Python API's, `n`, several prompts, `stop`, streaming, `logprobs`,
`echo`, `best_of`), chat, charrnn's constraints as extra body fields, the key as a
Bearer token, and errors in OpenAI's shape. On the golden a-z model."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import openai
import pytest

import charrnn

GOLDEN = Path(__file__).parent / "data" / "golden" / "lstm-1-char.safetensors"


@pytest.fixture(scope="module")
def lm():
    return charrnn.load(GOLDEN)


@pytest.fixture(scope="module")
def server(lm, charrnn_server):
    with charrnn_server(lm, max_length=300, max_samples=4, max_batch=8) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    with openai.OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0) as made:
        yield made


@pytest.fixture(scope="module")
def name(client):
    return client.models.list().data[0].id


def test_the_model_is_listed_with_its_characters(client, name, lm):
    listed = client.models.list().data
    assert [m.id for m in listed] == [name] and listed[0].owned_by == "charrnn"
    assert listed[0].model_extra["vocabulary"] == list(lm.vocab.chars)
    assert client.models.retrieve(name).id == name


def test_a_seeded_completion_is_the_python_apis_text(client, name, lm):
    made = client.completions.create(model=name, prompt="the ", max_tokens=40, seed=3,
                                      temperature=0.8)
    (choice,) = made.choices
    assert choice.text == lm.sample(40, prime="the ", seed=3, temperature=0.8)
    assert choice.finish_reason == "length" and choice.index == 0
    assert (made.usage.prompt_tokens, made.usage.completion_tokens,
            made.usage.total_tokens) == (4, 40, 44)
    assert made.object == "text_completion" and made.model == name


def test_several_prompts_and_n_give_one_choice_each_in_order(client, name, lm):
    made = client.completions.create(model=name, prompt=["the ", "a cat "], n=2,
                                     max_tokens=20, seed=5)
    assert [c.index for c in made.choices] == [0, 1, 2, 3]
    assert [c.text for c in made.choices[:2]] == lm.samples(2, 20, prime="the ", seed=5,
                                                            temperature=1.0)
    assert made.usage.prompt_tokens == 4 + 6 and made.usage.completion_tokens == 80


def test_a_text_ends_before_its_stop_string(client, name, lm):
    made = client.completions.create(model=name, prompt="the ", max_tokens=200, seed=2,
                                     stop=[" "], n=3)
    python = lm.samples(3, 200, prime="the ", seed=2, temperature=1.0, stop=" ")
    for choice, text in zip(made.choices, python, strict=True):
        if text.endswith(" "):
            assert choice.text == text[:-1] and choice.finish_reason == "stop"
        else:
            assert choice.text == text and choice.finish_reason == "length"
    assert any(c.finish_reason == "stop" for c in made.choices)


def test_a_stream_is_the_same_text_in_chunks_then_done(client, name):
    asked = dict(model=name, prompt="the ", max_tokens=60, seed=7, stop=["cat"])
    whole = client.completions.create(**asked).choices[0]
    chunks = list(client.completions.create(**asked, stream=True))
    assert "".join(c.choices[0].text for c in chunks) == whole.text
    assert chunks[-1].choices[0].finish_reason == whole.finish_reason
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_logprobs_are_the_models_and_echo_returns_the_prompt(client, name, lm):
    made = client.completions.create(model=name, prompt="the ", max_tokens=12, seed=1,
                                     logprobs=3)
    choice = made.choices[0]
    found = choice.logprobs
    assert "".join(found.tokens) == choice.text and len(found.top_logprobs) == 12
    assert sum(found.token_logprobs) == pytest.approx(lm.logprob(choice.text, "the "),
                                                      abs=1e-3)
    assert all(len(top) <= 3 and max(top.values()) >= lp - 1e-6
               for top, lp in zip(found.top_logprobs, found.token_logprobs, strict=True))
    echoed = client.completions.create(model=name, prompt="the ", max_tokens=12, seed=1,
                                       echo=True, logprobs=1).choices[0]
    assert echoed.text == "the " + choice.text
    assert echoed.logprobs.token_logprobs[0] is None and echoed.logprobs.tokens[0] == "t"


def test_best_of_is_the_beam_and_its_best_texts(client, name, lm):
    made = client.completions.create(model=name, prompt="the ", max_tokens=15,
                                     best_of=4, n=2)
    assert [c.text for c in made.choices] == [
        t for t, _ in lm.beam(15, width=4, prime="the ", n_best=2)]


def test_chat_continues_the_last_user_message(client, name, lm):
    messages = [{"role": "system", "content": "ignored"},
                {"role": "user", "content": "the dog "}]
    made = client.chat.completions.create(model=name, messages=messages, max_tokens=30,
                                          seed=4)
    (choice,) = made.choices
    assert choice.message.role == "assistant" and choice.finish_reason == "length"
    assert choice.message.content == lm.sample(30, prime="the dog ", seed=4, temperature=1.0)
    streamed = client.chat.completions.create(model=name, messages=messages, max_tokens=30,
                                              seed=4, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == \
        choice.message.content


def test_constraints_go_in_as_extra_body_fields(client, name):
    made = client.completions.create(model=name, prompt="the ", max_tokens=30, n=3, seed=1,
                                     extra_body={"include": ["cat"], "ban_chars": "e"})
    for choice in made.choices:
        assert re.search(r"\bcat\b", choice.text) and "e" not in choice.text, choice.text


def test_logit_bias_is_keyed_by_the_listed_characters_ids(client, name, lm):
    ids = {c: str(i) for i, c in enumerate(client.models.list().data[0].model_extra[
        "vocabulary"])}
    plain = client.completions.create(model=name, prompt="the ", max_tokens=60, seed=5)
    assert " " in plain.choices[0].text
    banned = client.completions.create(model=name, prompt="the ", max_tokens=60, seed=5,
                                       logit_bias={ids[" "]: -100})
    assert len(banned.choices[0].text) == 60 and " " not in banned.choices[0].text
    forced = client.completions.create(model=name, prompt="the ", max_tokens=20, seed=5,
                                       logit_bias={ids["q"]: 100}, n=2)
    assert [c.text for c in forced.choices] == ["q" * 20] * 2
    nudged = client.completions.create(model=name, prompt="the ", max_tokens=300, seed=5,
                                       logit_bias={ids["e"]: 3})
    assert nudged.choices[0].text.count("e") > 2 * plain.choices[0].text.count("e") * 5


@pytest.mark.parametrize(("asked", "status", "param"), [
    ({"model": "gpt-4"}, 404, "model"),
    ({"max_tokens": -1}, 400, "max_tokens"),
    ({"max_tokens": 301}, 400, "max_tokens"),
    ({"n": 5}, 400, "n"),
    ({"logprobs": 21}, 400, "logprobs"),
    ({"frequency_penalty": 0.5}, 400, "frequency_penalty"),
    ({"logit_bias": {"a": 5}}, 400, "logit_bias"),
    ({"logit_bias": {"0": 101}}, 400, "logit_bias"),
    ({"logit_bias": {"9999": 1}}, 400, "logit_bias"),
    ({"logit_bias": [1, 2]}, 400, "logit_bias"),
    ({"logit_bias": {"1": 5}, "best_of": 2}, 400, "logit_bias"),
    ({"logit_bias": {"1": 5}, "particles": 8}, 400, "particles"),
    ({"suffix": "end"}, 400, "suffix"),
    ({"prompt": [1, 2, 3]}, 400, "prompt"),
    ({"temperature": "hot"}, 400, "temperature"),
    ({"best_of": 1, "n": 2}, 400, "best_of"),
    ({"include": ["Cat"]}, 400, "include"),
])
def test_each_bad_field_is_an_openai_error_naming_it(server, name, asked, status, param):
    body = {"model": name, "prompt": "the ", "max_tokens": 5, **asked}
    reply = httpx.post(server + "/v1/completions", json=body, timeout=30)
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["param"] == param and error["message"] and error["type"], error


def test_the_clients_errors_are_its_own_exceptions(client, name):
    with pytest.raises(openai.NotFoundError) as missing:
        client.completions.create(model="gpt-4", prompt="the ")
    assert missing.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model=name, prompt="the ", max_tokens=-1)


def test_the_key_is_taken_as_a_bearer_token(lm, charrnn_server):
    with charrnn_server(lm, api_key="s3cret-key", max_batch=2) as url:
        with openai.OpenAI(base_url=url + "/v1", api_key="s3cret-key", max_retries=0) as good:
            model = good.models.list().data[0].id
            assert good.completions.create(model=model, prompt="a", max_tokens=3).choices
        with openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0) as bad, \
                pytest.raises(openai.AuthenticationError) as refused:
            bad.models.list()
        assert refused.value.body["type"] == "authentication_error"
        plain = httpx.get(url + "/v1/model", headers={"Authorization": "Bearer s3cret-key"})
        assert plain.status_code == 200  # charrnn's own routes take it too


NODE_CLIENT = Path(__file__).parent / "node_openai"


def test_the_official_npm_client_works_unchanged(server, name, lm):
    """The `openai` npm package (installed by `npm ci` in tests/node_openai, which
    .ci/run does) run by Node against the server: completions, n with logprobs and a stop
    string, streaming, chat and its stream, and an unknown model's error."""
    import json
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None or not (NODE_CLIENT / "node_modules" / "openai").is_dir():
        pytest.skip("needs Node.js and the openai npm package (npm ci --prefix "
                    "tests/node_openai)")
    done = subprocess.run([node, str(NODE_CLIENT / "client.mjs"), server],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    expected = lm.sample(40, prime="the ", seed=3, temperature=0.8)
    assert found["model"] == name and found["text"] == found["streamed"] == expected
    assert found["reason"] == "length" and found["usage"]["completion_tokens"] == 40
    for choice, text in zip(found["several"], lm.samples(2, 20, prime="the ", seed=5,
                                                         temperature=1.0, stop=" "),
                            strict=True):
        assert choice["text"] == text.removesuffix(" ") == "".join(choice["tokens"])
        assert choice["reason"] == ("stop" if text.endswith(" ") else "length")
    chat = lm.sample(30, prime="the dog ", seed=4, temperature=1.0)
    assert found["chat"] == found["chatStreamed"] == chat
    assert found["missing"] == {"status": 404, "code": "model_not_found",
                                "type": "invalid_request_error"}


def test_unknown_fields_are_ignored_and_bad_messages_named(server, name):
    reply = httpx.post(server + "/v1/completions", timeout=30, json={
        "model": name, "prompt": "the ", "max_tokens": 5, "stream_options": None,
        "some_new_field": {"x": 1}})
    assert reply.status_code == 200 and len(reply.json()["choices"][0]["text"]) <= 5
    for messages in ([], [{"role": "robot", "content": "hi"}], [{"role": "system",
                                                                 "content": "hi"}],
                     [{"role": "user", "content": 5}], "the "):
        reply = httpx.post(server + "/v1/chat/completions", timeout=30,
                           json={"model": name, "messages": messages})
        assert reply.status_code == 400 and reply.json()["error"]["param"] == "messages"


def test_a_full_queue_is_429_with_retry_after(lm, charrnn_server):
    """One row, one place in the queue: a third request is refused as OpenAI's clients
    expect of an overloaded server (they retry on 429)."""
    import threading
    import time

    with charrnn_server(lm, max_batch=1, max_samples=1, max_waiting=1,
                        max_length=1_000_000) as url:
        body = {"prompt": "the ", "max_tokens": 1_000_000, "stream": True}
        with httpx.stream("POST", url + "/v1/completions", timeout=30, json=body) as first:
            lines = first.iter_lines()  # kept: a dropped iterator closes the connection
            next(lines)  # the only row is generating
            waiting = threading.Thread(target=httpx.post, args=(url + "/v1/completions",),
                                       kwargs={"json": {"prompt": "a", "max_tokens": 5},
                                               "timeout": 30})
            waiting.start()
            deadline = time.monotonic() + 10
            while httpx.get(url + "/health").json()["waiting"] < 1:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            refused = httpx.post(url + "/v1/completions", timeout=30,
                                 json={"prompt": "a", "max_tokens": 5})
        waiting.join()
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["type"] == "rate_limit_error"
