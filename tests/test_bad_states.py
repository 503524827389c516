"""A NaN loss or a full disk mid-run: a clear error, and the last good checkpoint kept."""

import errno

import pytest
import torch

import charrnn.training.train_step
from charrnn.config import ModelConfig, TrainConfig
from charrnn.errors import CharRNNError, CheckpointError
from charrnn.model import checkpoint, runs
from charrnn.training.loop import train_model

SMALL = ModelConfig(hidden_size=16, embed_size=8)


def cfg(steps, **kw):
    return TrainConfig(batch_size=4, seq_len=16, steps=steps, eval_every=5, **kw)


@pytest.fixture
def run_with_a_good_checkpoint(corpus_file, tmp_path, prepared):
    corpus = prepared(corpus_file)
    train_model(corpus, SMALL, cfg(5), tmp_path / "run")
    latest = tmp_path / "run" / runs.LATEST
    return corpus, tmp_path / "run", latest, latest.read_bytes()


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(run_with_a_good_checkpoint,
                                                           monkeypatch):
    corpus, run, latest, before = run_with_a_good_checkpoint
    real = charrnn.training.train_step.F.cross_entropy
    calls = []

    def poisoned(*args, **kwargs):
        calls.append(1)
        loss = real(*args, **kwargs)
        return loss * float("nan") if len(calls) >= 3 else loss

    monkeypatch.setattr(charrnn.training.train_step.F, "cross_entropy", poisoned)
    with pytest.raises(CharRNNError, match=r"loss became nan at step 8.*last good checkpoint"):
        train_model(corpus, SMALL, cfg(20, checkpoint_every=1), run,
              resume=checkpoint.load(latest))
    assert checkpoint.load(latest).meta["step"] == 7  # saved before the bad step, not after


def test_full_disk_during_a_save_keeps_the_previous_checkpoint(run_with_a_good_checkpoint,
                                                               monkeypatch):
    corpus, run, latest, before = run_with_a_good_checkpoint

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("charrnn.atomic.os.fsync", disk_full)
    with pytest.raises(CheckpointError, match="could not write .*No space left on device"):
        train_model(corpus, SMALL, cfg(20, checkpoint_every=1), run, resume=checkpoint.load(latest))
    assert latest.read_bytes() == before
    assert sorted(p.name for p in run.iterdir()) == ["best.safetensors", "latest.safetensors",
                                                     "metrics.jsonl"]
    torch.manual_seed(0)  # the restored generator state must not leak into other tests
