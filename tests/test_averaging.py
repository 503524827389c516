"""`--ema`: a moving average of the weights is what gets evaluated, saved and loaded."""

import pytest
import torch

import charrnn
from charrnn.config import ModelConfig, TrainConfig
from charrnn.data.split import split_ids
from charrnn.model import checkpoint, runs
from charrnn.model.network import CharRNN
from charrnn.training.averaging import WeightAverage
from charrnn.training.loop import train_model
from charrnn.training.validation import mean_nll


def test_the_average_trails_the_weights_by_the_decay():
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(hidden_size=8, embed_size=4, vocab_size=5))
    average = WeightAverage(model, decay=0.9)
    start = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    average.update(step=1)  # early updates follow faster: decay min(0.9, 1/10)
    for a, s in zip(average.model.parameters(), start, strict=True):
        assert torch.allclose(a, s + 0.9)
    average.update(step=1000)  # later ones use the decay itself
    for a, s in zip(average.model.parameters(), start, strict=True):
        assert torch.allclose(a, s + 0.9 + 0.1 * 0.1)
    assert not any(p.requires_grad for p in average.model.parameters())


def test_training_evaluates_saves_and_loads_the_average(corpus_file, tmp_path, prepared):
    corpus = prepared(corpus_file)
    cfg = TrainConfig(batch_size=4, seq_len=16, steps=30, eval_every=10, ema=0.9)
    result = train_model(corpus, ModelConfig(hidden_size=24, embed_size=8), cfg, tmp_path / "run")
    latest = checkpoint.load(tmp_path / "run" / runs.LATEST)
    trained = {k: v for k, v in latest.tensors.items() if k.startswith("model.")}
    averaged = {k: v for k, v in latest.tensors.items() if k.startswith("average.")}
    assert averaged and len(averaged) == len(trained)
    assert any(not torch.equal(v, averaged["average." + k[6:]]) for k, v in trained.items())
    lm = charrnn.load(tmp_path / "run" / runs.LATEST)  # loads the average
    _, val_ids = split_ids(corpus.ids, cfg.val_frac, corpus.data.val_max_chars)
    assert mean_nll(lm.model, val_ids) == pytest.approx(result.val_loss, rel=1e-6)
    assert result.best_step == result.steps  # still improving: best is the last average
    best = charrnn.load(tmp_path / "run")
    for name, tensor in best.model.state_dict().items():
        assert torch.equal(tensor, averaged["average." + name])


def test_ema_from_the_command_line(corpus_file, cli, fast_flags):
    assert cli("train", corpus_file, *fast_flags, "--ema", "0.95").exit_code == 0
    info = cli("info", "--json")
    assert '"ema": 0.95' in info.stdout
    assert "weight average 0.95" in cli("info").stdout
    bad = cli("train", corpus_file, *fast_flags, "--ema", "1.5", "--out", "other")
    assert bad.exit_code == 1 and "--ema must be in [0, 1)" in bad.stderr
