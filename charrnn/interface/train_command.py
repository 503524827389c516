"""`charrnn train`: its options, then a plan, the corpus, and the training loop.

What the options mean (presets, resume inheritance, the run folder) is the library's
(`training/plan.py`); this module parses, shows progress, and prints the resume hint.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from charrnn.config import DEFAULT_TIME_BUDGET, format_duration
from charrnn.interface import display
from charrnn.interface.options import (
    DATA,
    DEFAULT_DATA,
    DEFAULT_MODEL,
    DEFAULT_TRAIN,
    HARDWARE,
    MODEL,
    OPTIM,
    OUTPUT,
    one_line_errors,
)

# train's parameters that are not config fields: the plan takes them by name
_NOT_SETTINGS = {"ctx", "corpus", "size", "out", "resume", "overwrite", "val_file", "threads",
                 "device", "precision", "init_from"}


@one_line_errors
def train(
    ctx: typer.Context,
    corpus: Annotated[list[str] | None, typer.Argument(
        help="UTF-8 text file to learn; or folders, files and quoted globs ('poems/*.txt', "
             "'**' for any depth) to learn as one corpus of many files. Default: the "
             "Python standard library's source (offline, deterministic).",
        show_default=False)] = None,
    encoding: Annotated[str, typer.Option(
        help="Text encoding of the corpus (a byte-order mark is dropped).",
        rich_help_panel=DATA)] = DEFAULT_DATA.encoding,
    level: Annotated[Literal["char", "byte"], typer.Option(
        help="Tokens: Unicode characters, or raw bytes (any file at all trains).",
        rich_help_panel=DATA)] = DEFAULT_DATA.level,
    keep_newlines: Annotated[bool, typer.Option(
        help="Keep \\r\\n and \\r as they are instead of turning them into \\n.",
        rich_help_panel=DATA)] = DEFAULT_DATA.keep_newlines,
    documents: Annotated[Literal["lines", "paragraphs", "files"] | None, typer.Option(
        help="Learn a list of texts instead of one text: every non-empty line is one "
             "(lines), texts are separated by blank lines (paragraphs), or each file is one "
             "(files). Each is learned from the start, ends with an end symbol, and is "
             "sampled whole. Without it, many files are learned as one stream, each ended "
             "by an end symbol the model learns.",
        rich_help_panel=DATA, show_default=False)] = None,
    label_from: Annotated[Literal["dirname", "filename", "tab"] | None, typer.Option(
        help="Many files: give each file a label, the name of its folder (dirname) or its "
             "own name without extension (filename); or, with --documents lines, read "
             "each line as LABEL<TAB>text (tab). The model learns each label's style "
             "(sample --label) and can tell them apart (charrnn classify).",
        rich_help_panel=DATA, show_default=False)] = None,
    label_input: Annotated[Literal["vector", "prefix", "adapter", "auto"], typer.Option(
        help="How a label enters the network: a learned vector added at every step "
             "(vector); that and an output layer of each label's own (adapter, at most 64 "
             "labels); or only a symbol read before the text (prefix). auto, the default "
             "with --init-from: adapter up to 64 labels, else vector. docs/folders.md "
             "compares them.",
        rich_help_panel=MODEL)] = DEFAULT_MODEL.label_input,
    weights: Annotated[list[str] | None, typer.Option(
        "--weight", metavar="PATTERN=WEIGHT",
        help="Many files: draw the files whose name (or source) matches PATTERN this many "
             "times as often (above 0, at most 100), e.g. 'letters/*=3' or 'drafts/*=0.5' "
             "(repeatable; the last match wins). The start line shows each source's share.",
        rich_help_panel=DATA, show_default=False)] = None,
    strict: Annotated[bool, typer.Option(
        help="Many files: refuse a file that is not text in --encoding (binary, say) "
             "instead of skipping it.", rich_help_panel=DATA)] = DEFAULT_DATA.strict,
    batch_order: Annotated[Literal["length", "random", "packed"], typer.Option(
        help="With --documents: batches of documents of similar length (little padding), "
             "of documents drawn at random each epoch (more padding, batches not all "
             "one length), or rows filled with documents in a random order, one after "
             "another, the state restarting at each (little padding, mixed batches). "
             "A --time budget over 8 minutes (on 2 threads; scaled by the thread count) "
             "on a corpus under 500,000 bytes chooses random (measured best on a list "
             "of names).",
        rich_help_panel=DATA)] = DEFAULT_TRAIN.batch_order,
    val_frac: Annotated[float, typer.Option(
        help="Fraction of the text, taken from its end, held out for validation.",
        rich_help_panel=DATA)] = DEFAULT_TRAIN.val_frac,
    val_max_chars: Annotated[int, typer.Option(
        help="At most this many characters of validation text (keeps evaluation quick "
             "on huge corpora).", rich_help_panel=DATA)] = DEFAULT_DATA.val_max_chars,
    val_file: Annotated[Path | None, typer.Option(
        help="Validate on this file instead of the corpus's tail.", rich_help_panel=DATA,
        show_default=False)] = None,
    batch_size: Annotated[int, typer.Option(
        help="Number of contiguous text streams trained side by side.",
        rich_help_panel=DATA)] = DEFAULT_TRAIN.batch_size,
    seq_len: Annotated[int, typer.Option(
        help="Characters per stream per step (truncated-BPTT length).",
        rich_help_panel=DATA)] = DEFAULT_TRAIN.seq_len,
    bptt_steps: Annotated[int | None, typer.Option(
        help="Let the gradient flow back at most this many steps inside each --seq-len "
             "window (truncated BPTT with k2 < k1; every character still gets its loss). "
             "Default: the whole window.", show_default=False,
        rich_help_panel=DATA)] = None,
    size: Annotated[Literal["tiny", "small", "medium", "large", "xl"] | None, typer.Option(
        help="Model size preset (layers, units, dropout, lr, weight decay); the flags below "
             "override its values. Default: the size that fits the --time budget on this "
             "machine (medium for --steps or --epochs runs).",
        rich_help_panel=MODEL, show_default=False)] = None,
    init_from: Annotated[str | None, typer.Option(
        help="Fine-tune: start from this model's weights (a run folder, a checkpoint, or "
             "a model that ships with charrnn: english, english-small). Its architecture "
             "and level are kept, its vocabulary is merged with the corpus's by character, "
             "and the learning rate, warm-up, dropout and weight average are chosen for "
             "fine-tuning (flags given override them).",
        rich_help_panel=MODEL, show_default=False)] = None,
    model: Annotated[Literal["lstm", "gru", "rnn"], typer.Option(
        help="Recurrent cell.", rich_help_panel=MODEL)] = DEFAULT_MODEL.model,
    hidden_size: Annotated[int, typer.Option(
        help="Units per recurrent layer.", rich_help_panel=MODEL)] = DEFAULT_MODEL.hidden_size,
    num_layers: Annotated[int, typer.Option(
        help="Stacked recurrent layers.", rich_help_panel=MODEL)] = DEFAULT_MODEL.num_layers,
    embed_size: Annotated[int, typer.Option(
        help="Character embedding size.", rich_help_panel=MODEL)] = DEFAULT_MODEL.embed_size,
    dropout: Annotated[float, typer.Option(
        help="Dropout between layers and before the output head.",
        rich_help_panel=MODEL)] = DEFAULT_MODEL.dropout,
    weight_drop: Annotated[float, typer.Option(
        help="While training, drop this fraction of the recurrent (hidden-to-hidden) "
             "weights afresh at every step: a strong regulariser for a small corpus.",
        rich_help_panel=MODEL)] = DEFAULT_MODEL.weight_drop,
    tie_weights: Annotated[bool, typer.Option(
        help="Share one matrix between the character embedding and the output head "
             "(needs --embed-size equal to --hidden-size).",
        rich_help_panel=MODEL)] = DEFAULT_MODEL.tie_weights,
    lr: Annotated[float, typer.Option(
        help="Peak AdamW learning rate (after a short warm-up).",
        rich_help_panel=OPTIM)] = DEFAULT_TRAIN.lr,
    lr_schedule: Annotated[Literal["cosine", "linear", "constant"], typer.Option(
        help="cosine or linear: decay to --min-lr-frac x --lr by the end of the run's "
             "budget (with --time, by elapsed time); constant: keep --lr (so extending a "
             "run on --resume equals asking for the longer run at once).",
        rich_help_panel=OPTIM)] = DEFAULT_TRAIN.lr_schedule,
    min_lr_frac: Annotated[float, typer.Option(
        help="Where the decay ends, as a fraction of --lr.",
        rich_help_panel=OPTIM)] = DEFAULT_TRAIN.min_lr_frac,
    weight_decay: Annotated[float, typer.Option(
        help="AdamW weight decay on the weight matrices (not biases).",
        rich_help_panel=OPTIM)] = DEFAULT_TRAIN.weight_decay,
    ema: Annotated[float, typer.Option(
        help="Keep a moving average of the weights with this decay (e.g. 0.995) and "
             "evaluate and save that; 0: off.", rich_help_panel=OPTIM)] = DEFAULT_TRAIN.ema,
    grad_clip: Annotated[float, typer.Option(
        help="Clip the global gradient norm to this.",
        rich_help_panel=OPTIM)] = DEFAULT_TRAIN.grad_clip,
    steps: Annotated[int | None, typer.Option(
        help="Stop after this many steps in total (a resumed run counts from its start).",
 rich_help_panel=OPTIM,
        show_default=False)] = None,
    epochs: Annotated[float | None, typer.Option(
        help="Stop after this many passes over the training text.", rich_help_panel=OPTIM,
        show_default=False)] = None,
    time: Annotated[str | None, typer.Option(
        help=f"Stop after this wall-clock time, e.g. 90s, 5m, 1h. With no --steps, "
             f"--epochs or --time: {format_duration(DEFAULT_TIME_BUDGET)}.",
        rich_help_panel=OPTIM, show_default=False)] = None,
    seed: Annotated[int, typer.Option(
        help="Random seed (with --steps or --epochs the run is reproducible).",
        rich_help_panel=OPTIM)] = DEFAULT_TRAIN.seed,
    eval_every: Annotated[int, typer.Option(
        help="Evaluate on the whole validation text and checkpoint every N steps.",
        rich_help_panel=OUTPUT)] = DEFAULT_TRAIN.eval_every,
    patience: Annotated[int | None, typer.Option(
        help="Stop early after this many evaluations without a new best validation loss.",
        rich_help_panel=OPTIM, show_default=False)] = None,
    log_every: Annotated[int, typer.Option(
        help="Append a line to the run's metrics.jsonl every N steps (and at evaluations).",
        rich_help_panel=OUTPUT)] = DEFAULT_TRAIN.log_every,
    samples: Annotated[bool, typer.Option(
        help="Print a short sample (one per label) at each evaluation and keep it in "
             "metrics.jsonl.", rich_help_panel=OUTPUT)] = DEFAULT_TRAIN.samples,
    checkpoint_every: Annotated[int | None, typer.Option(
        help="Also write latest every N steps. Default: at each evaluation.",
        rich_help_panel=OUTPUT, show_default=False)] = None,
    resume: Annotated[bool, typer.Option(
        help="Continue the run in --out from its latest checkpoint, exactly where it stopped "
             "(a folder with no checkpoint yet starts fresh). Stop rules count the whole run.",
        rich_help_panel=OUTPUT)] = False,
    out: Annotated[Path | None, typer.Option(
        help="Run folder for checkpoints. Default: checkpoints/<corpus name>, numbered "
             "so an earlier run is never overwritten.",
        rich_help_panel=OUTPUT, show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option(
        help="Allow --out to replace the checkpoints of an earlier run.",
        rich_help_panel=OUTPUT)] = False,
    threads: Annotated[int | None, typer.Option(
        help="CPU threads for torch. Default: torch's choice, one per physical core.",
        rich_help_panel=HARDWARE, show_default=False)] = None,
    device: Annotated[Literal["auto", "cpu", "cuda", "mps"], typer.Option(
        help="Where to train: auto takes a CUDA GPU, then Apple MPS, then the CPU.",
        rich_help_panel=HARDWARE)] = "auto",
    precision: Annotated[Literal["auto", "fp32", "bf16"], typer.Option(
        help="bf16 autocast needs a GPU that computes in it; auto uses it where it can.",
        rich_help_panel=HARDWARE)] = "auto",
) -> None:
    """Learn a corpus and write latest/best checkpoints, with a progress display.

    Under torchrun (`torchrun --nproc_per_node=N -m charrnn train ...`) every process
    trains its own --batch-size streams with DistributedDataParallel; rank 0 writes."""
    from charrnn.model import runs
    from charrnn.training.device import use_threads
    from charrnn.training.distributed import join_job, shutdown
    from charrnn.training.interrupts import StopRequests
    from charrnn.training.launch import plan_job, prepare_corpus, start

    use_threads(threads)
    ranks = join_job(device, precision)
    plan = plan_job(ranks, _corpus(corpus), size=size, out=out, resume=resume, overwrite=overwrite,
                    val_file=val_file, threads=threads, device=device, precision=precision,
                    init_from=init_from, **_explicit(ctx))
    progress = display.TrainProgress() if ranks.is_main else display.RankLine(ranks.rank)
    try:
        with display.PrepareProgress(shown=ranks.is_main) as preparing:
            prepared = prepare_corpus(plan, preparing.update, ranks)
        preparing.done(prepared)
        with StopRequests() as stop:
            result = start(plan, prepared, reporter=progress, should_stop=stop, ranks=ranks)
    finally:
        progress.stop()
        shutdown(ranks)
    if result.interrupted:
        if ranks.is_main:
            again = ["train", *(corpus or []), "--out", str(plan.run_dir),
                     "--resume", *_stop_flags(ctx)]
            display.info(f"stopped at step {result.steps}; {plan.run_dir / runs.LATEST} holds "
                         f"it. Resume with: {resume_command(again, ranks.world)}")
        raise typer.Exit(stop.exit_code)


def resume_command(args: list[str], world: int) -> str:
    """The command line that continues an interrupted run: plain `charrnn`, or for a
    torchrun job the same number of processes (which `--resume` requires)."""
    import os

    if world == 1:
        return shlex.join(["charrnn", *args])
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    if local == world:  # one machine
        return shlex.join(["torchrun", "--standalone", f"--nproc_per_node={world}", "-m",
                           "charrnn", *args])
    return (f"the same torchrun launch on every node ({world} processes in all) with "
            f"{shlex.join(['-m', 'charrnn', *args])}")


def _corpus(paths: list[str] | None) -> str | list[str] | None:
    """One path as one path (a file is read as before), several as a list."""
    if not paths:
        return None
    return paths[0] if len(paths) == 1 else list(paths)


def _stop_flags(ctx: typer.Context) -> list[str]:
    """The stop rules given, as flags for the resume hint."""
    flags = []
    for name in ("steps", "epochs", "time"):
        if ctx.params.get(name) is not None:
            flags += [f"--{name}", str(ctx.params[name])]
    return flags


def _explicit(ctx: typer.Context) -> dict[str, Any]:
    """The settings given on the command line (not left at their default), by name: the
    plan reads the rest from the presets, the run being resumed, or the defaults."""
    return {name: tuple(value) if isinstance(value, list) else value
            for name, value in ctx.params.items()
            if name not in _NOT_SETTINGS
            and ctx.get_parameter_source(name).name not in ("DEFAULT", "DEFAULT_MAP")}
