"""The OpenAI API's request bodies (`/v1/completions`, `/v1/chat/completions`) read into
charrnn's own generations.

OpenAI's fields keep their meaning where a character model can give it: `max_tokens`
counts characters, `n` texts a prompt, `stop` ends a text before the stop string,
`logprobs` asks for the top characters at each position. Unknown fields are ignored, as
OpenAI ignores them; a known one with a wrong type or out of bounds is a `FieldError`
naming it (said in OpenAI's error shape by `openai_api`). charrnn's own options go in as
extra fields: the constraints (`include`, `pattern`, ...), `particles`, `label`, `top_k`
and `repetition_penalty`.

A chat's messages become a prime by CHAT_TEMPLATE: a character model has no turns, so
the default is the last user message alone, which is what an editor's chat box holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from charrnn.config import SampleConfig, ServeConfig
from charrnn.decoding.batcher import Request
from charrnn.decoding.particles import MAX_PARTICLES, particles_for
from charrnn.decoding.sampling import MAX_BIAS
from charrnn.errors import CharRNNError
from charrnn.interface.serve.fields import (
    FieldError,
    Fields,
    checked,
    constraints_field,
    label_field,
    library_error,
    respell,
)

MAX_PROMPTS = 16  # prompts one completions request may hold (each n texts)
MAX_LOGPROBS = 20  # top characters per position that `logprobs` may ask for
MAX_STOPS = 4  # stop strings, as OpenAI allows
DEFAULT_MAX_TOKENS = 16  # OpenAI's default for completions
CHAT_ROLES = ("system", "user", "assistant", "developer", "tool")


@dataclass
class Completion:
    """One completions or chat request: a generation per prompt, and how to answer."""

    model: str
    prompts: list[str]  # each as sent (echo returns it; usage counts it)
    generations: list[Request]  # one per prompt, its prime the prompt's tail, respelled
    stream: bool = False
    logprobs: int | None = None  # top characters per position, None: none asked
    echo: bool = False
    best_of: int | None = None  # > n: the n likeliest of a beam this wide

    @property
    def n(self) -> int:
        return self.generations[0].num_samples


def completion_request(data: Mapping[str, Any], lm, limits: ServeConfig,
                       served: str) -> Completion:
    """POST /v1/completions."""
    f = Fields(data)
    model = _model(f, served)
    prompt = f.raw("prompt", "")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str)
                                                               for p in prompts):
        raise FieldError("prompt", "prompt must be a string or a list of strings (a "
                                   "character model reads text, not token ids)")
    if len(prompts) > MAX_PROMPTS:
        raise FieldError("prompt", f"prompt may hold at most {MAX_PROMPTS} strings")
    for p in prompts:
        _bounded_text("prompt", p, limits.max_body)
    _refused(f, "suffix", "suffix (filling in the middle) is not supported: send the text "
                          "before the gap as the prompt")
    logprobs = f.integer("logprobs", None, 0, MAX_LOGPROBS)
    echo = f.boolean("echo", False)
    generations = _generations(f, prompts, lm, limits, f.raw("max_tokens", None))
    best_of = f.integer("best_of", None, 1, limits.max_width)
    if best_of is not None and best_of < generations[0].num_samples:
        raise FieldError("best_of", "best_of must be at least n")
    if best_of is not None and best_of > 1 and generations[0].bias:
        raise FieldError("logit_bias", "logit_bias applies to sampling, not to best_of's "
                                       "beam search (which scores by the model alone)")
    stream = f.boolean("stream", False)
    if best_of is not None and best_of > 1 and stream:
        raise FieldError("best_of", "best_of cannot be streamed (the beam's texts are whole "
                                    "only at its end)")
    return Completion(model, prompts, generations, stream, logprobs, echo, best_of)


CHAT_TEMPLATE = "last user message"  # what a chat's messages become (the module doc)


def chat_request(data: Mapping[str, Any], lm, limits: ServeConfig, served: str) -> Completion:
    """POST /v1/chat/completions: the last user message is the prime."""
    f = Fields(data)
    model = _model(f, served)
    messages = f.raw("messages", None)
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and m.get("role") in CHAT_ROLES for m in messages):
        raise FieldError("messages", "messages must be a list of {role, content} objects, "
                                     f"each role one of {', '.join(CHAT_ROLES)}")
    users = [m for m in messages if m["role"] == "user"]
    if not users:
        raise FieldError("messages", "messages must hold a user message (its text is "
                                     "what the model continues)")
    prompt = _content(users[-1].get("content"))
    _bounded_text("messages", prompt, limits.max_body)
    if f.raw("logprobs", False) is not False:
        raise FieldError("logprobs", "logprobs is offered by /v1/completions, not by chat")
    tokens = f.raw("max_completion_tokens", None)
    generations = _generations(f, [prompt], lm, limits,
                               f.raw("max_tokens", None) if tokens is None else tokens,
                               "max_completion_tokens" if tokens is not None else "max_tokens")
    return Completion(model, [prompt], generations, f.boolean("stream", False))


def _content(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        texts = [p.get("text") for p in content if p.get("type") == "text"]
        if all(isinstance(t, str) for t in texts):
            return "".join(texts)
    raise FieldError("messages", "a message's content must be a string or a list of text "
                                 "parts")


def _model(f: Fields, served: str) -> str:
    """The model asked for: the served one's name (404 for any other)."""
    model = f.raw("model", served)
    if not isinstance(model, str):
        raise FieldError("model", "model must be a string")
    if model != served:
        raise FieldError("model", f"the model {model[:100]!r} does not exist: this server "
                                  f"serves {served!r} (GET /v1/models)", 404)
    return model


def _generations(f: Fields, prompts: list[str], lm, limits: ServeConfig, max_tokens: Any,
                 tokens_field: str = "max_tokens") -> list[Request]:
    """One batcher request per prompt, sharing the sampling fields."""
    length = _max_tokens(max_tokens, limits, tokens_field)
    for name in ("frequency_penalty", "presence_penalty"):
        _refused_unless_zero(f, name)
    bias = _logit_bias(f, len(lm.vocab.chars))
    options = checked(SampleConfig(
        temperature=f.number("temperature", 1.0, 0.0, 2.0),
        top_k=f.integer("top_k", None, 1, 1_000_000),
        top_p=_top_p(f),
        repetition_penalty=f.number("repetition_penalty", 1.0, 1.0, 100.0)))
    n = f.integer("n", 1, 1, limits.samples_limit)
    stop = f.texts("stop", 100, MAX_STOPS)
    seed = f.integer("seed", None, -(2**63), 2**63 - 1)
    label, constraints = label_field(f), constraints_field(f)
    asked = f.integer("particles", None, 1, MAX_PARTICLES)
    if bias and asked not in (None, 1):
        raise FieldError("particles", "logit_bias changes the model's distribution, which "
                                      "particles sample from: send one or the other")
    try:
        particles = 1 if bias else particles_for(asked, options, bool(constraints),
                                                 bool(stop), lm.vocab.end_id)
    except CharRNNError as exc:
        raise library_error(exc) from None
    return [Request(prime=respell(lm.vocab, prompt[-limits.max_prime:]).text, length=length,
                    options=options, seed=None if seed is None else seed % 2**63,
                    num_samples=n, stop=stop, label=label, constraints=constraints,
                    particles=particles, bias=bias)
            for prompt in prompts]


def _logit_bias(f: Fields, vocab_size: int) -> dict[int, float]:
    """OpenAI's logit_bias, keyed by character id (a character's index in /v1/models'
    vocabulary): each value, from -100 to 100, is added to that character's
    log-probability at every step."""
    bias = f.raw("logit_bias", None)
    if bias is None:
        return {}
    if not isinstance(bias, dict):
        raise FieldError("logit_bias", "logit_bias must map character ids to numbers")
    read = {}
    for key, value in bias.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) < vocab_size):
            raise FieldError("logit_bias", f"logit_bias: {key[:20]!r} is not a character id "
                                           f"of this model (0 to {vocab_size - 1}: a "
                                           "character's index in /v1/models' vocabulary)")
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not -MAX_BIAS <= value <= MAX_BIAS:
            raise FieldError("logit_bias", f"logit_bias: each value must be a number from "
                                           f"{-MAX_BIAS:g} to {MAX_BIAS:g}")
        read[int(key)] = float(value)
    return read


def _max_tokens(value: Any, limits: ServeConfig, name: str) -> int:
    if value is None:
        return min(DEFAULT_MAX_TOKENS, limits.max_length)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(name, f"{name} must be an integer (characters)")
    if not 0 <= value <= limits.max_length:
        raise FieldError(name, f"{name} must be between 0 and {limits.max_length:,} "
                               f"characters, not {value}")
    return value


def _top_p(f: Fields) -> float | None:
    top_p = f.number("top_p", 1.0, 0.0, 1.0, low_open=True)
    return None if top_p == 1.0 else top_p


def _refused(f: Fields, name: str, why: str) -> None:
    if f.raw(name, None) not in (None, ""):
        raise FieldError(name, why)


def _refused_unless_zero(f: Fields, name: str) -> None:
    value = f.number(name, 0.0, -2.0, 2.0)
    if value:
        raise FieldError(name, f"{name} is not supported by a character model (it counts "
                               "tokens); send repetition_penalty (above 1) instead")


def _bounded_text(name: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise FieldError(name, f"{name} must be at most {limit:,} characters", 413)
