"""From a plan to a finished run: read the corpus, encode a validation file, train.
`charrnn train` and `charrnn.train()` both come through here.

A run being replaced (`overwrite`) is cleared by the training loop only when the new run
writes its first checkpoint, so a bad file, a bad parent or a run that fails early never
costs an earlier run its checkpoints or its metrics. `train` gives its caller back the
thread count and the global random generators' states it found: training seeds them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from charrnn.data.cache import PreparedCorpus, Progress, encode_validation, prepare
from charrnn.data.collection import prepare_files
from charrnn.training.device import resolve_device, use_threads
from charrnn.training.distributed import Ranks, join_job
from charrnn.training.loop import train_model
from charrnn.training.parent import adopt
from charrnn.training.plan import RunPlan, plan_run
from charrnn.training.report import Reporter, SilentReporter, TrainResult


def train(corpus: str | Path | list[str | Path] | None = None, *, reporter: Reporter | None = None,
          should_stop: Callable[[], bool] | None = None, threads: int | None = None,
          device: str = "auto", precision: str = "auto", **options: Any) -> TrainResult:
    """What `charrnn train CORPUS --opt ...` does, from Python: the same plan (presets for
    a budget, resume, the run folder), the same loop. `options` are plan_run's (`size`,
    `out`, `resume`, `overwrite`, `val_file`, `init_from`) and any config field (`time="2m"`,
    `hidden_size=256`, ...). `reporter` hears progress; by default nothing is printed.
    The caller's thread count and random streams are as they were afterwards."""
    with threads_kept():
        use_threads(threads)
        ranks = join_job(device, precision)
        with generators_kept(resolve_device(device, ranks.local_rank)):
            plan = plan_job(ranks, corpus, threads=threads, device=device,
                            precision=precision, **options)
            return start(plan, reporter=reporter, should_stop=should_stop, ranks=ranks)


@contextlib.contextmanager
def threads_kept() -> Iterator[None]:
    """torch's CPU thread count as it was, once the block ends (--threads changes it)."""
    before = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


@contextlib.contextmanager
def generators_kept(dev: torch.device) -> Iterator[None]:
    """The states of the global generators a run on `dev` seeds and draws from (the CPU's
    and, on a GPU, that GPU's: see `loop.seed_generators`) as they were, once the block
    ends: the caller's random stream goes on as if no training had run."""
    gpu = [dev.index or 0] if dev.type in ("cuda", "mps") else []
    with torch.random.fork_rng(gpu, device_type=dev.type if gpu else None):
        yield


def plan_job(ranks: Ranks, corpus: str | Path | None, **options: Any) -> RunPlan:
    """`plan_run` in every process of a job, all of them writing where rank 0 plans to;
    no process goes on until all have planned (planning reads the folder rank 0 will
    change)."""
    plan = plan_run(corpus, **options)
    agreed = ranks.gather_objects(plan.run_dir)[0]
    if agreed != plan.run_dir:
        plan = plan_run(corpus, **{**options, "out": agreed})
    ranks.barrier()
    return plan


def prepare_corpus(plan: RunPlan, progress: Progress | None = None,
                   ranks: Ranks | None = None) -> PreparedCorpus:
    """The plan's corpus as cached ids; in a distributed job rank 0 prepares the cache
    and the others open it."""
    ranks = ranks or Ranks()
    if ranks.is_main:
        corpus = _prepare(plan, progress)
    ranks.barrier()  # the others find rank 0's cache ready
    if not ranks.is_main:
        corpus = _prepare(plan, None)
    return corpus


def _prepare(plan: RunPlan, progress: Progress | None) -> PreparedCorpus:
    if plan.paths:
        return prepare_files(list(plan.paths), plan.data, plan.name, progress, plan.written)
    return prepare(plan.source, plan.data, plan.name, progress)


def start(plan: RunPlan, corpus: PreparedCorpus | None = None, *,
          reporter: Reporter | None = None, should_stop: Callable[[], bool] | None = None,
          ranks: Ranks | None = None) -> TrainResult:
    """Train as planned, on `corpus` if it is already prepared."""
    ranks = ranks or Ranks()
    report = reporter or SilentReporter()
    corpus = corpus or prepare_corpus(plan, ranks=ranks)
    if plan.speaks is not None:  # a fine-tuning run reads its corpus in a merged vocabulary
        corpus = adopt(corpus, plan.speaks)
    validation = validation_ids(plan, corpus, report, ranks)
    return train_model(corpus, plan.model, plan.train, plan.run_dir, reporter=report,
                       validation=validation, validation_file=plan.val_file,
                       resume=plan.resume, should_stop=should_stop,
                       device=plan.device, precision=plan.precision, ranks=ranks,
                       parent=plan.parent, replaces=plan.replaces_run)


def validation_ids(plan: RunPlan, corpus: PreparedCorpus, report: Reporter,
                   ranks: Ranks) -> torch.Tensor | None:
    """The --val-file as ids (None: the corpus's tail is used); characters the training
    text lacks are left out, and the reporter is told which."""
    if plan.val_file is None:
        return None
    ids, dropped, examples = encode_validation(plan.val_file, corpus.vocab, plan.data,
                                               plan.data.val_max_chars)
    if dropped and ranks.is_main:
        report.on_message(
            f"{plan.val_file} has {dropped:,} character(s) the training text lacks "
            f"(e.g. {', '.join(map(repr, examples))}); they are left out of validation")
    return ids
