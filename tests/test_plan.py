"""Run planning in the library: `charrnn.train(...)` from Python and `charrnn train` on the
command line reach the same configs, presets and resume rules through `plan_run`."""

import dataclasses

import pytest

import charrnn
from charrnn.config import DataConfig, ModelConfig, TrainConfig
from charrnn.errors import CharRNNError, ConfigError
from charrnn.model import checkpoint, runs
from charrnn.training.plan import plan_run
from charrnn.training.presets import SIZES, size_for_budget


def saved_configs(run_dir):
    meta = checkpoint.load(run_dir / runs.LATEST).meta
    return {section: meta[section] for section in ("model", "train", "data")}


@pytest.fixture
def two_threads(monkeypatch):
    """The size a budget buys depends on the thread count: pin it for both sides."""
    import torch

    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)


@pytest.fixture
def large_corpus_rules(monkeypatch):
    """The budget's own presets, as for a corpus too large to be read many times over."""
    from charrnn.training import presets

    monkeypatch.setattr(presets, "SMALL_CORPUS", 0)


def test_python_and_the_cli_train_with_the_same_configs(corpus_file, tmp_path, two_threads,
                                                        cli, large_corpus_rules):
    trained = cli("train", corpus_file, "--time", "3s", "--eval-every", "5",
                  "--out", tmp_path / "cli")
    assert trained.exit_code == 0, trained.output
    result = charrnn.train(corpus_file, time="3s", eval_every=5, out=tmp_path / "python")
    assert result.run_dir == tmp_path / "python" and result.steps > 0
    from_cli, from_python = saved_configs(tmp_path / "cli"), saved_configs(tmp_path / "python")
    assert from_python == from_cli
    assert from_python["model"]["hidden_size"] == SIZES[size_for_budget(3, 2)]["hidden_size"]
    assert from_python["train"]["time_limit"] == 3.0


def test_python_resumes_the_way_the_cli_does(corpus_file, tmp_path):
    out = tmp_path / "run"
    charrnn.train(corpus_file, steps=6, size="tiny", hidden_size=24, seq_len=16,
                  batch_size=4, eval_every=3, out=out)
    result = charrnn.train(corpus_file, steps=10, resume=True, out=out)  # settings inherited
    assert result.steps == 10
    configs = saved_configs(out)
    assert configs["model"]["hidden_size"] == 24 and configs["train"]["seq_len"] == 16
    with pytest.raises(CharRNNError, match="contradicts the run being resumed"):
        charrnn.train(corpus_file, steps=12, resume=True, hidden_size=32, out=out)
    with pytest.raises(CharRNNError, match="already holds a trained run"):
        charrnn.train(corpus_file, steps=12, out=out)


def test_a_budget_buys_its_preset_and_explicit_settings_win(corpus_file, two_threads,
                                                           large_corpus_rules):
    plan = plan_run(corpus_file, time="90s")
    assert plan.size == size_for_budget(90, 2)
    assert plan.model.hidden_size == SIZES[plan.size]["hidden_size"]
    assert plan.train.time_limit == 90.0
    plan = plan_run(corpus_file, time="90s", hidden_size=40, lr=0.002)
    assert plan.model.hidden_size == 40 and plan.train.lr == 0.002
    assert plan.model.embed_size == SIZES[plan.size]["embed_size"]
    assert plan_run(corpus_file, steps=5).size == "medium"  # no time budget
    assert plan_run(corpus_file).train.time_limit is None  # the loop fills in the default
    assert plan_run(corpus_file).size == size_for_budget(TrainConfig().budgeted.time_limit, 2)


def test_the_medium_preset_is_the_config_defaults():
    medium, model, train = SIZES["medium"], ModelConfig(), TrainConfig()
    assert all(getattr(model if hasattr(model, k) else train, k) == v for k, v in medium.items())


def test_the_default_run_folder_is_named_after_the_corpus_and_never_reused(corpus_file):
    plan = plan_run(corpus_file, steps=2, batch_size=4, seq_len=16, hidden_size=16)
    assert plan.run_dir == runs.DEFAULT_ROOT / "play" and plan.resume is None
    charrnn.train(corpus_file, steps=2, batch_size=4, seq_len=16, hidden_size=16)
    assert plan_run(corpus_file, steps=2).run_dir == runs.DEFAULT_ROOT / "play-2"
    resumed = plan_run(corpus_file, steps=4, resume=True)
    assert resumed.run_dir == runs.DEFAULT_ROOT / "play" and resumed.resume is not None


def test_overwrite_is_planned_but_nothing_is_removed_before_training(corpus_file, tmp_path):
    out = tmp_path / "run"
    charrnn.train(corpus_file, steps=2, batch_size=4, seq_len=16, hidden_size=16, out=out)
    plan = plan_run(corpus_file, steps=2, out=out, overwrite=True)
    assert plan.replaces_run and runs.has_run(out)  # planning reads, never writes
    with pytest.raises(CharRNNError, match="not found"):
        charrnn.train(tmp_path / "missing.txt", steps=2, out=out, overwrite=True)
    assert runs.has_run(out)  # a bad corpus costs the earlier run nothing


@pytest.mark.parametrize("options,message", [
    ({"hiden_size": 3}, "unknown setting 'hiden_size'"),
    ({"time": "soon"}, "time must look like"),
    ({"size": "huge"}, "size must be one of"),
    ({"hidden_size": 0}, "hidden_size must be between 1 and 8192"),
    ({"hidden_size": 20000}, "hidden_size must be between 1 and 8192"),
])
def test_nonsense_settings_are_one_line(corpus_file, options, message):
    with pytest.raises(ConfigError, match=message):
        plan_run(corpus_file, **options)


def test_every_config_field_is_a_setting():
    from charrnn.training.plan import SETTINGS

    fields = {f.name for cls in (DataConfig, ModelConfig, TrainConfig)
              for f in dataclasses.fields(cls)}
    assert fields - {"vocab_size", "label_count"} == SETTINGS  # both read off the corpus
