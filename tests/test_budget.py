"""Budget-aware training: the schedule follows the clock, the last evaluation lands
inside the budget, early stopping, regularisation options, and metrics.jsonl."""

import importlib
import json
import math
import re
import warnings
from pathlib import Path

import pytest
import torch

from charrnn.config import ModelConfig, TrainConfig
from charrnn.errors import ConfigError
from charrnn.model import checkpoint, runs
from charrnn.model.network import CharRNN
from charrnn.training.loop import train_model
from charrnn.training.metrics import MetricsLog, read_metrics
from charrnn.training.schedule import learning_rate

SMALL = ModelConfig(hidden_size=16, embed_size=8)
train_module = importlib.import_module("charrnn.training.loop")
TRAINING_PAGE = Path(__file__).resolve().parents[1] / "docs" / "training.md"


def documented_metrics_fields() -> list[str]:
    """The metrics.jsonl fields in the order docs/training.md lists them: the `names` in
    the sentence after "`metrics.jsonl` in its run folder:"."""
    text = " ".join(TRAINING_PAGE.read_text(encoding="utf-8").split())
    _, found, after = text.partition("`metrics.jsonl` in its run folder:")
    assert found, "docs/training.md no longer lists the metrics.jsonl fields where this test looks"
    return re.findall(r"`(\w+)`", after.split(". ", 1)[0])


class FakeClock:
    """time.perf_counter for the training loop: it moves only when a step is reported."""

    def __init__(self, seconds_per_step: float):
        self.now, self.per_step = 1000.0, seconds_per_step

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def run_on_fake_clock(prepared, recorder_class):
    """`run_on_fake_clock(corpus_file, tmp_path, seconds_per_step, limit=40.0, name="run")`
    -> (result, step stats): training whose clock moves by seconds_per_step per step."""

    class ClockedRecorder(recorder_class):
        def __init__(self, clock: FakeClock):
            super().__init__()
            self.clock = clock

        def on_step(self, stats):
            super().on_step(stats)
            self.clock.now += self.clock.per_step

    def train_on_fake_clock(corpus_file, tmp_path, seconds_per_step, limit=40.0, name="run"):
        clock = FakeClock(seconds_per_step)
        rec = ClockedRecorder(clock)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(train_module.time, "perf_counter", clock)
            result = train_model(prepared(corpus_file), SMALL,
                                 TrainConfig(batch_size=4, seq_len=16, time_limit=limit,
                                             warmup_steps=0, eval_every=10_000),
                                 tmp_path / name, reporter=rec)
        return result, [s for _, s in rec.of("step")]

    return train_on_fake_clock


def test_learning_rate_follows_elapsed_time_not_steps(corpus_file, tmp_path, run_on_fake_clock):
    slow, slow_steps = run_on_fake_clock(corpus_file, tmp_path, 1.0, name="slow")
    fast, fast_steps = run_on_fake_clock(corpus_file, tmp_path, 0.25, name="fast")
    assert len(fast_steps) >= 3.5 * len(slow_steps)  # four times the steps in the same time
    cfg = TrainConfig(time_limit=40.0)
    for steps in (slow_steps, fast_steps):
        peak, floor = cfg.lr, cfg.lr * cfg.min_lr_frac
        assert steps[0].lr == pytest.approx(peak, rel=0.01)
        assert steps[-1].lr == pytest.approx(floor, rel=0.1, abs=peak * 0.03)  # decayed
        halfway = min(steps, key=lambda s: abs(s.elapsed - 20.0))
        assert halfway.lr == pytest.approx((peak + floor) / 2, rel=0.08)  # cosine midpoint
    assert slow.elapsed <= 40.0 and fast.elapsed <= 40.0


def test_last_evaluation_and_checkpoint_land_inside_the_budget(tmp_path, prepared):
    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n"
                   for i in range(6000))
    path = tmp_path / "long.txt"
    path.write_text(text)
    result = train_model(prepared(path), ModelConfig(hidden_size=64),
                   TrainConfig(batch_size=8, seq_len=32, time_limit=4.0, val_frac=0.3),
                   tmp_path / "run")
    meta = checkpoint.load(tmp_path / "run" / runs.LATEST).meta
    assert result.elapsed <= 4.0
    assert meta["elapsed_seconds"] <= 4.0
    assert meta["step"] == result.steps and meta["metrics"]["val_loss"] is not None


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_schedules_decay_to_the_floor(schedule):
    cfg = TrainConfig(lr=1.0, min_lr_frac=0.1, warmup_steps=0, lr_schedule=schedule)
    assert learning_rate(cfg, 0, 0.0) == pytest.approx(1.0)
    assert learning_rate(cfg, 50, 0.5) == pytest.approx(0.55)
    assert learning_rate(cfg, 99, 1.0) == pytest.approx(0.1)
    if schedule == "linear":
        assert learning_rate(cfg, 25, 0.25) == pytest.approx(0.775)


def test_patience_stops_after_evaluations_without_a_new_best(corpus_file, tmp_path,
                                                             monkeypatch, prepared, recorder):
    losses = iter([3.0, 2.5, 2.6, 2.7, 2.4, 2.3])
    monkeypatch.setattr(importlib.import_module("charrnn.training.training_text"), "mean_nll",
                        lambda model, ids, **_: next(losses))
    rec = recorder
    result = train_model(prepared(corpus_file), SMALL,
                   TrainConfig(batch_size=4, seq_len=16, steps=100, eval_every=5, patience=2),
                   tmp_path / "run", reporter=rec)
    assert result.stopped_early and result.steps == 20  # evaluations at 5, 10, 15, 20
    assert result.best_val_loss == 2.5 and result.best_step == 10
    assert checkpoint.load(tmp_path / "run" / runs.BEST).meta["step"] == 10
    assert any("`patience` 2" in e[1] for e in rec.of("message"))


def test_weight_decay_shrinks_the_weights(corpus_file, tmp_path, prepared):
    def norm(decay):
        train_model(prepared(corpus_file), SMALL,
              TrainConfig(batch_size=4, seq_len=16, steps=30, eval_every=30, lr=1e-2,
                          weight_decay=decay), tmp_path / f"wd{decay}")
        weights = checkpoint.load(tmp_path / f"wd{decay}" / runs.BEST).tensors
        return float(torch.linalg.norm(weights["model.rnn.weight_hh_l0"]))

    assert norm(5.0) < 0.8 * norm(0.0)


def test_tied_weights_train_save_and_load(corpus_file, tmp_path, prepared):
    import charrnn

    cfg = ModelConfig(hidden_size=24, embed_size=24, tie_weights=True)
    train_model(prepared(corpus_file), cfg, TrainConfig(batch_size=4, seq_len=16, steps=10,
                                                  eval_every=10), tmp_path / "run")
    lm = charrnn.load(tmp_path / "run")
    assert lm.model.head.weight is lm.model.embed.weight
    untied = CharRNN(ModelConfig(hidden_size=24, embed_size=24, vocab_size=len(lm.vocab)))
    assert lm.model.num_parameters == untied.num_parameters - 24 * len(lm.vocab)
    assert len(lm.sample(20, seed=1)) == 20


def test_tied_weights_need_matching_sizes():
    with pytest.raises(ConfigError, match="`embed_size`"):
        ModelConfig(hidden_size=32, embed_size=16, tie_weights=True).validate()


def test_metrics_file_has_one_line_per_logged_step(corpus_file, tmp_path, prepared):
    run = tmp_path / "run"
    train_model(prepared(corpus_file), SMALL,
          TrainConfig(batch_size=4, seq_len=16, steps=30, eval_every=15, log_every=10), run)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == [10, 15, 20, 30]
    documented = documented_metrics_fields()
    at_evaluations = {"samples", "val_by_source"}  # the last ones listed: only some lines
    assert documented[-2:] == ["samples", "val_by_source"]
    for r in records:  # in the documented order; a sample at each evaluation (one corpus)
        evaluated = r["val_loss"] is not None
        assert list(r) == [f for f in documented if f not in at_evaluations
                           or (f == "samples" and evaluated)]
    assert [r["val_loss"] is not None for r in records] == [False, True, False, True]
    assert all(r["chars"] == r["step"] * 4 * 16 for r in records)
    assert all(math.isfinite(r["train_loss"]) and r["lr"] > 0 and r["chars_per_sec"] > 0
               for r in records)
    elapsed = [r["elapsed"] for r in records]
    assert elapsed == sorted(elapsed)


def test_resume_drops_later_metrics_and_sets_damage_aside(corpus_file, tmp_path, prepared,
                                                        recorder):
    run = tmp_path / "run"
    cfg = dict(batch_size=4, seq_len=16, eval_every=20, log_every=10, lr_schedule="constant")
    train_model(prepared(corpus_file), SMALL, TrainConfig(steps=20, **cfg), run)
    first, second = (run / "metrics.jsonl").read_bytes().splitlines(keepends=True)
    (run / "metrics.jsonl").write_bytes(first + b"d\xe9g\xe2t\n" + second)  # damaged since
    with open(run / "metrics.jsonl", "a") as handle:  # what a crash at step 25 leaves
        handle.write(json.dumps({"step": 25, "train_loss": 1.0}) + "\n" + '{"step": 2')
    train_model(prepared(corpus_file), SMALL, TrainConfig(steps=40, **cfg), run,
          resume=checkpoint.load(run / runs.LATEST), reporter=recorder)
    assert [r["step"] for r in read_metrics(run)] == [10, 20, 30, 40]
    assert (run / "metrics.jsonl.damaged").read_bytes() == b"d\xe9g\xe2t\n"
    metrics = run / "metrics.jsonl"
    assert ("message", f"{metrics}: unreadable line(s) 2 moved to {metrics}.damaged") \
        in recorder.events


def _metrics_file(folder: Path, data: bytes) -> Path:
    (folder / "metrics.jsonl").write_bytes(data)
    return folder / "metrics.jsonl"


def test_resume_sets_damaged_lines_aside_and_says_so(tmp_path):
    (tmp_path / "metrics.jsonl.damaged").write_bytes(b"set aside before\n")
    damaged = [b'{"step": 20, "train_lo', b"[1, 2]", b'{"step": "30"}']
    path = _metrics_file(tmp_path, b'{"step": 10}\n' + b"\n".join(damaged) + b'\n{"step": 40}\n'
                         b'{"step": 50}\n{"step": 6')
    heard = []
    MetricsLog(tmp_path, 40, warn=heard.append)
    assert path.read_bytes() == b'{"step": 10}\n{"step": 40}\n'
    assert (tmp_path / "metrics.jsonl.damaged").read_bytes() == (
        b"set aside before\n" + b"\n".join(damaged) + b"\n")
    assert heard == [f"{path}: unreadable line(s) 2, 3, 4 moved to {path}.damaged"]
    with pytest.warns(RuntimeWarning, match="moved to"):  # no reporter: a Python warning
        MetricsLog(_metrics_file(tmp_path, b"oops\n").parent, 40)


@pytest.mark.parametrize("data", [b'{"step": 10}\n{"step": 2', b'{"step": 10}\n{"st\xe9',
                                  b'{"step": 10}\n{"step": 20}'])
def test_resume_drops_only_a_torn_last_line_silently(tmp_path, data):
    path = _metrics_file(tmp_path, data)
    heard = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MetricsLog(tmp_path, 20, warn=heard.append)
    whole = data.endswith(b"}")  # written in full, but its newline was not
    assert path.read_bytes() == b'{"step": 10}\n' + (b'{"step": 20}\n' if whole else b"")
    assert heard == [] and not (tmp_path / "metrics.jsonl.damaged").exists()
