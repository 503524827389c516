"""Exact resume: a stopped and resumed run ends bit-identical to one that never stopped."""

import pytest
import torch

from charrnn.config import ModelConfig, TrainConfig
from charrnn.errors import CheckpointError
from charrnn.model import checkpoint, runs
from charrnn.training.loop import train_model

N = 12


def model_config(cell):
    return ModelConfig(model=cell, hidden_size=24, embed_size=8, num_layers=2, dropout=0.3)


def config(steps, seed=7, **kw):
    return TrainConfig(batch_size=4, seq_len=16, steps=steps, eval_every=5, seed=seed, **kw)


def latest(run_dir):
    return checkpoint.load(run_dir / runs.LATEST)


def assert_same_weights(a, b):
    assert a.tensors.keys() == b.tensors.keys()
    for name in a.tensors:
        if name.startswith(("model.", "average.", "optim.", "hidden.")):
            assert torch.equal(a.tensors[name], b.tensors[name]), name


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_n_steps_then_resume_to_2n_equals_2n_steps(corpus_file, tmp_path, cell, prepared):
    """With a constant schedule, extending a run on resume is the same as asking for the
    longer run at the start (dropout on, so the random generator must be restored too)."""
    corpus = prepared(corpus_file)
    flat = {"lr_schedule": "constant"}
    train_model(corpus, model_config(cell), config(2 * N, **flat), tmp_path / "straight")
    train_model(corpus, model_config(cell), config(N, **flat), tmp_path / "resumed")
    first_half = latest(tmp_path / "resumed")
    assert first_half.meta["step"] == N
    result = train_model(corpus, model_config(cell), config(2 * N, **flat), tmp_path / "resumed",
                   resume=first_half)
    assert result.steps == 2 * N
    assert_same_weights(latest(tmp_path / "straight"), latest(tmp_path / "resumed"))


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_a_stopped_cosine_run_resumes_bit_for_bit(corpus_file, tmp_path, ema, prepared):
    corpus = prepared(corpus_file)
    cfg = config(2 * N, ema=ema)
    train_model(corpus, model_config("lstm"), cfg, tmp_path / "straight")
    calls = iter(range(10**6))
    stopped = train_model(corpus, model_config("lstm"), cfg, tmp_path / "stopped",
                    should_stop=lambda: next(calls) >= 7)
    assert stopped.interrupted and stopped.steps == 7
    assert latest(tmp_path / "stopped").meta["step"] == 7
    train_model(corpus, model_config("lstm"), cfg, tmp_path / "stopped",
          resume=latest(tmp_path / "stopped"))
    assert_same_weights(latest(tmp_path / "straight"), latest(tmp_path / "stopped"))


def test_changing_the_seed_changes_the_weights(corpus_file, tmp_path, prepared):
    """The bit-for-bit tests above could not pass by accident: runs do differ."""
    corpus = prepared(corpus_file)
    train_model(corpus, model_config("gru"), config(N), tmp_path / "a")
    train_model(corpus, model_config("gru"), config(N, seed=99), tmp_path / "b")
    a, b = latest(tmp_path / "a"), latest(tmp_path / "b")
    assert not torch.equal(a.tensors["model.head.weight"], b.tensors["model.head.weight"])


def test_library_refuses_contradicting_settings(corpus_file, tmp_path, tiny_other_file, prepared):
    corpus = prepared(corpus_file)
    train_model(corpus, model_config("lstm"), config(N), tmp_path / "run")
    ckpt = latest(tmp_path / "run")
    with pytest.raises(CheckpointError, match="hidden_size 32 contradicts"):
        train_model(corpus, ModelConfig(model="lstm", hidden_size=32, embed_size=8, num_layers=2,
                                  dropout=0.3), config(2 * N), tmp_path / "run", resume=ckpt)
    with pytest.raises(CheckpointError, match="batch_size 8 contradicts"):
        train_model(corpus, model_config("lstm"), TrainConfig(batch_size=8, seq_len=16, steps=2 * N,
                                                        eval_every=5, seed=7),
              tmp_path / "run", resume=ckpt)
    with pytest.raises(CheckpointError, match="another corpus"):
        train_model(prepared(tiny_other_file), model_config("lstm"), config(2 * N),
                    tmp_path / "run", resume=ckpt)


@pytest.fixture
def tiny_other_file(tmp_path):
    path = tmp_path / "other.txt"
    path.write_text("something else entirely\n" * 100)
    return path


def test_cli_resume_continues_counts_the_whole_run_and_inherits_settings(corpus_file, cli,
                                                                         fast_flags):
    custom = [*fast_flags, "--model", "gru", "--hidden-size", "20", "--dropout", "0.2",
              "--out", "runs/r"]
    first = cli("train", corpus_file, *custom[2:], "--steps", "10")
    assert first.exit_code == 0, first.output
    again = cli("train", corpus_file, "--out", "runs/r", "--resume", "--steps", "25")
    assert again.exit_code == 0, again.output
    assert "resuming from step 10" in again.stderr
    meta = checkpoint.load("runs/r/latest.safetensors").meta
    assert meta["step"] == 25 and meta["model"]["model"] == "gru"
    assert meta["model"]["hidden_size"] == 20


def test_cli_resume_refuses_contradictions_and_starts_fresh_on_an_empty_folder(
        corpus_file, cli, fast_flags, one_error_line):
    assert cli("train", corpus_file, *fast_flags, "--out", "runs/r").exit_code == 0
    before = checkpoint.load("runs/r/latest.safetensors").meta["step"]
    line = one_error_line(cli("train", corpus_file, *fast_flags, "--out", "runs/r", "--resume",
                              "--hidden-size", "64"))
    assert "--hidden-size 64 contradicts the run being resumed (32)" in line
    assert checkpoint.load("runs/r/latest.safetensors").meta["step"] == before
    assert "--resume" in one_error_line(cli("train", corpus_file, *fast_flags, "--out", "runs/r"))
    fresh = cli("train", corpus_file, *fast_flags, "--out", "runs/new", "--resume")
    assert fresh.exit_code == 0, fresh.output
    assert checkpoint.load("runs/new/latest.safetensors").meta["step"] == 30
