"""Frozen configuration dataclasses: the only place defaults live, and their validation.

The CLI reads its option defaults from here, and checkpoints store these as JSON through
`to_dict` / `from_dict`, so `--help`, the Python API and saved runs cannot disagree.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from charrnn.errors import CheckpointError, ConfigError

CELLS = ("lstm", "gru", "rnn")
SCHEDULES = ("cosine", "linear", "constant")
LEVELS = ("char", "byte")
DOCUMENTS = ("lines", "paragraphs", "files")
LABEL_FROM = ("dirname", "filename", "tab")  # where a text's label comes from (--label-from)
LABEL_INPUTS = ("vector", "prefix", "adapter", "auto")  # how a label enters the network
#   (network.py); "auto", a fine-tune's default, is settled when the labels are counted
BATCH_ORDERS = ("length", "random", "packed")  # how --documents are grouped into batches
DEFAULT_TIME_BUDGET = 300.0  # seconds; used when no --steps, --epochs or --time is given
STOP_RULES = ("steps", "epochs", "time_limit")  # TrainConfig fields; the first reached wins
WEIGHTS = ("fp32", "fp16", "int8")  # precisions of a model's matrices: decoding and export
# Bounds on a model's shape, checked before anything is built (a checkpoint states its
# shape, so a crafted one could otherwise ask for gigabytes): docs/checkpoints.md.
MAX_HIDDEN = 8192  # units per layer
MAX_EMBED = 8192  # embedding size
MAX_LAYERS = 16  # stacked layers
MAX_LABELS = 10_000  # labels a model of labelled files may learn
MAX_ADAPTED_LABELS = 64  # labels with an output layer of their own (label_input "adapter")
MAX_VOCAB = 0x110000 + 1 + MAX_LABELS  # every code point, an end symbol and the labels

T = TypeVar("T")


class _JSONConfig:
    """to_dict / from_dict for the frozen configs; `section` names them in errors."""

    section = "config"
    legacy: ClassVar[dict[str, Any]] = {}  # fields added later -> the value older runs had

    def validate(self: T) -> T:
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], data: Any) -> T:
        """Rebuild from JSON, refusing missing or mistyped fields with one line."""
        what = cls.section  # type: ignore[attr-defined]
        if not isinstance(data, dict):
            raise CheckpointError(f"checkpoint {what} section is not an object")
        kwargs = {}
        legacy = cls.legacy  # type: ignore[attr-defined]
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            if field.name in data:
                kwargs[field.name] = data[field.name]
            elif field.name in legacy:  # added later: what runs before it behaved like
                kwargs[field.name] = legacy[field.name]
            else:
                raise CheckpointError(f"checkpoint {what} section lacks field '{field.name}'")
        try:
            return cls(**kwargs).validate()  # type: ignore[attr-defined]
        except (ConfigError, TypeError) as exc:
            raise CheckpointError(f"checkpoint {what} section is invalid: {exc}") from None


def _check(condition: bool, message: str) -> None:
    """Raise `message` unless `condition`; a message starts with the field it is about
    (by its field name: each interface says it in its own terms, see `CharRNNError`)."""
    if not condition:
        raise setting_error(message)


def check_weights(weights: str) -> str:
    """`weights`, if it is one of WEIGHTS; else the one-line error."""
    _check(weights in WEIGHTS, f"weights must be one of {', '.join(WEIGHTS)}, not {weights!r}")
    return weights


def setting_error(message: str) -> ConfigError:
    """A ConfigError whose `field` is the message's first word, when that is a name."""
    first = message.split(" ", 1)[0]
    return ConfigError(message, field=first if first.isidentifier() else None)


_HOST = re.compile(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+")  # a name, or an IPv4 or IPv6 address


def host_and_port(text: str) -> tuple[str, int | None]:
    """A `Host` header or an allowed host as (lower-case name, port or None):
    'example.org:8443', 'example.org', '[::1]:8080', '::1' (an IPv6 address has colons
    of its own, so a port follows one only in brackets). ValueError for anything else."""
    if text.startswith("["):
        name, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest or None
    else:
        name, port = text.split(":") if text.count(":") == 1 else (text, None)
    if not _HOST.fullmatch(name) or port is not None and not (
            port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"not a host name, address or host:port: {text!r}")
    return name.lower(), None if port is None else int(port)


def _is_host(text: str) -> bool:
    try:
        return bool(host_and_port(text))
    except ValueError:
        return False


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class ModelConfig(_JSONConfig):
    """Shape of the network: embedding -> stacked RNN cell -> linear head."""

    section = "model"

    model: str = "lstm"  # the recurrent cell: lstm, gru or rnn (--model)
    hidden_size: int = 384
    num_layers: int = 1
    embed_size: int = 64
    dropout: float = 0.1
    weight_drop: float = 0.0  # training only: dropout on the recurrent weight matrices
    tie_weights: bool = False
    label_input: str = "vector"  # labelled files: a learned vector at every step (and with
    #                              "adapter" an output layer correction), or prefix
    vocab_size: int = 0  # filled in from the corpus
    label_count: int = 0  # filled in from the corpus: its labels (the last ids of its vocab)

    legacy: ClassVar[dict[str, Any]] = {"tie_weights": False, "weight_drop": 0.0,
                                        "label_input": "vector", "label_count": 0}

    def validate(self) -> ModelConfig:
        _check(self.model in CELLS,
               f"model must be one of {', '.join(CELLS)}, not {self.model!r}")
        _check(_is_int(self.hidden_size) and 1 <= self.hidden_size <= MAX_HIDDEN,
               f"hidden_size must be between 1 and {MAX_HIDDEN}, not {self.hidden_size!r}")
        _check(_is_int(self.num_layers) and 1 <= self.num_layers <= MAX_LAYERS,
               f"num_layers must be between 1 and {MAX_LAYERS}, not {self.num_layers!r}")
        _check(_is_int(self.embed_size) and 1 <= self.embed_size <= MAX_EMBED,
               f"embed_size must be between 1 and {MAX_EMBED}, not {self.embed_size!r}")
        _check(
            _is_number(self.dropout) and 0.0 <= self.dropout < 1.0,
            f"dropout must be in [0, 1), not {self.dropout}",
        )
        _check(_is_number(self.weight_drop) and 0.0 <= self.weight_drop < 1.0,
               f"weight_drop must be in [0, 1), not {self.weight_drop}")
        _check(_is_int(self.vocab_size) and 0 <= self.vocab_size <= MAX_VOCAB,
               f"vocab_size must be between 0 and {MAX_VOCAB}")
        _check(self.label_input in LABEL_INPUTS, f"label_input must be one of "
               f"{', '.join(LABEL_INPUTS)}, not {self.label_input!r}")
        _check(_is_int(self.label_count) and 0 <= self.label_count
               <= min(max(self.vocab_size - 1, 0), MAX_LABELS),
               f"label_count must be between 0 and `vocab_size` - 1 (at most {MAX_LABELS})")
        _check(self.label_input != "auto" or self.label_count == 0,
               "label_input auto is settled before a network is built (a saved model "
               "states vector, adapter or prefix)")
        _check(self.label_input != "adapter" or self.label_count <= MAX_ADAPTED_LABELS,
               f"label_input adapter gives each label an output layer of its own: at most "
               f"{MAX_ADAPTED_LABELS} labels, not {self.label_count}")
        _check(isinstance(self.tie_weights, bool), "tie_weights must be true or false")
        _check(not self.tie_weights or self.embed_size == self.hidden_size,
               f"tie_weights shares the embedding with the output head, so `embed_size` "
               f"({self.embed_size}) must equal `hidden_size` ({self.hidden_size})")
        return self


@dataclass(frozen=True)
class DataConfig(_JSONConfig):
    """How a file becomes training ids: decoding, token level, newlines, validation size.

    `level` "char" uses Unicode code points; "byte" uses the 256 byte values, so any file
    at all can be trained on. `val_max_chars` caps the validation tail so evaluating a
    huge corpus stays quick (the text before it is all training text). `documents`
    makes the corpus a list of texts, each learned from the start (`data/documents.py`).
    """

    section = "data"

    encoding: str = "utf-8"
    level: str = "char"
    keep_newlines: bool = False
    val_max_chars: int = 1_000_000
    documents: str | None = None  # "lines", "paragraphs" or "files": a list of texts
    label_from: str | None = None  # many files: a label per file from its folder or name
    weights: tuple[str, ...] = ()  # many files: "PATTERN=WEIGHT", how often files are drawn
    strict: bool = False  # many files: refuse an unreadable file instead of skipping it

    legacy: ClassVar[dict[str, Any]] = {"documents": None, "label_from": None, "weights": (),
                                        "strict": False}

    def __post_init__(self) -> None:
        if isinstance(self.weights, list):  # as JSON gives it back
            object.__setattr__(self, "weights", tuple(self.weights))

    def validate(self) -> DataConfig:
        _check(self.level in LEVELS,
               f"level must be one of {', '.join(LEVELS)}, not {self.level!r}")
        _check(isinstance(self.encoding, str) and _known_encoding(self.encoding),
               f"encoding {self.encoding!r} is not a text encoding Python knows")
        _check(isinstance(self.keep_newlines, bool), "keep_newlines must be true or false")
        _check(_is_int(self.val_max_chars) and self.val_max_chars >= 2,
               "val_max_chars must be >= 2")
        _check(self.documents is None or self.documents in DOCUMENTS,
               f"documents must be one of {', '.join(DOCUMENTS)}, not {self.documents!r}")
        _check(self.label_from is None or self.label_from in LABEL_FROM,
               f"label_from must be one of {', '.join(LABEL_FROM)}, not {self.label_from!r}")
        _check(self.label_from != "tab" or self.documents == "lines",
               "label_from tab reads LABEL<TAB>text lines, each a document: it needs "
               "`documents` lines")
        _check(isinstance(self.weights, tuple) and all(isinstance(w, str) and "=" in w
                                                       for w in self.weights),
               "weights must each look like PATTERN=WEIGHT, e.g. 'letters/*=3'")
        _check(isinstance(self.strict, bool), "strict must be true or false")
        return self


def _known_encoding(name: str) -> bool:
    import codecs

    try:
        return codecs.lookup(name)._is_text_encoding  # type: ignore[attr-defined]
    except LookupError:
        return False


@dataclass(frozen=True)
class TrainConfig(_JSONConfig):
    """How to train: data layout, optimiser, evaluation cadence and when to stop.

    Stop rules: `steps` is the run's total step count, `epochs` passes over the training
    text, `time_limit` seconds of wall clock; whichever ends first wins. With none of
    them the run gets DEFAULT_TIME_BUDGET seconds.
    """

    section = "train"

    batch_size: int = 32
    seq_len: int = 64
    batch_order: str = "length"  # --documents: batches of similar length, or of random ones
    bptt_steps: int | None = None  # K2: how far back a gradient flows in a window; None: all
    lr: float = 5e-3
    lr_schedule: str = "cosine"
    min_lr_frac: float = 0.1
    warmup_steps: int = 20
    weight_decay: float = 0.1
    ema: float = 0.0  # decay of the weights' moving average that is evaluated; 0: none
    grad_clip: float = 1.0
    val_frac: float = 0.05
    eval_every: int = 500
    log_every: int = 50
    patience: int | None = None  # evaluations without a new best before stopping
    checkpoint_every: int | None = None  # None: at each evaluation
    samples: bool = True  # a short sample (per label) at each evaluation
    steps: int | None = None
    epochs: float | None = None
    time_limit: float | None = None
    seed: int = 1234

    legacy: ClassVar[dict[str, Any]] = {"weight_decay": 0.0, "log_every": 50, "patience": None,
                                        "ema": 0.0, "bptt_steps": None, "batch_order": "length",
                                        "samples": True, "lr_schedule": "cosine",
                                        "checkpoint_every": None}

    def validate(self) -> TrainConfig:
        _check(_is_int(self.batch_size) and self.batch_size >= 1, "batch_size must be >= 1")
        _check(_is_int(self.seq_len) and self.seq_len >= 1, "seq_len must be >= 1")
        _check(self.bptt_steps is None or (_is_int(self.bptt_steps)
                                           and 1 <= self.bptt_steps <= self.seq_len),
               f"bptt_steps must be between 1 and `seq_len` ({self.seq_len}), "
               f"not {self.bptt_steps}")
        _check(_is_number(self.lr) and self.lr > 0, f"lr must be > 0, not {self.lr}")
        _check(
            _is_number(self.min_lr_frac) and 0 <= self.min_lr_frac <= 1,
            f"min_lr_frac must be in [0, 1], not {self.min_lr_frac}",
        )
        _check(_is_int(self.warmup_steps) and self.warmup_steps >= 0, "warmup_steps must be >= 0")
        _check(
            _is_number(self.grad_clip) and self.grad_clip > 0,
            f"grad_clip must be > 0, not {self.grad_clip}",
        )
        _check(
            _is_number(self.val_frac) and 0 < self.val_frac < 1,
            f"val_frac must be between 0 and 1 (exclusive), not {self.val_frac}",
        )
        _check(_is_int(self.eval_every) and self.eval_every >= 1, "eval_every must be >= 1")
        _check(_is_int(self.log_every) and self.log_every >= 1, "log_every must be >= 1")
        _check(_is_number(self.weight_decay) and 0 <= self.weight_decay < float("inf"),
               f"weight_decay must be >= 0, not {self.weight_decay}")
        _check(_is_number(self.ema) and 0 <= self.ema < 1,
               f"ema must be in [0, 1), not {self.ema}")
        _check(self.patience is None or (_is_int(self.patience) and self.patience >= 1),
               f"patience must be >= 1, not {self.patience}")
        _check(self.checkpoint_every is None
               or (_is_int(self.checkpoint_every) and self.checkpoint_every >= 1),
               "checkpoint_every must be >= 1")
        _check(isinstance(self.samples, bool), "samples must be true or false")
        _check(self.batch_order in BATCH_ORDERS, f"batch_order must be one of "
               f"{', '.join(BATCH_ORDERS)}, not {self.batch_order!r}")
        _check(self.lr_schedule in SCHEDULES,
               f"lr_schedule must be one of {', '.join(SCHEDULES)}, not {self.lr_schedule!r}")
        _check(
            self.steps is None or (_is_int(self.steps) and self.steps >= 1),
            f"steps must be >= 1, not {self.steps}",
        )
        _check(
            self.epochs is None or (_is_number(self.epochs) and self.epochs > 0),
            f"epochs must be > 0, not {self.epochs}",
        )
        _check(
            self.time_limit is None or (_is_number(self.time_limit) and self.time_limit > 0),
            "time must be a positive duration",
        )
        _check(_is_int(self.seed), "seed must be an integer")
        return self

    @property
    def budgeted(self) -> TrainConfig:
        """This config with the default time budget filled in when no stop rule is set."""
        if all(getattr(self, rule) is None for rule in STOP_RULES):
            return dataclasses.replace(self, time_limit=DEFAULT_TIME_BUDGET)
        return self


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s|ms)?")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, None: 1.0}


def parse_duration(text: str) -> float:
    """'90s', '5m', '1h30m', '2.5m' or a bare number of seconds -> seconds."""
    cleaned = text.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    while pos < len(cleaned):
        match = _DURATION.match(cleaned, pos)
        if not match or match.end() == pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not cleaned or pos != len(cleaned) or total <= 0:
        raise setting_error(f"time must look like 90s, 5m or 1h30m, not {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """Seconds -> '4m05s' for messages."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


# The smallest temperature above 0 (greedy): far smaller ones overflow the tempered
# float32 logits, and 0.001 already draws the likeliest character all but always.
MIN_TEMPERATURE = 1e-3


@dataclass(frozen=True)
class Bound:
    """The numbers a setting may take, as data: `check` holds a value to it here, and an
    exported model carries it (`to_dict`, in its manifest) so that the JavaScript runtime
    refuses what Python refuses, with the same words."""

    words: str  # what the message says after the setting's name: "must be >= 1"
    low: float | None = None  # at least this
    above: float | None = None  # more than this
    high: float | None = None  # at most this
    whole: bool = False  # an integer
    finite: bool = False  # not infinity
    unset: bool = False  # None (no limit) is allowed
    zero: bool = False  # 0 is allowed besides the range (temperature: greedy)

    def holds(self, value: Any) -> bool:
        if value is None:
            return self.unset
        if not (_is_int(value) if self.whole else _is_number(value)):
            return False
        if self.zero and value == 0:
            return True
        return ((self.low is None or value >= self.low)
                and (self.above is None or value > self.above)
                and (self.high is None or value <= self.high)
                and not (self.finite and not math.isfinite(value)))

    def check(self, name: str, value: Any) -> None:
        _check(self.holds(value), f"{name} {self.words}, not {value}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# What SampleConfig.validate holds each field to (and an exported model's runtime too)
SAMPLE_BOUNDS = {
    "temperature": Bound(f"must be 0 (greedy) or at least {MIN_TEMPERATURE}",
                         low=MIN_TEMPERATURE, finite=True, zero=True),
    "top_k": Bound("must be >= 1", low=1, whole=True, unset=True),
    "top_p": Bound("must be in (0, 1]", above=0, high=1, unset=True),
    "repetition_penalty": Bound("must be >= 1", low=1),
}
LENGTH = Bound("must be a whole number >= 0", low=0, whole=True)  # characters to write
NUM_SAMPLES = Bound("must be a whole number >= 1", low=1, whole=True)  # texts one request draws
WRITING_LENGTH = 200  # characters a writing page (served or exported) writes unless told


@dataclass(frozen=True)
class SampleConfig(_JSONConfig):
    """How sampling picks each next character.

    The model's log-probabilities are adjusted in this order: repetition penalty
    (characters already in the prime or the text are made less likely), temperature
    (0 means greedy), top-k, then top-p (nucleus) on the tempered distribution.
    """

    section = "sample"

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float = 1.0

    def validate(self) -> SampleConfig:
        for name, bound in SAMPLE_BOUNDS.items():
            bound.check(name, getattr(self, name))
        return self


MAX_INCLUDED = 32  # words a text must hold
MAX_EXCLUDED = 100_000  # words it must not (an --exclude-file may list many)
MAX_WORD = 64  # characters in one such word
MAX_PATTERN = 1000  # characters in a pattern
MAX_NEW_WORDS = 0.5  # the largest share of new words words_only may allow
MAX_LINES = 64  # lines of a verse form
MAX_SYLLABLES = 30  # syllables in one of its lines


def is_word_char(c: str) -> bool:
    """A character of a word, as constraints count whole words: a letter, a digit or an
    apostrophe."""
    return c.isalnum() or c == "'"


@dataclass(frozen=True)
class Constraints:
    """What a generated text must hold (`charrnn.decoding.constraints` keeps it): each of
    `include` as a whole word (`in_order`: in the order given), none of `exclude`, no
    character of `ban_chars` (`ignore_case`: in either case, for all three); a `pattern` (a Python
    regular expression) the whole text matches; only words of the model's corpus
    (`words_only`; `new_words`: at most that share of the words may be others); and a
    verse form: lines of `syllables`, line ends that rhyme by `rhyme` (letters: "ABAB"),
    lines that start with the letters of `acrostic`. The default constrains nothing.
    Bounds: MAX_INCLUDED, MAX_EXCLUDED words of at most MAX_WORD characters, a pattern of
    MAX_PATTERN characters, MAX_LINES lines of at most MAX_SYLLABLES syllables."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ban_chars: str = ""
    in_order: bool = False
    ignore_case: bool = False
    pattern: str = ""
    words_only: bool = False
    new_words: float = 0.0
    syllables: tuple[int, ...] = ()
    rhyme: str = ""
    acrostic: str = ""

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude or self.ban_chars or self.pattern
                    or self.words_only or self.syllables or self.rhyme or self.acrostic)

    def to_dict(self) -> dict[str, Any]:
        """The fields set (a JSON record shows what was asked, not every default)."""
        return {f.name: list(v) if isinstance(v, tuple) else v
                for f in dataclasses.fields(self) if (v := getattr(self, f.name)) != f.default}

    def validate(self) -> Constraints:
        for name, words, most in (("include", self.include, MAX_INCLUDED),
                                  ("exclude", self.exclude, MAX_EXCLUDED)):
            _check(len(words) <= most, f"{name} takes at most {most:,} words, not "
                   f"{len(words):,}")
            for word in words:
                _check(isinstance(word, str) and 0 < len(word) <= MAX_WORD
                       and all(map(is_word_char, word)),
                       f"{name} takes whole words of 1 to {MAX_WORD} letters, digits or "
                       f"apostrophes, not {word!r}")
        _check(isinstance(self.ban_chars, str) and len(self.ban_chars) <= 10_000,
               "ban_chars takes a string of at most 10,000 characters")
        _check(isinstance(self.pattern, str) and len(self.pattern) <= MAX_PATTERN,
               f"pattern takes a regular expression of at most {MAX_PATTERN:,} characters")
        _check(_is_number(self.new_words) and 0 <= self.new_words <= MAX_NEW_WORDS,
               f"new_words takes a share between 0 and {MAX_NEW_WORDS}, not "
               f"{self.new_words!r}")
        _check(not self.new_words or self.words_only,
               "new_words is the share of new words that words_only allows: ask for "
               "words_only too")
        _check(len(self.syllables) <= MAX_LINES and all(
            _is_int(n) and 1 <= n <= MAX_SYLLABLES for n in self.syllables),
            f"syllables takes at most {MAX_LINES} lines of 1 to {MAX_SYLLABLES} syllables, "
            f"not {','.join(map(str, self.syllables))}")
        for name, letters in (("rhyme", self.rhyme), ("acrostic", self.acrostic)):
            _check(isinstance(letters, str) and len(letters) <= MAX_LINES
                   and all(c.isalpha() for c in letters),
                   f"{name} takes at most {MAX_LINES} letters, not {letters!r}")
        return self


@dataclass(frozen=True)
class BeamConfig(_JSONConfig):
    """Beam search: `width` beams per step, the `n_best` best returned.

    Finished beams (reaching the length, or producing a stop string) are ranked by
    log-prob / length^length_penalty; `no_repeat_ngram` N > 0 forbids a beam to repeat
    any character N-gram of its text (the prime included).
    """

    section = "beam"

    width: int = 8
    n_best: int = 1
    length_penalty: float = 0.0
    no_repeat_ngram: int = 0

    def validate(self) -> BeamConfig:
        _check(_is_int(self.width) and self.width >= 1, f"width must be >= 1, not {self.width}")
        _check(_is_int(self.n_best) and 1 <= self.n_best <= self.width,
               f"n_best must be between 1 and `width` ({self.width}), not {self.n_best}")
        _check(_is_number(self.length_penalty) and abs(self.length_penalty) < float("inf"),
               "length_penalty must be a number")
        _check(_is_int(self.no_repeat_ngram) and self.no_repeat_ngram >= 0,
               f"no_repeat_ngram must be >= 0, not {self.no_repeat_ngram}")
        return self


@dataclass(frozen=True)
class ServeConfig(_JSONConfig):
    """`charrnn serve`: where it listens, who may call it, and the limits that keep one
    client from taking the server (each stated in `--help`).

    `max_batch` rows are generated together (one batched step per character; one
    request's `num_samples` take that many rows, so at most `max_batch` of them);
    `max_waiting` more requests may queue before the server answers 503. `api_key` (or
    CHARRNN_API_KEY) makes every request show it in an x-api-key header;
    `cors_origins` are the other sites whose pages may call the server from a browser;
    `allowed_hosts` are more names clients may address it by (its `Host` header; with a
    port, that port only; "*": any). `show_paths` lets `/v1/model` show the
    checkpoint's and corpus's paths, not only their names.
    """

    section = "serve"

    host: str = "127.0.0.1"
    port: int = 8080
    max_batch: int = 32
    max_waiting: int = 64
    max_length: int = 2000
    max_samples: int = 16
    max_prime: int = 10_000
    max_body: int = 65_536
    max_width: int = 32
    grace: float = 5.0
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    show_paths: bool = False

    def validate(self) -> ServeConfig:
        _check(_is_int(self.port) and 0 <= self.port <= 65535,
               f"port must be between 0 and 65535, not {self.port}")
        for name in ("max_batch", "max_waiting", "max_length", "max_samples", "max_prime",
                     "max_body", "max_width"):
            value = getattr(self, name)
            _check(_is_int(value) and value >= 1,
                   f"{name} must be >= 1, not {value}")
        _check(_is_number(self.grace) and 0 <= self.grace < 3600,
               f"grace must be between 0 and 3600 seconds, not {self.grace}")
        _check(self.api_key is None or len(self.api_key) >= 8,
               "api_key must be at least 8 characters")
        for origin in self.cors_origins:
            _check(re.fullmatch(r"https?://[^/\s]+", origin) is not None,
                   f"cors_origin must look like https://example.org, not {origin!r}")
        for name in self.allowed_hosts:
            _check(name == "*" or _is_host(name),
                   f"allowed_host must be a host name or address such as example.org, "
                   f"with a port (1-65535) to match that port only, such as "
                   f"example.org:8443 (no scheme or path), or *, not {name!r}")
        return self

    @property
    def samples_limit(self) -> int:
        """The most samples one request may ask for."""
        return min(self.max_samples, self.max_batch)
