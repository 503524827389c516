"""The training loop: teacher forcing with truncated BPTT over contiguous streams.

Sections: data (vocabulary, split, stream batcher) -> model and optimiser (AdamW) ->
schedule (warm-up, then cosine or linear decay over the run's budget: its steps, or its
time, keeping room for the final evaluation) -> loop (step, clip, evaluate, checkpoint,
metrics.jsonl, early stopping) -> final evaluation. Progress goes out through a
`Reporter` (`report.py`); this module prints nothing itself. The budget and the
schedule are in `schedule.py`, the checks before a resume in `resumable.py`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from charrnn.atomic import remove_leftovers
from charrnn.config import ModelConfig, TrainConfig
from charrnn.data.cache import PreparedCorpus
from charrnn.data.streams import StreamBatcher, StreamPosition
from charrnn.errors import CharRNNError, CorpusError
from charrnn.model import checkpoint
from charrnn.model.network import CharRNN, State, detach_state
from charrnn.training import state as trainstate
from charrnn.training.allocator import retain_freed_memory
from charrnn.training.averaging import WeightAverage
from charrnn.training.device import autocast, resolve_device, resolve_precision, to_device
from charrnn.training.distributed import Ranks
from charrnn.training.metrics import MetricsLog
from charrnn.training.report import Reporter, RunInfo, SilentReporter, StepStats, TrainResult
from charrnn.training.resumable import check_resumable
from charrnn.training.schedule import Budget, learning_rate
from charrnn.training.validation import estimate_eval_seconds, mean_nll, val_share


def finite(value: float) -> float | None:
    """JSON has no inf or nan: those are written as null."""
    return value if math.isfinite(value) else None


@dataclass
class Scores:
    """What the run has measured so far; every checkpoint carries it, and a resumed run
    picks it up, so the best loss and --patience count across interruptions."""

    train_loss: float = math.nan
    val_loss: float = math.nan
    best_loss: float = math.inf
    best_step: int = 0
    stale: int = 0  # evaluations since the best

    def record(self, val_loss: float, step: int) -> bool:
        """Note an evaluation; whether it is a new best."""
        self.val_loss = val_loss
        improved = val_loss < self.best_loss
        if improved:
            self.best_loss, self.best_step, self.stale = val_loss, step, 0
        else:
            self.stale += 1
        return improved

    def to_meta(self) -> dict:
        return {"train_loss": finite(self.train_loss), "val_loss": finite(self.val_loss),
                "best_val_loss": finite(self.best_loss), "best_step": self.best_step,
                "evals_since_best": self.stale}

    @classmethod
    def from_meta(cls, saved: dict) -> Scores:
        def value(key: str, missing: float) -> float:
            return missing if saved.get(key) is None else saved[key]

        return cls(train_loss=value("train_loss", math.nan), val_loss=value("val_loss", math.nan),
                   best_loss=value("best_val_loss", math.inf), best_step=saved["best_step"],
                   stale=saved.get("evals_since_best", 0))


def split_ids(ids: torch.Tensor, val_frac: float,
              val_max: int = 1_000_000) -> tuple[torch.Tensor, torch.Tensor]:
    """The last `val_frac` of the text, at most `val_max` symbols (at least 2), is
    validation; everything before it is training text."""
    n_val = min(max(2, int(round(ids.numel() * val_frac))), max(2, val_max))
    if ids.numel() - n_val < 2:
        raise CorpusError(
            f"corpus of {ids.numel()} characters is too short to split into training "
            "and validation text; it needs at least 4"
        )
    return ids[:-n_val], ids[-n_val:]


def fit_to_text(cfg: TrainConfig, chars: int, processes: int,
                report: Reporter) -> TrainConfig:
    """`cfg` with the window and the batch shrunk (and the user told) where a short
    training text of `chars` characters cannot fill them."""
    if chars < 2:
        raise CorpusError("the training text needs at least 2 characters")
    if chars - 1 < cfg.seq_len:
        report.on_message(f"training text has only {chars} characters: "
                          f"--seq-len shrunk from {cfg.seq_len} to {chars - 1}")
        cfg = dataclasses.replace(cfg, seq_len=chars - 1)
    streams = StreamBatcher.fitting_batch_size(chars, cfg.batch_size * processes, cfg.seq_len)
    if streams < cfg.batch_size * processes:
        if streams < processes:
            raise CorpusError(f"training text of {chars} characters is too short "
                              f"for {processes} processes of --seq-len {cfg.seq_len}")
        batch = streams // processes
        report.on_message(
            f"training text of {chars} characters fills only {streams} streams of "
            f"{cfg.seq_len}: --batch-size shrunk from {cfg.batch_size} to {batch}")
        cfg = dataclasses.replace(cfg, batch_size=batch)
    return cfg


def make_optimizer(model: CharRNN, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; weight decay (when set) applies to weight matrices, not biases. The fused
    implementation updates each tensor in one pass (4x faster than the default loop of
    element-wise ops on this CPU) where the device has it."""
    fused = {"fused": True} if next(model.parameters()).device.type in ("cpu", "cuda") else {}
    if not cfg.weight_decay:
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0, **fused)
    params = list(model.parameters())
    return torch.optim.AdamW([
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ], lr=cfg.lr, **fused)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
               y: torch.Tensor, state: State, grad_clip: float,
               dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, State]:
    """One teacher-forced step on a window: forward from the carried state (under bf16
    autocast if asked), mean cross-entropy, backward, clip the global gradient norm,
    update. `model` may be wrapped in DistributedDataParallel. Returns the loss (a
    tensor, so no device sync is forced here) and the state after the window."""
    with autocast(x.device, dtype):
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.detach(), state


def train(
    corpus: PreparedCorpus,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    run_dir: Path | str = checkpoint.DEFAULT_ROOT / "run",
    reporter: Reporter | None = None,
    validation: torch.Tensor | None = None,
    resume: checkpoint.Checkpoint | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    device: str = "auto",
    precision: str = "auto",
    ranks: Ranks | None = None,
) -> TrainResult:
    """Train a model on `corpus` (see `charrnn.data.cache.prepare`), writing checkpoints into
    `run_dir`. `validation` (ids) replaces the corpus's tail split. `resume` (a latest
    checkpoint of this run) continues it exactly where it stopped; stop rules count the
    whole run. When `should_stop()` turns true, the current step finishes, `latest` is
    written, and the result says `interrupted`. `device` and `precision`: see
    `charrnn.training.device`; `ranks`: this process's place in a distributed job (see
    `charrnn.training.distributed`), where `batch_size` counts each process's streams and only
    rank 0 writes files (give the other ranks a quieter `reporter`)."""
    ranks = ranks or Ranks()
    report = reporter or SilentReporter()  # in a distributed job: each process's own
    cfg = (train_config or TrainConfig()).budgeted.validate()
    model_config = (model_config or ModelConfig()).validate()
    dev = resolve_device(device, ranks.local_rank)
    dtype = resolve_precision(precision, dev)
    if dev.type == "cpu":
        retain_freed_memory()  # a quarter of a step was page faults (see allocator.py)
    if resume is not None:
        check_resumable(resume, corpus, model_config, cfg, ranks.world)
    run_dir = Path(run_dir)
    if ranks.is_main:
        remove_leftovers(run_dir)
    started = time.perf_counter()
    torch.manual_seed(cfg.seed)

    # -- data ---------------------------------------------------------------------------
    vocab = corpus.vocab
    if validation is None:
        train_ids, val_ids = split_ids(corpus.ids, cfg.val_frac, corpus.data.val_max_chars)
    else:
        train_ids, val_ids = corpus.ids, validation
    cfg = fit_to_text(cfg, train_ids.numel(), ranks.world, report)
    batcher = StreamBatcher(train_ids, cfg.batch_size * ranks.world, cfg.seq_len)
    rows = ranks.rows(cfg.batch_size)
    val_chars = val_ids.numel()
    val_ids = val_share(val_ids, ranks).to(dev)

    # -- model, optimiser, and where a resumed run left off -------------------------------
    mconf = dataclasses.replace(model_config, vocab_size=len(vocab))
    model = CharRNN(mconf).to(dev)
    model.train()
    net = model  # what the forward pass goes through: the model, or its DDP wrapper
    if ranks.active:
        net = DistributedDataParallel(model, device_ids=[dev] if dev.type == "cuda" else None)
        torch.manual_seed(cfg.seed + ranks.rank)  # same weights, different dropout masks
    optimizer = make_optimizer(model, cfg)
    average = WeightAverage(model, cfg.ema) if cfg.ema else None
    evaluated_model = average.model if average is not None else model
    state: State = model.initial_state(cfg.batch_size)
    step, scores = 0, Scores()
    if resume is not None:
        state = trainstate.restore(resume.tensors, model, optimizer,
                                   average.model if average is not None else None, ranks.rank)
        state = tuple(part[:, rows].to(dev) for part in state)
        meta = resume.meta
        step, scores = meta["step"], Scores.from_meta(meta["metrics"])
        batcher.position = StreamPosition(meta["epoch"], meta["window"])
        started -= meta["elapsed_seconds"]
    start_step = step

    budget = Budget.of(cfg, batcher.windows_per_epoch)
    report.on_start(RunInfo(
        run_dir=run_dir, level=vocab.level, parameters=model.num_parameters,
        vocab_size=len(vocab), train_chars=train_ids.numel(), val_chars=val_chars,
        batch_size=cfg.batch_size, seq_len=cfg.seq_len, total_steps=budget.steps,
        time_limit=cfg.time_limit, resumed_from=start_step if resume is not None else None,
        threads=torch.get_num_threads(), device=str(dev),
        precision="bf16" if dtype == torch.bfloat16 else "fp32",
        processes=ranks.world, streams=(rows.start, rows.stop, cfg.batch_size * ranks.world),
    ))

    # -- checkpointing and metrics --------------------------------------------------------
    metrics = MetricsLog(run_dir, start_step if resume is not None else None) \
        if ranks.is_main else None
    eval_seconds = estimate_eval_seconds(model, val_ids) if cfg.time_limit else 0.0
    chars_per_step = cfg.batch_size * ranks.world * cfg.seq_len  # the whole job's

    def save(name: str, with_training_state: bool) -> None:
        meta = {
            "model": mconf.to_dict(), "train": cfg.to_dict(), "data": corpus.data.to_dict(),
            "vocab": vocab.to_dict(), "corpus": corpus.describe(),
            "step": step, "epoch": batcher.position.epoch, "window": batcher.position.window,
            "elapsed_seconds": time.perf_counter() - started,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "metrics": scores.to_meta(),
            "processes": ranks.world,
        }
        if with_training_state:  # every process's streams and random generator
            whole = tuple(ranks.gather_rows(part) for part in state)
            tensors = trainstate.training_tensors(model, optimizer, whole,
                                                  average and average.model,
                                                  ranks.gather_objects(torch.get_rng_state()))
        else:
            tensors = checkpoint.model_tensors(evaluated_model)
        if ranks.is_main:
            checkpoint.save(run_dir / name, tensors, meta)

    def evaluate_and_save() -> None:
        nonlocal eval_seconds
        t0 = time.perf_counter()
        nats, count = ranks.sum([mean_nll(evaluated_model, val_ids) * (val_ids.numel() - 1),
                                 val_ids.numel() - 1])
        improved = scores.record(nats / count, step)
        save(checkpoint.LATEST, with_training_state=True)
        if improved:
            save(checkpoint.BEST, with_training_state=False)
        eval_seconds = time.perf_counter() - t0
        report.on_eval(step, scores.val_loss, improved)

    window = {"loss": 0.0, "steps": 0, "seconds": 0.0}

    def log(lr: float, evaluated: bool) -> None:
        """One metrics line: means over the steps since the previous line."""
        steps, seconds = window["steps"], window["seconds"]
        if metrics is not None:
            metrics.append(
                step=step, elapsed=round(time.perf_counter() - started, 3),
                chars=step * chars_per_step,
                train_loss=window["loss"] / steps if steps else None,
                val_loss=finite(scores.val_loss) if evaluated else None, lr=lr,
                chars_per_sec=round(steps * chars_per_step / seconds, 1)
                if seconds > 0 else None)
        window.update(loss=0.0, steps=0, seconds=0.0)

    # -- loop ---------------------------------------------------------------------------
    evaluated_at, interrupted, stopped_early = (step if resume is not None else -1), False, False
    lr, step_seconds = learning_rate(cfg, step, 0.0), 0.0

    def reserve() -> float:  # the next step and the final evaluation, with a margin for
        return 2.0 * step_seconds + 1.5 * eval_seconds  # this machine's speed changing

    while True:
        # one clock and one stop request for all processes: the maximum over them
        stop, elapsed, spare = ranks.agree_max(
            [float(should_stop()), time.perf_counter() - started, reserve()])
        if budget.used(step, elapsed, spare) >= 1.0:
            break
        if stop:
            interrupted = True
            break
        window_start = time.perf_counter()
        x, y, new_epoch = batcher.next()
        x, y = to_device(x[rows], dev), to_device(y[rows], dev)
        if new_epoch:
            state = model.initial_state(cfg.batch_size)
        lr = learning_rate(cfg, step, budget.used(step, elapsed, spare))
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss, state = train_step(net, optimizer, x, y, state, cfg.grad_clip, dtype)
        step += 1
        if average is not None:
            average.update(step)
        loss_value = loss.item()
        if ranks.active:  # every process stops on a bad loss, not just the one that saw it
            loss_value = ranks.sum([loss_value])[0] / ranks.world
        scores.train_loss = loss_value
        if not math.isfinite(loss_value):
            raise CharRNNError(
                f"training loss became {loss_value} at step {step}; try a lower --lr "
                f"(the last good checkpoint is kept: {run_dir / checkpoint.LATEST})"
            )
        state = detach_state(state)
        now = time.perf_counter()
        step_seconds = now - window_start
        window["loss"] += loss_value
        window["steps"] += 1
        window["seconds"] += step_seconds
        report.on_step(StepStats(
            step=step, epoch=batcher.position.epoch, loss=loss_value, lr=lr,
            chars_per_sec=chars_per_step / max(now - window_start, 1e-9), elapsed=now - started,
            fraction=min(1.0, budget.used(step, now - started, reserve())),
        ))
        evaluated = step % cfg.eval_every == 0
        if evaluated:
            evaluate_and_save()
            evaluated_at = step
        elif cfg.checkpoint_every is not None and step % cfg.checkpoint_every == 0:
            save(checkpoint.LATEST, with_training_state=True)
        if evaluated or step % cfg.log_every == 0:
            log(lr, evaluated)
        if evaluated and cfg.patience is not None and scores.stale >= cfg.patience:
            stopped_early = True
            report.on_message(f"stopping early: validation loss has not improved in "
                              f"{scores.stale} evaluations (--patience {cfg.patience})")
            break

    if interrupted:
        save(checkpoint.LATEST, with_training_state=True)
    elif evaluated_at != step:
        evaluate_and_save()
        log(lr, evaluated=True)
    result = TrainResult(
        run_dir=run_dir, steps=step,
        epochs=step / batcher.windows_per_epoch,
        elapsed=time.perf_counter() - started,
        chars_seen=step * chars_per_step,
        val_loss=scores.val_loss, best_val_loss=scores.best_loss, best_step=scores.best_step,
        parameters=model.num_parameters, interrupted=interrupted,
        stopped_early=stopped_early,
    )
    report.on_end(result)
    return result
