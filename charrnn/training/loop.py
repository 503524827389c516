"""The training loop: teacher forcing with truncated BPTT over contiguous streams.

`train_model` tells a run in five phases:

    data      split the text, fit the window to it, cut it into streams
    model     the network, its optimiser and weight average, on the chosen device
    restore   a resumed run takes back its weights, state, stream position and scores
    loop      step; evaluate and checkpoint; log a metrics line; stop by the rules
    finish    a last evaluation (or, when interrupted, a last save), and the result

A step is in `train_step.py`, the budget and learning rate in `schedule.py`, the validation
loss in `validation.py`, the checks before a resume in `resumable.py`. Progress goes out
through a `Reporter` (`report.py`); nothing here prints.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from charrnn.atomic import remove_leftovers
from charrnn.config import ModelConfig, TrainConfig, setting_error
from charrnn.data import word_list
from charrnn.data.cache import PreparedCorpus
from charrnn.data.documents import IGNORE, DocumentBatcher
from charrnn.data.streams import StreamBatcher, StreamPosition
from charrnn.data.text_format import TextFormat, settled_label_input, text_format_of
from charrnn.errors import CharRNNError
from charrnn.model import checkpoint, runs
from charrnn.model.network import CharRNN, State, detach_state
from charrnn.model.record import CorpusRecord, Lineage, RunRecord
from charrnn.training import state as saved_state
from charrnn.training.averaging import WeightAverage
from charrnn.training.device import resolve_device, resolve_precision, to_device
from charrnn.training.distributed import Ranks
from charrnn.training.glimpse import glimpses
from charrnn.training.metrics import MetricsLog
from charrnn.training.parent import Parent
from charrnn.training.progress import Progress, Scores, finite
from charrnn.training.report import (
    EvalDetail,
    Reporter,
    RunInfo,
    SilentReporter,
    StepStats,
    TrainResult,
)
from charrnn.training.resumable import check_resumable
from charrnn.training.schedule import Budget, learning_rate
from charrnn.training.train_step import make_optimizer, train_step
from charrnn.training.training_text import TrainingText, training_text


@dataclass
class Network:
    """The model being trained and what trains it.

    `model` holds the trained weights; `forward` is what a step runs through (the model,
    or its DistributedDataParallel wrapper); `evaluated` is what validation scores and
    `best` keeps: the weight average with --ema, else the model itself.
    """

    model: CharRNN
    forward: nn.Module
    optimizer: torch.optim.Optimizer
    average: WeightAverage | None

    @property
    def evaluated(self) -> CharRNN:
        return self.average.model if self.average is not None else self.model


def train_model(
    corpus: PreparedCorpus,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    run_dir: Path | str = runs.DEFAULT_ROOT / "run",
    *,
    reporter: Reporter | None = None,
    validation: torch.Tensor | None = None,
    validation_file: Path | str | None = None,
    resume: checkpoint.Checkpoint | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: str = "auto",
    precision: str = "auto",
    ranks: Ranks | None = None,
    parent: Parent | None = None,
    replaces: bool = False,
) -> TrainResult:
    """Train a model on `corpus` (see `data/cache.py:prepare`), writing checkpoints into
    `run_dir`. `validation` (ids) replaces the corpus's own held-out part; the checkpoint
    records `validation_file` as where they came from. `resume` (a latest
    checkpoint of this run) continues it exactly where it stopped; stop rules count the
    whole run. When `should_stop()` turns true, the current step finishes, `latest` is
    written, and the result says `interrupted`. `device` and `precision`: see
    `device.py`; `ranks`: this process's place in a distributed job (`distributed.py`),
    where `batch_size` counts each process's streams and only rank 0 writes files.
    `parent`: the model a fine-tuning run starts from (`parent.py`); the corpus is then
    already in the merged vocabulary. `replaces`: `run_dir` holds an older run, which is
    cleared (checkpoints and metrics) only when this run writes its first checkpoint."""
    # -- settings checked, device chosen, a crashed write's leftovers removed ------------
    ranks = ranks or Ranks()
    report = reporter or SilentReporter()
    cfg = (train_config or TrainConfig()).budgeted.validate()
    model_config = (model_config or ModelConfig()).validate()
    if ranks.world > 1 and (cfg.bptt_steps or cfg.seq_len) < cfg.seq_len:
        raise setting_error("bptt_steps below `seq_len` needs one process: under torchrun "
                          "each step may run one forward pass")
    dev = resolve_device(device, ranks.local_rank)
    dtype = resolve_precision(precision, dev)
    if resume is not None:
        check_resumable(resume, corpus, model_config, cfg, ranks.world)
    run_dir = Path(run_dir)
    if ranks.is_main:
        remove_leftovers(run_dir, (runs.LATEST, runs.BEST, runs.METRICS))
    progress = Progress(started=time.perf_counter())
    seed_generators(cfg.seed, dev)

    # -- data: training and validation text, the window fitted, the batches ------------
    text = training_text(corpus, cfg, validation, ranks, report, dev)
    cfg, batcher = text.cfg, text.batcher

    # -- model: the network, its optimiser and average, the state each stream carries ----
    labels = len(text.vocab.labels)
    mconf = dataclasses.replace(model_config, vocab_size=len(text.vocab), label_count=labels,
                                label_input=settled_label_input(model_config.label_input,
                                                                labels))
    net = build_network(mconf, cfg, dev, ranks,
                        parent.weights_for(text.vocab) if parent is not None else None)
    state = net.model.initial_state(cfg.batch_size)

    # -- restore: a resumed run continues exactly where it stopped ----------------------
    if resume is not None:
        state = restore(resume, net, batcher, progress, ranks, cfg.batch_size, dev)

    # -- loop: announce the run, then step until a stop rule ends it; finish -----------
    run = Run(corpus, text, cfg, net, batcher, run_dir, dev, dtype, ranks, report,
              should_stop or (lambda: False), progress,
              held_out="split" if validation is None else str(validation_file or "file"),
              lineage=resume.record.parent if resume is not None else None,
              replacing=replaces)
    if parent is not None:  # what the parent scores on this text before any step
        run.lineage = dataclasses.replace(parent.lineage(),
                                          zero_shot_loss=run.validation_loss(),
                                          new_symbols=tuple(parent.new_characters(text.vocab)))
    report.on_start(run.describe(resume is not None))
    run.metrics = MetricsLog(run_dir, progress.step if resume is not None else None,
                             warn=report.on_message, deferred=replaces
                             ) if ranks.is_main else None
    if cfg.time_limit:  # room for the last evaluation, timed on a piece of it
        progress.eval_seconds = 1.2 * text.validation.probe(net.model) + 0.2
    ending = run.loop(state)
    result = run.finish(ending)
    report.on_end(result)
    return result


def seed_generators(seed: int, dev: torch.device) -> None:
    """Seed the global generators a run on `dev` draws from: the CPU's, and `dev`'s own
    when it is a GPU (torch.manual_seed would also queue a seed for every other device).
    `charrnn.training.launch.train` gives the caller's states back afterwards."""
    torch.default_generator.manual_seed(seed)
    if dev.type == "cuda":
        with torch.cuda.device(dev):
            torch.cuda.manual_seed(seed)
    elif dev.type == "mps":
        torch.mps.manual_seed(seed)


def build_network(config: ModelConfig, cfg: TrainConfig, dev: torch.device,
                  ranks: Ranks, weights: dict[str, torch.Tensor] | None = None) -> Network:
    """A model on `dev` (fresh, or holding `weights`), wrapped for a distributed job, with
    its optimiser and (with `ema`) its weight average."""
    model = CharRNN(config)
    if weights is not None:  # a parent's; label weights are the child's own, fresh
        kept = {k: v for k, v in weights.items() if not k.startswith("label_")}
        model.load_state_dict({**model.state_dict(), **kept})
    model = model.to(dev)
    model.train()
    forward: nn.Module = model
    if ranks.active:
        forward = DistributedDataParallel(model,
                                          device_ids=[dev] if dev.type == "cuda" else None)
        seed_generators(cfg.seed + ranks.rank, dev)  # same weights, different dropout masks
    average = WeightAverage(model, cfg.ema) if cfg.ema else None
    return Network(model, forward, make_optimizer(model, cfg), average)


def restore(resume: checkpoint.Checkpoint, net: Network, batcher: StreamBatcher,
            progress: Progress, ranks: Ranks, batch_size: int, dev: torch.device) -> State:
    """Load the run's weights, optimiser, average and random generator; put the batcher
    and the progress where it stopped; return this process's rows of the carried state."""
    state = saved_state.restore(resume.tensors, net.model, net.optimizer,
                                net.average.model if net.average is not None else None,
                                ranks.rank)
    rows = ranks.rows(batch_size)
    record = resume.record
    batcher.position = StreamPosition(record.epoch, record.window)
    progress.step, progress.evaluated_at = record.step, record.step
    # runs saved before the count was kept: full windows, as they were counted then
    progress.chars = (record.chars_seen if record.chars_seen is not None else
                      record.step * batch_size * ranks.world * record.train.seq_len)
    progress.scores = Scores.from_record(record.metrics)
    progress.started -= record.elapsed_seconds
    return tuple(part[:, rows].to(dev) for part in state)


@dataclass
class Run:
    """A run in progress: what is fixed for it, and its `Progress`. The methods are the
    loop's actions, so the loop itself reads as the list of them."""

    corpus: PreparedCorpus
    text: TrainingText
    cfg: TrainConfig
    net: Network
    batcher: StreamBatcher | DocumentBatcher
    run_dir: Path
    device: torch.device
    dtype: torch.dtype  # of the forward pass: fp32, or bf16 autocast
    ranks: Ranks
    report: Reporter
    should_stop: Callable[[], bool]
    progress: Progress
    held_out: str = "split"  # "split" (the corpus's own) or the --val-file's path
    lineage: Lineage | None = None  # the model a fine-tuning run started from
    replacing: bool = False  # an older run in run_dir, cleared at this one's first save
    metrics: MetricsLog | None = None  # rank 0's metrics.jsonl
    state: State = ()  # what every stream carries into its next window
    by_source: dict[str, float] = field(default_factory=dict)  # the last evaluation's
    samples: dict[str, str] = field(default_factory=dict)  # the last evaluation's
    _text_format: TextFormat | None = field(default=None, repr=False)
    _words: torch.Tensor | None = field(default=None, repr=False)

    @property
    def words(self) -> torch.Tensor:
        """The corpus's word list, kept in every checkpoint (`data/word_list.py`);
        listed once, at the first save."""
        if self._words is None:
            self._words = word_list.to_tensor(word_list.corpus_words(self.corpus))
        return self._words

    def __post_init__(self) -> None:
        self.budget = Budget.of(self.cfg, self.batcher.windows_per_epoch)
        self.rows = self.ranks.rows(self.cfg.batch_size)

    def loop(self, state: State) -> str:
        """Train until a stop rule ends the run; returns why: "budget", "interrupted" or
        "patience"."""
        self.state, progress, cfg = state, self.progress, self.cfg
        progress.lr = learning_rate(cfg, progress.step, 0.0)
        while True:
            # one clock and one stop request for all processes: the maximum over them
            stop, elapsed, spare = self.ranks.agree_max(
                [float(self.should_stop()), progress.elapsed(), progress.reserve()])
            if self.budget.used(progress.step, elapsed, spare) >= 1.0:
                return "budget"
            if stop:
                return "interrupted"
            self.train_window(self.budget.used(progress.step, elapsed, spare))
            evaluated = progress.step % cfg.eval_every == 0
            if evaluated:
                self.evaluate_and_save()
            elif cfg.checkpoint_every is not None and progress.step % cfg.checkpoint_every == 0:
                self.save(runs.LATEST, with_training_state=True)
            if evaluated or progress.step % cfg.log_every == 0:
                self.log(evaluated)
            if evaluated and cfg.patience is not None and progress.scores.stale >= cfg.patience:
                self.report.on_message(
                    f"stopping early: validation loss has not improved in "
                    f"{progress.scores.stale} evaluations (`patience` {cfg.patience})")
                return "patience"

    def train_window(self, budget_used: float) -> None:
        """One step on the next window of every stream, at the scheduled learning rate."""
        started, progress, net = time.perf_counter(), self.progress, self.net
        x, y, fresh = self.batcher.next()  # fresh: a new epoch, or a new batch of documents
        restarts = self.batcher.restarts(x)  # packed documents: where each one begins
        chars = int((y != IGNORE).sum())  # every process's rows; padding is not counted
        x, y = to_device(x[self.rows], self.device), to_device(y[self.rows], self.device)
        if restarts is not None:
            restarts = to_device(restarts[self.rows], self.device)
        if fresh:
            self.state = net.model.initial_state(self.cfg.batch_size)
        progress.lr = learning_rate(self.cfg, progress.step, budget_used)
        for group in net.optimizer.param_groups:
            group["lr"] = progress.lr
        loss, state = train_step(net.forward, net.optimizer, x, y, self.state,
                                 self.cfg.grad_clip, self.dtype, self.cfg.bptt_steps,
                                 restarts)
        if net.average is not None:
            net.average.update(progress.step + 1)
        loss_value = self.agreed_loss(loss.item(), progress.step + 1)
        self.state = detach_state(state)
        now = time.perf_counter()
        progress.stepped(loss_value, now - started, chars)
        self.report.on_step(StepStats(
            step=progress.step, epoch=self.batcher.position.epoch, loss=loss_value,
            lr=progress.lr, chars_per_sec=chars / max(now - started, 1e-9),
            elapsed=now - progress.started,
            fraction=min(1.0, self.budget.used(progress.step, now - progress.started,
                                               progress.reserve())),
        ))

    def agreed_loss(self, loss: float, step: int) -> float:
        """The step's loss, averaged over processes so that every process stops on a bad
        one, not just the one that saw it."""
        if self.ranks.active:
            loss = self.ranks.sum([loss])[0] / self.ranks.world
        if not math.isfinite(loss):
            raise CharRNNError(
                f"training loss became {loss} at step {step}; try a lower `lr` "
                f"(the last good checkpoint is kept: {self.run_dir / runs.LATEST})")
        return loss

    def evaluate_and_save(self) -> None:
        """Score the whole validation text (per source too), draw the samples, write
        `latest` (and `best` on a new best)."""
        started, progress = time.perf_counter(), self.progress
        improved = progress.scores.record(self.validation_loss(), progress.step)
        self.by_source = dict(getattr(self.text.validation, "last", {}))
        self.samples = (glimpses(self.net.evaluated, self.text.vocab, self.text_format,
                                 self.cfg.seed + progress.step)
                        if self.cfg.samples and self.ranks.is_main else {})
        self.save(runs.LATEST, with_training_state=True)
        if improved:
            self.save(runs.BEST, with_training_state=False)
        progress.eval_seconds = time.perf_counter() - started
        progress.evaluated_at = progress.step
        self.report.on_eval(progress.step, progress.scores.val_loss, improved)
        if hasattr(self.report, "on_detail") and (self.by_source or self.samples):
            self.report.on_detail(EvalDetail(progress.step, self.by_source, self.samples))

    @property
    def text_format(self) -> TextFormat:
        """What a text is to this run's model, made once from the prepared corpus."""
        if self._text_format is None:
            self._text_format = text_format_of(
                self.text.vocab, self.corpus.data.documents, self.corpus.files is not None,
                self.net.model.config.label_input)
        return self._text_format

    def validation_loss(self) -> float:
        """The evaluated weights' loss on the whole validation text, over all processes."""
        nats, total = self.ranks.sum(list(self.text.validation.sums(self.net.evaluated)))
        return nats / total

    def save(self, name: str, with_training_state: bool) -> None:
        """Write a checkpoint: the whole training state for `latest`, or only the evaluated
        weights for `best`. Every process takes part; rank 0 writes."""
        net, ranks = self.net, self.ranks
        if with_training_state:  # every process's streams and random generator
            whole = tuple(ranks.gather_rows(part) for part in self.state)
            tensors = saved_state.training_tensors(
                net.model, net.optimizer, whole, net.average and net.average.model,
                ranks.gather_objects(torch.get_rng_state()))
        else:
            tensors = checkpoint.model_tensors(net.evaluated)
        if ranks.is_main:
            self.take_over()
            checkpoint.save(self.run_dir / name, {**tensors, word_list.TENSOR: self.words},
                            self.record())

    def take_over(self) -> None:
        """Before this run's first checkpoint: clear the older run it replaces, and start
        its metrics file with the records held until now."""
        if not self.replacing:
            return
        runs.clear(self.run_dir)
        if self.metrics is not None:
            self.metrics.start()
        self.replacing = False

    @property
    def lineage_dict(self) -> dict | None:
        """The lineage as reporters and `TrainResult` give it."""
        return self.lineage.to_dict() if self.lineage is not None else None

    def record(self) -> RunRecord:
        """What the checkpoint says of the run: configs, vocabulary, corpus, position and
        scores."""
        progress, position = self.progress, self.batcher.position
        return RunRecord(
            model=self.net.model.config, train=self.cfg, data=self.corpus.data,
            vocab=self.text.vocab, corpus=CorpusRecord.from_dict(self.corpus.describe()),
            step=progress.step, chars_seen=progress.chars, epoch=position.epoch,
            window=position.window, elapsed_seconds=progress.elapsed(),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            metrics=progress.scores.to_record(), processes=self.ranks.world,
            validation=self.held_out, parent=self.lineage,
            val_by_source=dict(self.by_source), text_format=self.text_format)

    def log(self, evaluated: bool) -> None:
        """One metrics line: means over the steps since the previous line."""
        progress = self.progress
        loss, chars, seconds = progress.take_window()
        if self.metrics is None:
            return
        self.metrics.append(
            step=progress.step, elapsed=round(progress.elapsed(), 3),
            chars=progress.chars, train_loss=loss,
            val_loss=finite(progress.scores.val_loss) if evaluated else None, lr=progress.lr,
            chars_per_sec=round(chars / seconds, 1)
            if seconds > 0 else None,
            val_by_source=self.by_source if evaluated else None,
            samples=self.samples if evaluated else None)

    def finish(self, ending: str) -> TrainResult:
        """Save where an interrupted run stopped, or evaluate a finished one a last time."""
        progress = self.progress
        if ending == "interrupted":
            self.save(runs.LATEST, with_training_state=True)
        elif progress.evaluated_at != progress.step:
            self.evaluate_and_save()
            self.log(evaluated=True)
        scores = progress.scores
        return TrainResult(
            run_dir=self.run_dir, steps=progress.step,
            epochs=progress.step / self.batcher.windows_per_epoch,
            elapsed=progress.elapsed(), chars_seen=progress.chars,
            val_loss=scores.val_loss, best_val_loss=scores.best_loss,
            best_step=scores.best_step, parameters=self.net.model.num_parameters,
            interrupted=ending == "interrupted", stopped_early=ending == "patience",
            parent=self.lineage_dict, by_source=self.by_source or None,
        )

    def describe(self, resumed: bool) -> RunInfo:
        """What the reporter is told when training starts."""
        cfg, model, text = self.cfg, self.net.model, self.text
        return RunInfo(
            run_dir=self.run_dir, level=text.vocab.level,
            parameters=model.num_parameters, vocab_size=len(text.vocab),
            train_chars=text.train_chars, val_chars=text.val_chars, batch_size=cfg.batch_size,
            seq_len=cfg.seq_len, total_steps=self.budget.steps, time_limit=cfg.time_limit,
            resumed_from=self.progress.step if resumed else None,
            threads=torch.get_num_threads(), device=str(self.device),
            precision="bf16" if self.dtype == torch.bfloat16 else "fp32",
            processes=self.ranks.world,
            streams=(self.rows.start, self.rows.stop, cfg.batch_size * self.ranks.world),
            documents=text.documents, padding=text.padding, parent=self.lineage_dict,
            sources=text.sources or (), labels=text.vocab.labels,
            left_out=self.corpus.left_out,
        )
