"""Typer commands: flags -> configs -> library calls -> output; errors -> one line.

Option defaults come from the config dataclasses, and range checks live in the library,
so `--help`, the Python API and the CLI cannot disagree. torch is imported inside the
commands so that `--help` answers at once.
"""

from __future__ import annotations

import functools
import json
import random
import shlex
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from charrnn.config import (
    DEFAULT_TIME_BUDGET,
    BeamConfig,
    DataConfig,
    ModelConfig,
    SampleConfig,
    TrainConfig,
    format_duration,
)
from charrnn.errors import CharRNNError

app = typer.Typer(
    name="charrnn",
    help="Character-level RNN text generator: train on any text, then sample or beam-search.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_M, _T, _D, _S, _B = ModelConfig(), TrainConfig(), DataConfig(), SampleConfig(), BeamConfig()
DATA, MODEL, OPTIM, OUTPUT, HARDWARE = "Data", "Model", "Optimisation", "Output", "Hardware"
CheckpointOption = Annotated[Path | None, typer.Option(
    help="Checkpoint file or run folder (a folder means its best checkpoint). "
         "Default: the most recently trained run under checkpoints/.",
    show_default=False)]
LengthOption = Annotated[int, typer.Option(help="Characters to generate after the prime.")]
PrimeOption = Annotated[str, typer.Option(
    help="Text to continue (printed first). Empty: start as at the beginning of a text.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
WeightsOption = Annotated[Literal["fp32", "fp16", "int8"], typer.Option(
    help="Precision of the decoding weights: fp32 is exact; fp16 and int8 are faster and "
         "slightly approximate (their cost in bits/char is in the README).")]
StopOption = Annotated[list[str] | None, typer.Option(
    help="End a text right after this string (repeatable). Escapes like \\n are understood.",
    show_default=False, parser=lambda s: s.encode("latin-1", "backslashreplace")
    .decode("unicode_escape"))]


def one_line_errors(command):
    """Turn library errors into one stderr line and a non-zero exit, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from charrnn.interface import display

        try:
            return command(*args, **kwargs)
        except CharRNNError as exc:
            display.error(str(exc))
            raise typer.Exit(1) from None
        except KeyboardInterrupt as exc:
            display.error("interrupted")
            raise typer.Exit(128 + getattr(exc, "signum", 2)) from None
        except BrokenPipeError:
            sys.stderr.close()
            raise typer.Exit(1) from None

    return wrapper


def _load(checkpoint: Path | None, weights: str = "fp32"):
    from charrnn.decoding.language_model import LanguageModel
    from charrnn.interface import display
    from charrnn.model import checkpoint as ckpt

    path = ckpt.resolve(checkpoint)
    if checkpoint is None:
        display.info(f"using checkpoint {path}")
    return LanguageModel.from_checkpoint(ckpt.load(path), weights)


def _generated(lm, text: str) -> dict[str, str]:
    """JSON fields for generated text; byte-level output also keeps its exact bytes."""
    fields = {"text": lm.vocab.display(text)}
    if lm.vocab.level == "byte":
        fields["bytes_hex"] = text.encode("utf-8", "surrogateescape").hex()
    return fields


def _default_run_dir(name: str) -> Path:
    """checkpoints/<name>, or <name>-2, -3... so a new run never overwrites an old one."""
    from charrnn.model import checkpoint as ckpt

    candidate, n = ckpt.DEFAULT_ROOT / name, 1
    while (candidate / ckpt.LATEST).exists() or (candidate / ckpt.BEST).exists():
        n += 1
        candidate = ckpt.DEFAULT_ROOT / f"{name}-{n}"
    return candidate


@app.command(
    epilog=(
        "Examples:\n\n"
        "  charrnn train                                  # built-in corpus: Python's stdlib\n\n"
        "  charrnn train corpus.txt --time 10m\n\n"
        "  charrnn train corpus.txt --model gru --hidden-size 256 --steps 2000 --out runs/gru"
    )
)
@one_line_errors
def train(
    ctx: typer.Context,
    corpus: Annotated[Path | None, typer.Argument(
        help="UTF-8 text file to learn. Default: the Python standard library's source "
             "(offline, deterministic).", show_default=False)] = None,
    encoding: Annotated[str, typer.Option(
        help="Text encoding of the corpus (a byte-order mark is dropped).",
        rich_help_panel=DATA)] = _D.encoding,
    level: Annotated[Literal["char", "byte"], typer.Option(
        help="Tokens: Unicode characters, or raw bytes (any file at all trains).",
        rich_help_panel=DATA)] = _D.level,
    keep_newlines: Annotated[bool, typer.Option(
        help="Keep \\r\\n and \\r as they are instead of turning them into \\n.",
        rich_help_panel=DATA)] = _D.keep_newlines,
    val_frac: Annotated[float, typer.Option(
        help="Fraction of the text, taken from its end, held out for validation.",
        rich_help_panel=DATA)] = _T.val_frac,
    val_max_chars: Annotated[int, typer.Option(
        help="At most this many characters of validation text (keeps evaluation quick "
             "on huge corpora).", rich_help_panel=DATA)] = _D.val_max_chars,
    val_file: Annotated[Path | None, typer.Option(
        help="Validate on this file instead of the corpus's tail.", rich_help_panel=DATA,
        show_default=False)] = None,
    batch_size: Annotated[int, typer.Option(
        help="Number of contiguous text streams trained side by side.",
        rich_help_panel=DATA)] = _T.batch_size,
    seq_len: Annotated[int, typer.Option(
        help="Characters per stream per step (truncated-BPTT length).",
        rich_help_panel=DATA)] = _T.seq_len,
    size: Annotated[Literal["tiny", "small", "medium", "large", "xl"] | None, typer.Option(
        help="Model size preset (layers, units, dropout, lr, weight decay); the flags below "
             "override its values. Default: the size that fits the --time budget on this "
             "machine (medium for --steps or --epochs runs).",
        rich_help_panel=MODEL, show_default=False)] = None,
    model: Annotated[Literal["lstm", "gru", "rnn"], typer.Option(
        help="Recurrent cell.", rich_help_panel=MODEL)] = _M.model,
    hidden_size: Annotated[int, typer.Option(
        help="Units per recurrent layer.", rich_help_panel=MODEL)] = _M.hidden_size,
    num_layers: Annotated[int, typer.Option(
        help="Stacked recurrent layers.", rich_help_panel=MODEL)] = _M.num_layers,
    embed_size: Annotated[int, typer.Option(
        help="Character embedding size.", rich_help_panel=MODEL)] = _M.embed_size,
    dropout: Annotated[float, typer.Option(
        help="Dropout between layers and before the output head.",
        rich_help_panel=MODEL)] = _M.dropout,
    tie_weights: Annotated[bool, typer.Option(
        help="Share one matrix between the character embedding and the output head "
             "(needs --embed-size equal to --hidden-size).",
        rich_help_panel=MODEL)] = _M.tie_weights,
    lr: Annotated[float, typer.Option(
        help="Peak AdamW learning rate (after a short warm-up).",
        rich_help_panel=OPTIM)] = _T.lr,
    lr_schedule: Annotated[Literal["cosine", "linear", "constant"], typer.Option(
        help="cosine or linear: decay to --min-lr-frac x --lr by the end of the run's "
             "budget (with --time, by elapsed time); constant: keep --lr (so extending a "
             "run on --resume equals asking for the longer run at once).",
        rich_help_panel=OPTIM)] = _T.lr_schedule,
    min_lr_frac: Annotated[float, typer.Option(
        help="Where the decay ends, as a fraction of --lr.",
        rich_help_panel=OPTIM)] = _T.min_lr_frac,
    weight_decay: Annotated[float, typer.Option(
        help="AdamW weight decay on the weight matrices (not biases).",
        rich_help_panel=OPTIM)] = _T.weight_decay,
    ema: Annotated[float, typer.Option(
        help="Keep a moving average of the weights with this decay (e.g. 0.995) and "
             "evaluate and save that; 0: off.", rich_help_panel=OPTIM)] = _T.ema,
    grad_clip: Annotated[float, typer.Option(
        help="Clip the global gradient norm to this.", rich_help_panel=OPTIM)] = _T.grad_clip,
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
        rich_help_panel=OPTIM)] = _T.seed,
    eval_every: Annotated[int, typer.Option(
        help="Evaluate on the whole validation text and checkpoint every N steps.",
        rich_help_panel=OUTPUT)] = _T.eval_every,
    patience: Annotated[int | None, typer.Option(
        help="Stop early after this many evaluations without a new best validation loss.",
        rich_help_panel=OPTIM, show_default=False)] = None,
    log_every: Annotated[int, typer.Option(
        help="Append a line to the run's metrics.jsonl every N steps (and at evaluations).",
        rich_help_panel=OUTPUT)] = _T.log_every,
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
    from charrnn.data.cache import encode_validation, prepare
    from charrnn.data.reading import BUILTIN_NAME, builtin_corpus_file
    from charrnn.interface import display
    from charrnn.model import checkpoint as ckpt
    from charrnn.training.interrupts import StopRequests
    from charrnn.training.loop import train as run_training
    from charrnn.training.presets import SIZES
    from charrnn.training.resumable import check_settings, clear_run

    if threads is not None:
        if threads < 1:
            raise CharRNNError(f"--threads must be >= 1, not {threads}")
        import torch

        torch.set_num_threads(threads)
    ranks = _join_job(device, precision)
    explicit = _explicit(ctx)
    options = _sized(_train_options(ctx), size, resume, explicit)
    if size is not None:  # an explicit preset counts as explicit flags on --resume
        explicit |= set(SIZES[size])
    name = corpus.stem if corpus is not None else BUILTIN_NAME
    run_dir = out if out is not None else (
        ckpt.DEFAULT_ROOT / name if resume else _default_run_dir(name))
    run_dir = ranks.gather_objects(run_dir)[0]  # every process writes where rank 0 does
    has_run = (run_dir / ckpt.LATEST).exists() or (run_dir / ckpt.BEST).exists()
    resume_from = None
    if resume and (run_dir / ckpt.LATEST).exists():
        resume_from = ckpt.load(run_dir / ckpt.LATEST)
        options = _inherit(options, resume_from.meta, explicit)
    elif has_run and not overwrite:
        raise CharRNNError(f"{run_dir} already holds a trained run; pass --resume to continue "
                           "it, --overwrite to replace it, or choose another --out")
    model_config = _config(ModelConfig, options)
    train_config = _config(TrainConfig, options)
    data_config = _config(DataConfig, options)
    if resume_from is not None:
        check_settings(resume_from, model_config, train_config)

    ranks.barrier()  # all have checked the folder before rank 0 changes it
    source = corpus if corpus is not None else builtin_corpus_file()
    if ranks.is_main:
        with display.PrepareProgress() as shown:
            prepared = prepare(source, data_config, name, shown.update)
        shown.done(prepared)
    ranks.barrier()  # the others find rank 0's cache ready
    if not ranks.is_main:
        prepared = prepare(source, data_config, name)
    validation = None
    if val_file is not None:
        validation, dropped, examples = encode_validation(val_file, prepared.vocab,
                                                          data_config, val_max_chars)
        if dropped and ranks.is_main:
            display.warning(
                f"{val_file} has {dropped:,} character(s) the training text lacks "
                f"(e.g. {', '.join(map(repr, examples))}); they are left out of validation")
    if overwrite and resume_from is None and ranks.is_main:
        clear_run(run_dir)
    ranks.barrier()
    progress = display.TrainProgress() if ranks.is_main else display.RankLine(ranks.rank)
    try:
        with StopRequests() as stop:
            result = run_training(prepared, model_config, train_config, run_dir, progress,
                                  validation, resume_from, should_stop=stop, device=device,
                                  precision=precision, ranks=ranks)
    finally:
        progress.stop()
        from charrnn.training.distributed import shutdown

        shutdown(ranks)
    if result.interrupted:
        if ranks.is_main:
            again = ["train", *([str(corpus)] if corpus else []), "--out", str(run_dir),
                     "--resume", *_stop_flags(ctx)]
            display.info(f"stopped at step {result.steps}; {run_dir / ckpt.LATEST} holds it. "
                         f"Resume with: {resume_command(again, ranks.world)}")
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


def _join_job(device: str, precision: str):
    """This process's ranks under torchrun (Ranks() otherwise), on the chosen device;
    an absent device or precision is refused before any work."""
    import os

    from charrnn.training.device import resolve_device, resolve_precision
    from charrnn.training.distributed import from_environment

    chosen = resolve_device(device, int(os.environ.get("LOCAL_RANK", "0")))
    resolve_precision(precision, chosen)
    return from_environment(chosen.type)


_OPTION_TO_FIELD = {"time": "time_limit"}
_STOP_OPTIONS = ("steps", "epochs", "time")


def _explicit(ctx: typer.Context) -> set[str]:
    """Config fields the user set on the command line (not left at their default)."""
    return {_OPTION_TO_FIELD.get(name, name) for name in ctx.params
            if ctx.get_parameter_source(name).name not in ("DEFAULT", "DEFAULT_MAP")}


def _train_options(ctx: typer.Context) -> dict:
    from charrnn.config import parse_duration

    options = {_OPTION_TO_FIELD.get(k, k): v for k, v in ctx.params.items()}
    if options["time_limit"] is not None:
        options["time_limit"] = parse_duration(options["time_limit"])
    return options


def _sized(options: dict, size: str | None, resume: bool, explicit: set[str]) -> dict:
    """Fill in a size preset: the one asked for, else (for a new run) the one the time
    budget buys on this machine."""
    import torch

    from charrnn.training.presets import apply_size, size_for_budget

    if size is None:
        if resume:
            return options
        budget = options["time_limit"]
        if budget is None and options["steps"] is None and options["epochs"] is None:
            budget = DEFAULT_TIME_BUDGET
        size = "medium" if budget is None else size_for_budget(budget, torch.get_num_threads())
    return apply_size(size, options, explicit)


def _inherit(options: dict, meta: dict, explicit: set[str]) -> dict:
    """On --resume, settings not given on the command line come from the run itself;
    stop rules always come from the command line (they count the whole run)."""
    saved = {**(meta.get("data") or {}), **(meta.get("train") or {}), **(meta.get("model") or {})}
    stops = {_OPTION_TO_FIELD.get(s, s) for s in _STOP_OPTIONS}
    return {k: (saved[k] if k in saved and k not in explicit and k not in stops else v)
            for k, v in options.items()}


def _config(cls, options: dict):
    import dataclasses

    return cls(**{f.name: options[f.name] for f in dataclasses.fields(cls)
                  if f.name in options}).validate()


def _stop_flags(ctx: typer.Context) -> list[str]:
    flags = []
    for name in _STOP_OPTIONS:
        if ctx.params.get(name) is not None:
            flags += [f"--{name}", str(ctx.params[name])]
    return flags


@app.command(
    epilog=(
        "Examples:\n\n"
        "  charrnn sample --temperature 0.8 --length 500 --prime \"ROMEO:\"\n\n"
        "  charrnn sample --temperature 0 --length 200          # greedy\n\n"
        "  charrnn sample --top-p 0.9 --repetition-penalty 1.2 --stop \"\\n\\n\"\n\n"
        "  charrnn sample --num-samples 4 --length 80 --seed 7 --json"
    )
)
@one_line_errors
def sample(
    checkpoint: CheckpointOption = None,
    temperature: Annotated[float, typer.Option(
        help="Softmax temperature: lower is safer, higher is wilder; 0 is greedy argmax."
    )] = _S.temperature,
    length: LengthOption = 500,
    prime: PrimeOption = "",
    top_k: Annotated[int | None, typer.Option(
        help="Draw only from the k most likely characters.", show_default=False)] = None,
    top_p: Annotated[float | None, typer.Option(
        help="Nucleus: draw only from the smallest set of characters holding this much "
             "probability.", show_default=False)] = None,
    repetition_penalty: Annotated[float, typer.Option(
        help="Above 1, characters already in the prime or the text become rarer."
    )] = _S.repetition_penalty,
    stop: StopOption = None,
    num_samples: Annotated[int, typer.Option(
        help="Independent samples, generated together in one batch.")] = 1,
    seed: Annotated[int | None, typer.Option(
        help="Random seed for reproducible text (--json reports the one used).",
        show_default=False)] = None,
    weights: WeightsOption = "fp32",
    as_json: JsonOption = False,
) -> None:
    """Generate text, streamed to stdout as it is produced."""
    lm = _load(checkpoint, weights)
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    options = {"temperature": temperature, "prime": prime, "seed": seed, "top_k": top_k,
               "top_p": top_p, "repetition_penalty": repetition_penalty, "stop": stop or []}
    if num_samples != 1:
        texts = lm.samples(num_samples, length, **options)
        if as_json:
            print(json.dumps([{"checkpoint": str(lm.path), **_generated(lm, text),
                               **options, "length": length, "weights": weights}
                              for text in texts],
                             ensure_ascii=False))
            return
        for k, text in enumerate(texts, 1):
            sys.stdout.write(f"--- sample {k} of {len(texts)} ---\n{prime}"
                             f"{lm.vocab.display(text)}\n\n")
        sys.stdout.flush()
        return
    pieces = lm.stream(length, **options)
    if as_json:
        print(json.dumps({"checkpoint": str(lm.path), **_generated(lm, "".join(pieces)),
                          **options, "length": length, "weights": weights},
                         ensure_ascii=False))
        return
    out = sys.stdout
    out.write(prime)
    out.flush()
    for piece in pieces:
        out.write(lm.vocab.display(piece))
        out.flush()
    out.write("\n")
    out.flush()


@app.command(
    epilog=(
        "Examples:\n\n"
        "  charrnn beam --width 8 --length 120 --prime \"ROMEO:\"\n\n"
        "  charrnn beam --width 16 --n-best 5 --length 40 --json\n\n"
        "  charrnn beam --no-repeat-ngram 4 --stop \"\\n\" --length-penalty 1.0 --n-best 3"
    )
)
@one_line_errors
def beam(
    checkpoint: CheckpointOption = None,
    width: Annotated[int, typer.Option(help="Beams kept at every step.")] = _B.width,
    length: LengthOption = 120,
    prime: PrimeOption = "",
    n_best: Annotated[int, typer.Option(help="How many of the best beams to print.")]
    = _B.n_best,
    stop: StopOption = None,
    length_penalty: Annotated[float, typer.Option(
        help="Rank finished beams by log-prob / length^ALPHA (0: by log-prob).",
        metavar="ALPHA")] = _B.length_penalty,
    no_repeat_ngram: Annotated[int, typer.Option(
        help="Forbid a beam to repeat any character n-gram of this size (0: off).",
        metavar="N")] = _B.no_repeat_ngram,
    weights: WeightsOption = "fp32",
    as_json: JsonOption = False,
) -> None:
    """The most likely continuations, each with its score and total log-probability."""
    from charrnn.decoding.beam import score

    lm = _load(checkpoint, weights)
    results = lm.beam(length, width, prime, n_best, stop or [], length_penalty,
                      no_repeat_ngram)
    ranked = [(text, score(lp, len(lm.vocab.encode(text)), length_penalty), lp)
              for text, lp in results]
    if as_json:
        print(json.dumps({
            "checkpoint": str(lm.path), "prime": prime, "width": width, "length": length,
            "length_penalty": length_penalty, "no_repeat_ngram": no_repeat_ngram,
            "stop": stop or [], "weights": weights,
            "results": [{"rank": i, **_generated(lm, text), "score": sc, "logprob": lp}
                        for i, (text, sc, lp) in enumerate(ranked, 1)],
        }, ensure_ascii=False))
        return
    from charrnn.interface import display

    display.beam_table(prime, [(lm.vocab.display(text), sc, lp) for text, sc, lp in ranked])


@app.command(
    "eval",
    epilog=(
        "Examples:\n\n"
        "  charrnn eval held_out.txt\n\n"
        "  charrnn eval held_out.txt --checkpoint checkpoints/tinyshakespeare --json"
    ),
)
@one_line_errors
def evaluate(
    file: Annotated[Path, typer.Argument(help="Text to score, read like the training corpus "
                                              "(same encoding, newlines and level).")],
    checkpoint: CheckpointOption = None,
    weights: WeightsOption = "fp32",
    max_chars: Annotated[int | None, typer.Option(
        help="Score only the file's first N characters (bytes at byte level).",
        metavar="N", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Loss of a model on a whole file: nats and bits per character, and perplexity."""
    from charrnn.data.reading import check_file
    from charrnn.interface import display

    check_file(file, "text")
    lm = _load(checkpoint, weights)
    total = file.stat().st_size
    with display.ByteBar(f"evaluating {file.name}") as bar:
        loss = lm.evaluate_file(file, on_bytes=lambda done: bar.update(done, total),
                                max_chars=max_chars)
    if as_json:
        print(json.dumps({"file": str(file), "checkpoint": str(lm.path), "weights": weights,
                          **loss.to_dict()}))
        return
    unit = "bytes" if lm.vocab.level == "byte" else "characters"
    print(f"{file}: {loss.nats_per_char:.4f} nats/char, {loss.bits_per_char:.4f} bits/char, "
          f"perplexity {loss.perplexity:.3f} over {loss.chars:,} {unit}")


@app.command(
    epilog="Examples:\n\n  charrnn info\n\n  charrnn info checkpoints/tinyshakespeare --json"
)
@one_line_errors
def info(
    checkpoint: Annotated[Path | None, typer.Argument(
        help="Run folder or checkpoint file. Default: the most recently trained run.",
        show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a run: its settings, vocabulary, size, progress, validation bpc and corpus."""
    from charrnn.interface import display
    from charrnn.model import runs as runinfo

    described = runinfo.describe(checkpoint)
    if as_json:
        print(json.dumps(described, ensure_ascii=False, indent=2))
    else:
        display.run_details(described)


@app.command(
    epilog=(
        "Examples:\n\n"
        "  charrnn plot checkpoints/tinyshakespeare\n\n"
        "  charrnn plot runs/small runs/large --out compare.png"
    )
)
@one_line_errors
def plot(
    runs: Annotated[list[Path] | None, typer.Argument(
        help="Run folders to draw on one figure. Default: the most recently trained run.",
        show_default=False)] = None,
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("curves.png"),
) -> None:
    """Draw training and validation loss against time and characters seen, to a PNG."""
    from charrnn.interface import display
    from charrnn.interface.plot import plot_runs
    from charrnn.model import checkpoint as ckpt

    folders = runs or [ckpt.resolve(None).parent]
    display.info(f"wrote {plot_runs(folders, out)}")


@app.command("list", epilog="Example:\n\n  charrnn list")
@one_line_errors
def list_runs(as_json: JsonOption = False) -> None:
    """The runs under checkpoints/, newest first."""
    from charrnn.interface import display
    from charrnn.model import runs as runinfo

    runs = runinfo.list_runs()
    if as_json:
        print(json.dumps(runs, ensure_ascii=False, indent=2))
    elif not runs:
        display.info("no runs under checkpoints/ yet; start one with: charrnn train")
    else:
        display.runs_table(runs)


corpus_app = typer.Typer(
    help="Well-known public-domain corpora: list them, or download one into corpora/.",
    no_args_is_help=True,
)
app.add_typer(corpus_app, name="corpus")
FolderOption = Annotated[Path, typer.Option("--dir", help="Folder that holds corpora.")]


@corpus_app.command("list", epilog="Example:\n\n  charrnn corpus list")
@one_line_errors
def corpus_list(folder: FolderOption = Path("corpora")) -> None:
    """Show the known corpora and which are already in the corpora folder."""
    from charrnn.data import download
    from charrnn.interface import display

    display.corpus_table([(c, download.is_present(c, folder))
                          for c in download.REGISTRY.values()], folder)


@corpus_app.command("get", epilog="Example:\n\n  charrnn corpus get tinyshakespeare")
@one_line_errors
def corpus_get(
    name: Annotated[str, typer.Argument(help="A name from 'charrnn corpus list'.")],
    folder: FolderOption = Path("corpora"),
    url: Annotated[str | None, typer.Option(
        help="Download from this address instead (a mirror); the checksum is still checked.",
        show_default=False)] = None,
) -> None:
    """Download a corpus (checksum checked, written atomically) into the corpora folder."""
    from charrnn.data import download
    from charrnn.interface import display

    with display.ByteBar(f"downloading {name}") as bar:
        path, fetched = download.fetch(name, folder, url, bar.update)
    display.info(f"{'saved' if fetched else 'already present, checksum verified:'} {path}; "
                 f"train on it with: charrnn train {path}")


def main() -> None:
    """The `charrnn` command. A mistyped command or option is one line on stderr too
    (Typer would draw a multi-line box), with exit code 2 as usual for usage errors."""
    from typer.exceptions import TyperException

    try:
        code = app(standalone_mode=False)
    except TyperException as exc:
        from charrnn.interface import display

        if getattr(exc, "format_message", None) is None:
            raise
        if message := exc.format_message():  # empty: bare `charrnn`, help already shown
            ctx = getattr(exc, "ctx", None)
            hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
            display.error(f"{message}{hint}")
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)
