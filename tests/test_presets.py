"""Size presets: --size, explicit flags over a preset, and the default size for a budget."""

import pytest

from charrnn.model import checkpoint, runs
from charrnn.training.presets import SIZES, size_for_budget


def trained_model(run_dir):
    return checkpoint.load(run_dir / runs.LATEST).meta


def test_longer_budgets_and_more_cores_buy_larger_models():
    order = list(SIZES)
    picks = [order.index(size_for_budget(s, 2)) for s in (30, 158, 600, 1800, 7200)]
    assert picks == sorted(picks) and picks[0] < picks[-1]
    assert size_for_budget(30, 2) == "tiny"
    assert size_for_budget(600, 2) == "large" and size_for_budget(1800, 2) == "xl"
    assert order.index(size_for_budget(158, 8)) > order.index(size_for_budget(158, 2))


def test_size_flag_sets_the_preset_and_explicit_flags_win(corpus_file, tmp_path, cli):
    result = cli("train", corpus_file, "--steps", "3", "--size", "tiny", "--out", tmp_path / "a")
    assert result.exit_code == 0, result.output
    meta = trained_model(tmp_path / "a")
    assert meta["model"]["hidden_size"] == SIZES["tiny"]["hidden_size"]
    assert meta["train"]["lr"] == SIZES["tiny"]["lr"]
    result = cli("train", corpus_file, "--steps", "3", "--size", "tiny", "--hidden-size", "40",
                 "--lr", "0.002", "--out", tmp_path / "b")
    assert result.exit_code == 0, result.output
    meta = trained_model(tmp_path / "b")
    assert meta["model"]["hidden_size"] == 40 and meta["train"]["lr"] == 0.002
    assert meta["model"]["embed_size"] == SIZES["tiny"]["embed_size"]
    result = cli("train", corpus_file, "--steps", "1", "--size", "large", "--hidden-size",
                 "16", "--out", tmp_path / "c")  # presets carry the decay floor too
    assert trained_model(tmp_path / "c")["train"]["min_lr_frac"] == SIZES["large"]["min_lr_frac"]
    result = cli("train", corpus_file, "--steps", "1", "--size", "xl", "--hidden-size", "16",
                 "--out", tmp_path / "d")  # the long-budget preset stacks two layers
    assert result.exit_code == 0, result.output
    assert trained_model(tmp_path / "d")["model"]["num_layers"] == SIZES["xl"]["num_layers"] == 2


@pytest.mark.parametrize("args,expected", [
    (["--time", "3s"], size_for_budget(3, 2)),
    (["--steps", "3"], "medium"),
])
def test_default_size_follows_the_budget(corpus_file, tmp_path, monkeypatch, args, expected, cli):
    import torch

    from charrnn.training import presets

    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(presets, "SMALL_CORPUS", 0)  # the play stands in for a large corpus
    result = cli("train", corpus_file, *args, "--eval-every", "5", "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert trained_model(tmp_path / "r")["model"]["hidden_size"] == SIZES[expected]["hidden_size"]


def test_resume_with_another_size_is_refused(corpus_file, tmp_path, cli, one_error_line):
    out = tmp_path / "r"
    assert cli("train", corpus_file, "--steps", "3", "--size", "tiny", "--out", out).exit_code == 0
    resumed = cli("train", corpus_file, "--steps", "6", "--resume", "--out", out)
    assert resumed.exit_code == 0, resumed.output
    assert trained_model(out)["model"]["hidden_size"] == SIZES["tiny"]["hidden_size"]
    refused = cli("train", corpus_file, "--steps", "9", "--resume", "--size", "small",
                  "--out", out)
    assert "contradicts the run being resumed" in one_error_line(refused)


def test_regularisation_flags_reach_the_run(corpus_file, tmp_path, cli):
    out = tmp_path / "r"
    result = cli("train", corpus_file, "--steps", "4", "--eval-every", "2", "--out", out,
                 "--hidden-size", "32", "--embed-size", "32", "--tie-weights",
                 "--weight-decay", "0.05", "--patience", "3", "--log-every", "1",
                 "--lr-schedule", "linear", "--dropout", "0.2", "--min-lr-frac", "0.05",
                 "--ema", "0.9", "--weight-drop", "0.3")
    assert result.exit_code == 0, result.output
    meta = trained_model(out)
    assert meta["model"]["tie_weights"] is True and meta["model"]["dropout"] == 0.2
    assert meta["train"]["weight_decay"] == 0.05 and meta["train"]["patience"] == 3
    assert meta["train"]["lr_schedule"] == "linear" and meta["train"]["min_lr_frac"] == 0.05
    assert meta["train"]["ema"] == 0.9 and meta["model"]["weight_drop"] == 0.3
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 4
    assert "parameters" in result.stderr


@pytest.mark.parametrize("args,message", [
    (["--weight-decay", "-1"], "--weight-decay must be >= 0"),
    (["--patience", "0"], "--patience must be >= 1"),
    (["--log-every", "0"], "--log-every must be >= 1"),
    (["--min-lr-frac", "1.5"], "--min-lr-frac must be in [0, 1]"),
    (["--weight-drop", "1"], "--weight-drop must be in [0, 1)"),
    (["--tie-weights", "--hidden-size", "32", "--embed-size", "16"], "--embed-size (16) must"),
])
def test_bad_training_options_are_one_line(corpus_file, tmp_path, args, message, cli,
                                           one_error_line):
    result = cli("train", corpus_file, "--steps", "2", "--out", tmp_path / "r", *args)
    assert message in one_error_line(result)
    assert not (tmp_path / "r").exists()


def test_a_small_corpus_gets_a_wide_regularised_model_for_any_budget(corpus_file, tmp_path,
                                                                    monkeypatch, cli):
    import torch

    from charrnn.training.presets import SMALL_CORPUS, settings_for

    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert corpus_file.stat().st_size < SMALL_CORPUS
    result = cli("train", corpus_file, "--time", "3s", "--eval-every", "5", "--out",
                 tmp_path / "r")
    assert result.exit_code == 0, result.output
    meta = trained_model(tmp_path / "r")
    name, settings = settings_for(3.0, 2, corpus_file.stat().st_size)
    assert meta["model"]["hidden_size"] == settings["hidden_size"] == 512
    assert meta["model"]["dropout"] == settings["dropout"] >= 0.35
    assert meta["train"]["ema"] == settings["ema"] > 0
    big, _ = settings_for(3.0, 2, SMALL_CORPUS)  # a corpus of Tiny Shakespeare's size
    assert big == size_for_budget(3.0, 2) == "tiny"  # keeps the budget's own preset
    for minutes in (2, 10, 30):  # longer budgets never buy less regularisation
        _, small = settings_for(minutes * 60.0, 2, 200_000)
        assert small["dropout"] >= 0.35 and small["ema"] > 0
    _, long = settings_for(600.0, 2, 200_000)  # 10 minutes: wider, with DropConnect
    assert long["hidden_size"] == 768 and long["weight_drop"] > 0
    assert long["batch_order"] == "random"  # for documents: batches of every length
