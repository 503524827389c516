"""Reading a request's fields: every malformed value becomes a `FieldError` that names
the field, so a client always learns what to fix (a 4xx answer, never a 500).

JSON bodies are strict: unknown fields are refused (a typo such as "temprature" would
otherwise be ignored silently), booleans are not numbers, and every number is bounded
by the server's limits (`ServeConfig`).
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from charrnn.config import (
    MAX_INCLUDED,
    MAX_NEW_WORDS,
    MAX_WORD,
    BeamConfig,
    Constraints,
    SampleConfig,
    ServeConfig,
)
from charrnn.decoding.batcher import Request
from charrnn.decoding.next_words import MAX_K
from charrnn.decoding.particles import MAX_PARTICLES, particles_for
from charrnn.errors import CharRNNError

MISSING = object()


class FieldError(Exception):
    """A request the server will not run: `status` (4xx, or 5xx when the server could
    not), `field` (or None), `message`."""

    def __init__(self, field: str | None, message: str, status: int = 400):
        super().__init__(message)
        self.field, self.message, self.status = field, message, status

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.field)


def error_body(message: str, field: str | None = None) -> dict[str, Any]:
    """Every error's JSON: `error` and `field` for charrnn's clients, and the same line
    in `message`, the field torch-rnn-server's clients (rnn-writer) show."""
    return {"error": message, "message": message, "field": field}


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (an empty body is an empty object)."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise FieldError(None, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise FieldError(None, "the body must be a JSON object")
    return data


class Fields:
    """Typed reads of one request's fields; `done()` refuses the fields nobody read."""

    def __init__(self, data: Mapping[str, Any]):
        self.data, self.read = data, set()

    def raw(self, name: str, default: Any) -> Any:
        """The field as sent (`default` where it is absent or null), read."""
        self.read.add(name)
        value = self.data.get(name, MISSING)
        return default if value is MISSING or value is None else value

    def text(self, name: str, default: str, limit: int) -> str:
        value = self.raw(name, default)
        if value is MISSING:
            raise FieldError(name, f"{name} is required")
        if not isinstance(value, str):
            raise FieldError(name, f"{name} must be a string")
        if len(value) > limit:
            raise FieldError(name, f"{name} must be at most {limit:,} characters, "
                                   f"not {len(value):,}", 413)
        _unicode(name, value)
        return value

    def integer(self, name: str, default: int | None, low: int, high: int) -> int | None:
        value = self.raw(name, default)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError(name, f"{name} must be an integer")
        if not low <= value <= high:
            raise FieldError(name, f"{name} must be between {low:,} and {high:,}, not {value}")
        return value

    def number(self, name: str, default: float | None, low: float, high: float,
               low_open: bool = False) -> float | None:
        value = self.raw(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FieldError(name, f"{name} must be a number")
        try:
            value = float(value)
        except OverflowError:  # an integer too large for a float
            value = math.inf
        if not math.isfinite(value) or not (low < value if low_open else low <= value) \
                or value > high:
            bound = f"({low}" if low_open else f"[{low}"
            raise FieldError(name, f"{name} must be in {bound}, {high}], not {value}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise FieldError(name, f"{name} must be true or false")
        return value

    def texts(self, name: str, limit: int, count: int = 16) -> list[str]:
        """A string or a list of strings (stop strings)."""
        value = self.raw(name, [])
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise FieldError(name, f"{name} must be a string or a list of strings")
        if len(values) > count:
            raise FieldError(name, f"{name} may hold at most {count} strings")
        for v in values:
            if len(v) > limit:
                raise FieldError(name, f"each {name} string must be at most {limit} characters")
            _unicode(name, v)
        return values

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise FieldError(unknown[0], f"unknown field {unknown[0]!r}; the fields are "
                                         f"{', '.join(sorted(self.read))}")


def _unicode(name: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldError(name, f"{name} is not valid Unicode (a lone surrogate)") from None


def library_error(exc: CharRNNError, names: Mapping[str, str] | None = None) -> FieldError:
    """A library error said in the request's terms: its field, by the request's own
    `names` for the library's (/generate's prime is its start_text)."""
    names = names or {}
    return FieldError(names.get(exc.field, exc.field),
                      exc.in_terms_of(lambda field: names.get(field, field)))


def checked(cfg):
    """A config validated by its own rules, each broken rule naming its field (the JSON
    fields are the config's field names)."""
    try:
        return cfg.validate()
    except CharRNNError as exc:
        raise FieldError(exc.field, str(exc)) from None


def _sample_options(f: Fields) -> SampleConfig:
    """The sampling fields, bounded by the server's limits and then by the library's
    own rules (the temperature's floor among them)."""
    default = SampleConfig()
    return checked(SampleConfig(
        temperature=f.number("temperature", default.temperature, 0.0, 100.0),
        top_k=f.integer("top_k", default.top_k, 1, 1_000_000),
        top_p=f.number("top_p", default.top_p, 0.0, 1.0, low_open=True),
        repetition_penalty=f.number("repetition_penalty", default.repetition_penalty, 1.0,
                                    100.0),
    ))


def sample_request(data: Mapping[str, Any], lm, limits: ServeConfig) -> tuple[Request, bool]:
    """POST /v1/sample: the generation asked for, and whether to stream it."""
    f = Fields(data)
    request = Request(
        prime=f.text("prime", "", limits.max_prime),
        length=f.integer("length", 200, 0, limits.max_length),
        options=_sample_options(f),
        seed=f.integer("seed", None, 0, 2**63 - 1),
        num_samples=f.integer("num_samples", 1, 1, limits.samples_limit),
        stop=f.texts("stop", 100),
        label=label_field(f),
        constraints=constraints_field(f),
    )
    asked = f.integer("particles", None, 1, MAX_PARTICLES)  # null: the library's default
    try:
        request.particles = particles_for(asked, request.options, bool(request.constraints),
                                          bool(request.stop), lm.vocab.end_id)
    except CharRNNError as exc:
        raise library_error(exc) from None
    stream = f.boolean("stream", False)
    f.done()  # (prime and stop are encoded once, by the batcher, which names the field)
    return request, stream


MAX_REQUEST_EXCLUDED = 1_000  # words a request may exclude (a file on the CLI may hold more)
MAX_RULE_TEXT = 10_000  # characters of a pattern, rhyme or acrostic field (their own,
#                         smaller bounds are the library's, said as a 400)


def constraints_field(f: Fields) -> Constraints:
    """What every text must hold (`Constraints`, checked by its own rules): include,
    exclude, ban_chars, in_order, ignore_case, pattern, words_only, new_words, and a
    verse form: syllables (a list of counts, or "5,7,5"), rhyme, acrostic."""
    default = Constraints()
    return checked(Constraints(
        include=tuple(f.texts("include", MAX_WORD, MAX_INCLUDED)),
        exclude=tuple(f.texts("exclude", MAX_WORD, MAX_REQUEST_EXCLUDED)),
        ban_chars=f.text("ban_chars", default.ban_chars, 1_000),
        in_order=f.boolean("in_order", default.in_order),
        ignore_case=f.boolean("ignore_case", default.ignore_case),
        pattern=f.text("pattern", default.pattern, MAX_RULE_TEXT),
        words_only=f.boolean("words_only", default.words_only),
        new_words=f.number("new_words", default.new_words, 0.0, MAX_NEW_WORDS),
        syllables=syllables_field(f),
        rhyme=f.text("rhyme", default.rhyme, MAX_RULE_TEXT),
        acrostic=f.text("acrostic", default.acrostic, MAX_RULE_TEXT)))


def syllables_field(f: Fields) -> tuple[int, ...]:
    """`syllables`: a list of whole numbers, or a string of them separated by commas
    ("5,7,5", as the command line takes it); their bounds are the library's."""
    value = f.raw("syllables", [])
    if isinstance(value, str) and len(value) <= MAX_RULE_TEXT:
        parts = [p.strip() for p in value.split(",")] if value.strip() else []
        if all(p.isascii() and p.isdigit() and len(p) <= 6 for p in parts):
            value = [int(p) for p in parts]
    if not isinstance(value, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in value):
        raise FieldError("syllables", "syllables takes whole numbers, as a list or "
                                      f"separated by commas like \"5,7,5\", not {value!r:.40}")
    return tuple(value)


def next_words_request(data: Mapping[str, Any], limits: ServeConfig) -> dict[str, Any]:
    """POST /v1/next_words: keyword arguments for `LanguageModel.next_words`."""
    f = Fields(data)
    options = {"prime": f.text("prime", "", limits.max_prime),
               "k": f.integer("k", 5, 1, MAX_K), "label": label_field(f)}
    f.done()  # (the prime is encoded once, by the library, which names the field)
    return options


def beam_request(data: Mapping[str, Any], lm, limits: ServeConfig) -> dict[str, Any]:
    """POST /v1/beam: keyword arguments for `LanguageModel.beam`."""
    f = Fields(data)
    width = f.integer("width", BeamConfig.width, 1, limits.max_width)
    options = {
        "prime": f.text("prime", "", limits.max_prime),
        "length": f.integer("length", 100, 0, min(limits.max_length, 1000)),
        "width": width,
        "n_best": f.integer("n_best", 1, 1, width),
        "stop": f.texts("stop", 100),
        "length_penalty": f.number("length_penalty", 0.0, -10.0, 10.0),
        "no_repeat_ngram": f.integer("no_repeat_ngram", 0, 0, 1000),
        "label": label_field(f),
    }
    f.done()  # (prime and stop are encoded once, by the library, which names the field)
    return options


def label_field(f: Fields) -> str | None:
    """The optional `label` of a model of labelled files (an unknown one is refused by
    the library, which lists the labels)."""
    return f.text("label", "", 200) or None


def classify_request(data: Mapping[str, Any], limits: ServeConfig) -> str:
    """POST /v1/classify: the text to classify."""
    f = Fields(data)
    text = f.text("text", MISSING, limits.max_prime)
    f.done()
    return text


def logprob_request(data: Mapping[str, Any], lm, limits: ServeConfig) -> dict[str, Any]:
    """POST /v1/logprob: the text to score and what precedes it."""
    f = Fields(data)
    options = {"text": f.text("text", MISSING, limits.max_prime),
               "prime": f.text("prime", "", limits.max_prime),
               "complete": f.boolean("complete", False), "label": label_field(f)}
    f.done()
    return options  # (text, prime and complete are checked once, by the library)


# Typed characters an editor puts in for plain ones (a curly quote typed as '): read as
# the plain one where the model knows it.
PLAIN = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
         "\u00ab": '"', "\u00bb": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-",
         "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " "}


@dataclass
class Respelled:
    """Text made spellable by a model: what was `replaced` (character -> its plain
    stand-in) and what was `dropped` (characters with none), each in order of first
    appearance."""

    text: str
    replaced: dict[str, str]
    dropped: str


def respell(vocab, text: str) -> Respelled:
    """`text` with the characters `vocab` never saw replaced by a plain stand-in it
    knows (a curly quote by a straight one, an accented letter by its base letter) or
    else dropped: an editor's suggestions then go on past a character the model cannot
    read, where refusing the request would stop them for the rest of the sentence."""
    replaced: dict[str, str] = {}
    dropped = []
    for char in vocab.unknown(text):
        stand_in = _plain(char)
        if stand_in and not vocab.unknown(stand_in):
            replaced[char] = stand_in
        else:
            dropped.append(char)
    if not replaced and not dropped:
        return Respelled(text, {}, "")
    table = {ord(c): r for c, r in replaced.items()} | {ord(c): None for c in dropped}
    return Respelled(text.translate(table), replaced, "".join(dropped))


def _plain(char: str) -> str:
    if char in PLAIN:
        return PLAIN[char]
    base = unicodedata.normalize("NFKD", char)
    return "".join(c for c in base if not unicodedata.combining(c)) if base != char else ""


def raw_query_value(query_string: bytes, name: str) -> str:
    """A query parameter's value exactly as it arrived, percent-encoding and all (the
    last one of that name, as Starlette reads it): torch-rnn-server echoed start_text
    so, and rnn-writer decodes the echo to match a reply with the text it sent."""
    value = ""
    for part in query_string.decode("latin-1").split("&"):
        key, _, raw = part.partition("=")
        if unquote_plus(key) == name:
            value = raw
    return value


def generate_query(params: Mapping[str, str], lm,
                   limits: ServeConfig) -> tuple[Request, Respelled]:
    """GET /generate?start_text=...&n=... (torch-rnn-server's API): `n` sentences
    continuing start_text, each ending at its first ".", "!" or "?" (as
    torch-rnn-server's do) or at 140 characters; and how start_text was respelled for
    the model (see `respell`)."""
    f = Fields(params)
    start = f.text("start_text", "", limits.max_prime)
    n = _query_number(f, "n", 1, int, 1, min(10, limits.samples_limit))
    temperature = _query_number(f, "temperature", 0.7, float, 0.0, 100.0)
    checked(SampleConfig(temperature))
    seed = _query_number(f, "seed", None, int, 0, 2**63 - 1)
    label = label_field(f)
    f.done()
    respelled = respell(lm.vocab, start)  # spellable now: encoded once, by the batcher
    stops = [s for s in (".", "!", "?") if lm.vocab.lookup(s).min() >= 0]
    return Request(prime=respelled.text, length=min(140, limits.max_length),
                   options=SampleConfig(temperature),
                   seed=seed, num_samples=n, stop=stops, label=label), respelled


def _query_number(f: Fields, name: str, default, kind, low, high):
    raw = f.raw(name, None)
    if raw is None:
        return default
    try:
        value = kind(raw)
        finite = math.isfinite(value)
    except (ValueError, OverflowError):
        raise FieldError(name, f"{name} must be {'an integer' if kind is int else 'a number'}"
                                f" between {low} and {high}") from None
    if not (finite and low <= value <= high):
        raise FieldError(name, f"{name} must be between {low} and {high}, not {raw}")
    return value
