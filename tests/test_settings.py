"""One declaration per setting: every command-line option that is a config field takes
its default from that field, every choice list is the one the library checks against,
and the server's request fields default as the library does. A test, so that any drift
in a name, a default or a choice fails here."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

from charrnn import config
from charrnn.config import (
    WEIGHTS,
    BeamConfig,
    DataConfig,
    ModelConfig,
    SampleConfig,
    ServeConfig,
    TrainConfig,
)
from charrnn.export import FORMATS
from charrnn.interface import decode_commands, serve_command, train_command
from charrnn.training import device, presets

COMMANDS = [  # (command function, the configs whose fields it exposes)
    (train_command.train, (ModelConfig, TrainConfig, DataConfig)),
    (decode_commands.sample, (SampleConfig,)),
    (decode_commands.beam, (BeamConfig,)),
    (serve_command.serve, (ServeConfig,)),
]
CHOICES = {  # option -> the list the library validates it against
    "level": config.LEVELS, "documents": config.DOCUMENTS,
    "batch_order": config.BATCH_ORDERS, "model": config.CELLS,
    "lr_schedule": config.SCHEDULES, "size": tuple(presets.SIZES),
    "weights": WEIGHTS, "device": device.DEVICES, "precision": device.PRECISIONS,
    "label_from": config.LABEL_FROM, "label_input": config.LABEL_INPUTS,
    "format": FORMATS,
}
# Options whose command-line default differs from the field's on purpose, and why.
CHOSEN_ELSEWHERE = {
    "width": "None: the beam's width follows --n-best when more are asked for",
    "cors_origin": "the repeatable form of cors_origins",
    "allowed_host": "the repeatable form of allowed_hosts",
    "api_key": "None, then CHARRNN_API_KEY",
}


def options(command) -> dict[str, tuple[typing.Any, typing.Any]]:
    """name -> (type annotation without its metadata, default) of a command's options."""
    hints = typing.get_type_hints(command, include_extras=True)
    found = {}
    for name, param in inspect.signature(command).parameters.items():
        hint = hints[name]
        found[name] = (typing.get_args(hint)[0] if typing.get_origin(hint)
                       is typing.Annotated else hint, param.default)
    return found


def literal_choices(annotation) -> tuple | None:
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is typing.Literal:
            return typing.get_args(arg)
    return None


@pytest.mark.parametrize(("command", "configs"), COMMANDS,
                         ids=[c.__name__ for c, _ in COMMANDS])
def test_every_option_that_is_a_field_defaults_as_the_field(command, configs):
    fields = {f.name: f for cfg in configs for f in dataclasses.fields(cfg)}
    drift = []
    for name, (_, default) in options(command).items():
        if name in fields and name not in CHOSEN_ELSEWHERE:
            field = fields[name]
            expected = field.default if field.default is not dataclasses.MISSING \
                else field.default_factory()
            if default != expected and default is not None:
                drift.append(f"--{name}: {default!r} on the command line, "
                             f"{expected!r} in the config")
    assert not drift, drift


def every_command():
    """The callback of every command the CLI has, sub-commands included."""
    from charrnn.interface.cli import app

    def walk(typer_app):
        for info in typer_app.registered_commands:
            yield info.callback
        for group in typer_app.registered_groups:
            yield from walk(group.typer_instance)

    return list(walk(app))


@pytest.mark.parametrize("command", every_command(), ids=lambda c: c.__name__)
def test_every_choice_list_is_the_librarys(command):
    for name, (annotation, _) in options(command).items():
        choices = literal_choices(annotation)
        if choices is not None:
            assert name in CHOICES, f"--{name} lists choices the library does not name"
            assert choices == tuple(CHOICES[name]), name


def test_the_servers_fields_default_as_the_library(lm):
    from charrnn.interface.serve.fields import beam_request, sample_request

    request, stream = sample_request({}, lm, ServeConfig())
    assert request.options == SampleConfig() and stream is False
    beam = beam_request({}, lm, ServeConfig())
    assert beam["width"] == BeamConfig().width and beam["n_best"] == BeamConfig().n_best
    assert beam["length_penalty"] == BeamConfig().length_penalty
    assert beam["no_repeat_ngram"] == BeamConfig().no_repeat_ngram


def test_a_message_names_other_settings_in_each_interfaces_terms(corpus_file, cli, one_error_line):
    """A rule about two settings names both: by field in Python, by flag on the
    command line."""
    from charrnn.errors import CharRNNError

    with pytest.raises(CharRNNError) as caught:
        config.ModelConfig(tie_weights=True, embed_size=32, hidden_size=64).validate()
    assert "`embed_size` (32) must equal `hidden_size` (64)" in str(caught.value)
    result = cli("train", str(corpus_file), "--tie-weights", "--embed-size", "32",
                 "--hidden-size", "64", "--steps", "1")
    line = one_error_line(result)
    assert "--embed-size (32) must equal --hidden-size (64)" in line and "`" not in line


def test_every_sampling_signature_defaults_as_the_config():
    """The Python API's sampling methods take their defaults from SampleConfig, so no
    signature can drift from `charrnn sample --help`."""
    from charrnn.api.language_model import LanguageModel
    from charrnn.decoding.session import Session

    expected = dataclasses.asdict(SampleConfig())
    methods = [LanguageModel.stream, LanguageModel.sample, LanguageModel.samples,
               Session.stream, Session.sample, Session.suggest]
    for method in methods:
        defaults = {name: p.default for name, p in inspect.signature(method).parameters.items()
                    if name in expected}
        assert defaults == expected, method.__qualname__
