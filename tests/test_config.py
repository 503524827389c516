import pytest

from charrnn.config import (
    DEFAULT_TIME_BUDGET,
    ModelConfig,
    TrainConfig,
    format_duration,
    parse_duration,
)
from charrnn.errors import CheckpointError, ConfigError


@pytest.mark.parametrize("text,seconds", [
    ("90s", 90), ("5m", 300), ("1h30m", 5400), ("2.5m", 150), ("45", 45), ("1h 2m 3s", 3723),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "5x", "-3m", "0s", "m"])
def test_bad_durations(text):
    with pytest.raises(ConfigError, match="time must"):
        parse_duration(text)


def test_format_duration():
    assert format_duration(245) == "4m05s"
    assert format_duration(3723) == "1h02m03s"


def test_default_budget_only_without_a_stop_rule():
    assert TrainConfig().budgeted.time_limit == DEFAULT_TIME_BUDGET
    assert TrainConfig(steps=5).budgeted.time_limit is None


@pytest.mark.parametrize("kwargs,flag", [
    ({"batch_size": 0}, "batch_size"), ({"lr": -1.0}, "lr"), ({"val_frac": 1.0}, "val_frac"),
    ({"steps": 0}, "steps"), ({"grad_clip": 0.0}, "grad_clip"),
])
def test_train_config_rejects_nonsense(kwargs, flag):
    with pytest.raises(ConfigError, match=flag):
        TrainConfig(**kwargs).validate()


def test_model_config_rejects_nonsense():
    with pytest.raises(ConfigError, match="model"):
        ModelConfig(model="transformer").validate()
    with pytest.raises(ConfigError, match="dropout"):
        ModelConfig(dropout=1.5).validate()


def test_round_trip_and_missing_field():
    config = ModelConfig(model="gru", vocab_size=7)
    assert ModelConfig.from_dict(config.to_dict()) == config
    data = config.to_dict()
    del data["hidden_size"]
    with pytest.raises(CheckpointError, match="hidden_size"):
        ModelConfig.from_dict(data)
