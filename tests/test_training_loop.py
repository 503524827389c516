import itertools
import math

import pytest
import torch

from charrnn.config import ModelConfig, TrainConfig
from charrnn.data.split import split_ids
from charrnn.data.streams import StreamBatcher
from charrnn.errors import CorpusError
from charrnn.model import checkpoint, runs
from charrnn.model.network import CharRNN
from charrnn.training.loop import train_model
from charrnn.training.schedule import learning_rate

SMALL = ModelConfig(hidden_size=16, embed_size=8)


def weights(run):
    return checkpoint.load(run / runs.LATEST).tensors


def test_same_seed_same_weights_and_another_seed_differs(corpus_file, tmp_path, prepared):
    cfg = TrainConfig(batch_size=4, seq_len=16, steps=12, eval_every=6)
    corpus = prepared(corpus_file)
    for name, seed in [("a", 1), ("b", 1), ("c", 2)]:
        train_model(corpus, SMALL, TrainConfig(**{**cfg.to_dict(), "seed": seed}), tmp_path / name)
    a, b, c = (weights(tmp_path / n) for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_stop_rules_and_reports(corpus_file, tmp_path, prepared, recorder):
    corpus = prepared(corpus_file)
    rec = recorder
    result = train_model(corpus, SMALL,
                         TrainConfig(batch_size=4, seq_len=16, steps=7, eval_every=3),
                         tmp_path / "steps", reporter=rec)
    assert result.steps == 7 and [s.step for _, s in rec.of("step")] == list(range(1, 8))
    assert [e[1] for e in rec.of("eval")] == [3, 6, 7]  # every 3 steps and at the end
    assert rec.of("end")[0][1].best_val_loss == min(e[2] for e in rec.of("eval"))

    result = train_model(corpus, SMALL, TrainConfig(batch_size=4, seq_len=16, epochs=1.0),
                   tmp_path / "epochs")
    train_ids, _ = split_ids(corpus.ids, 0.05)
    assert result.steps == StreamBatcher(train_ids, 4, 16).windows_per_epoch

    result = train_model(corpus, SMALL, TrainConfig(batch_size=4, seq_len=16, time_limit=1.5),
                   tmp_path / "time")
    assert result.steps > 0 and result.elapsed < 10


def test_loss_falls_and_best_is_kept(corpus_file, tmp_path, prepared, recorder):
    rec = recorder
    train_model(prepared(corpus_file), ModelConfig(hidden_size=48, embed_size=16),
          TrainConfig(batch_size=4, seq_len=32, steps=90, eval_every=30, lr=1e-2),
          tmp_path / "run", reporter=rec)
    losses = [e[2] for e in rec.of("eval")]
    assert losses[-1] < losses[0] - 0.5
    best = checkpoint.load(tmp_path / "run" / runs.BEST).meta
    assert best["metrics"]["val_loss"] == pytest.approx(min(losses))


def test_hidden_state_is_carried_between_steps(corpus_file, tmp_path, monkeypatch, prepared):
    """The state entering step t+1 is the (detached) state that left step t."""
    seen = []
    original = CharRNN.forward

    def spy(self, ids, state):
        logits, new_state = original(self, ids, state)
        if self.training:
            seen.append((state[0].clone(), new_state[0].detach().clone(), state[0].requires_grad))
        return logits, new_state

    monkeypatch.setattr(CharRNN, "forward", spy)
    train_model(prepared(corpus_file), SMALL, TrainConfig(batch_size=4, seq_len=16, steps=5),
          tmp_path / "run")
    assert seen[0][0].abs().sum() == 0  # a stream starts from zeros
    for (_, out_t, _), (in_next, _, needs_grad) in itertools.pairwise(seen):
        assert torch.equal(in_next, out_t) and not needs_grad


def test_schedule_warms_up_then_decays():
    cfg = TrainConfig(lr=1e-2, warmup_steps=10, min_lr_frac=0.1)
    assert learning_rate(cfg, 0, 0.0) == pytest.approx(1e-3)
    assert learning_rate(cfg, 10, 0.0) == pytest.approx(1e-2)
    assert learning_rate(cfg, 100, 0.5) == pytest.approx(0.55e-2)
    assert learning_rate(cfg, 100, 1.0) == pytest.approx(1e-3)


def test_nan_loss_stops_with_a_clear_error(corpus_file, tmp_path, prepared):
    from charrnn.errors import CharRNNError

    with pytest.raises(CharRNNError, match="loss became nan"):
        train_model(prepared(corpus_file), SMALL,
              TrainConfig(batch_size=4, seq_len=16, steps=5, lr=math.inf), tmp_path / "r")


def test_too_short_corpus_is_refused(tmp_path, prepared):
    path = tmp_path / "tiny.txt"
    path.write_text("abc")
    with pytest.raises(CorpusError, match="too short"):
        train_model(prepared(path), SMALL, TrainConfig(steps=1), tmp_path / "run")


def test_a_run_sweeps_only_its_own_leftovers(corpus_file, tmp_path, cli, fast_flags):
    """A crashed write's temporary is removed; a user's file that merely looks like a
    temporary (`.notes.tmp-1`, another program's) is never touched."""
    mine = [tmp_path / ".notes.tmp-1", tmp_path / ".latest.safetensors.tmp-7",
            tmp_path / ".x.charrnn-tmp-3", tmp_path / ".latest.safetensors.charrnn-tmp-x"]
    for path in mine:
        path.write_text("keep me")
    crashed = tmp_path / ".latest.safetensors.charrnn-tmp-4242"
    crashed.write_bytes(b"half a checkpoint")
    result = cli("train", str(corpus_file), "--out", ".", "--steps", "1",
                 *fast_flags[2:])
    assert result.exit_code == 0, result.stderr
    assert all(path.read_text() == "keep me" for path in mine)
    assert not crashed.exists()
