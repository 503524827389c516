"""`charrnn sample`, `beam` and `eval`: a trained model put to use."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Annotated

import typer

from charrnn.config import Constraints, DataConfig, SampleConfig
from charrnn.errors import CharRNNError, ConfigError
from charrnn.interface import display
from charrnn.interface.constraint_options import with_constraints
from charrnn.interface.options import (
    DEFAULT_BEAM,
    DEFAULT_CONSTRAINTS,
    DEFAULT_SAMPLE,
    CheckpointOption,
    JsonOption,
    LabelOption,
    LengthOption,
    ParticlesOption,
    PrimeOption,
    StopOption,
    WeightsOption,
    load_model,
    one_line_errors,
)
from charrnn.paths import is_file


def _plain(options: dict) -> dict:
    """Options as JSON holds them (constraints as their fields)."""
    return {**options, "constraints": options["constraints"].to_dict()}


def _generated(lm, text: str) -> dict[str, str]:
    """JSON fields for generated text; byte-level output also keeps its exact bytes."""
    fields = {"text": lm.vocab.display(text)}
    if lm.vocab.level == "byte":
        fields["bytes_hex"] = text.encode("utf-8", "surrogateescape").hex()
    return fields


@one_line_errors
@with_constraints
def sample(
    checkpoint: CheckpointOption = None,
    temperature: Annotated[float, typer.Option(
        help="Softmax temperature: lower is safer, higher is wilder; 0 is greedy argmax, "
             "otherwise at least 0.001."
    )] = DEFAULT_SAMPLE.temperature,
    length: LengthOption = 500,
    prime: PrimeOption = "",
    top_k: Annotated[int | None, typer.Option(
        help="Draw only from the k most likely characters.", show_default=False)] = None,
    top_p: Annotated[float | None, typer.Option(
        help="Nucleus: draw only from the smallest set of characters holding this much "
             "probability.", show_default=False)] = None,
    repetition_penalty: Annotated[float, typer.Option(
        help="Above 1, characters already in the prime or the text become rarer."
    )] = DEFAULT_SAMPLE.repetition_penalty,
    stop: StopOption = None,
    label: LabelOption = None,
    num_samples: Annotated[int, typer.Option(
        help="Independent samples, generated together in one batch.")] = 1,
    seed: Annotated[int | None, typer.Option(
        help="Random seed for reproducible text (--json reports the one used).",
        show_default=False)] = None,
    new_only: Annotated[bool, typer.Option(
        help="A model of documents: keep sampling until --num-samples documents exist "
             "that are in neither its training nor its held-out list (at most 20 rounds).",
    )] = False,
    particles: ParticlesOption = None,
    weights: WeightsOption = "fp32",
    as_json: JsonOption = False,
    constraints: Constraints = DEFAULT_CONSTRAINTS,
) -> None:
    """Generate text, streamed to stdout as it is produced. A model trained on
    --documents prints whole documents, one per line (paragraphs: a blank line between),
    each marked on stderr as a copy of a training (train) or held-out (val) one, or new.
    --include, --exclude and --ban-chars keep every text to what it must and must not
    hold (docs/constraints.md)."""
    lm = load_model(checkpoint, weights)
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    from charrnn.decoding.particles import particles_for  # (torch: imported in commands)

    cfg = SampleConfig(temperature, top_k, top_p, repetition_penalty)
    particles = particles_for(particles, cfg, bool(constraints), bool(stop), lm.vocab.end_id)
    options = {"temperature": temperature, "prime": prime, "seed": seed, "top_k": top_k,
               "top_p": top_p, "repetition_penalty": repetition_penalty, "stop": stop or [],
               "label": label, "constraints": constraints, "particles": particles}
    if lm.documents is not None:
        _sample_documents(lm, num_samples, length, options, new_only, as_json)
        return
    if new_only:
        raise ConfigError("--new-only needs a model trained on --documents")
    if num_samples != 1:
        texts = lm.samples(num_samples, length, **options)
        if as_json:
            print(json.dumps([{"checkpoint": str(lm.path), **_generated(lm, text),
                               **_plain(options), "length": length, "weights": weights}
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
                          **_plain(options), "length": length, "weights": weights},
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


def _sample_documents(lm, count: int, length: int, options: dict, new_only: bool,
                      as_json: bool) -> None:
    """Whole documents on stdout; their marks (train, val, new) on stderr or in JSON."""
    texts = (lm.new_documents(count, length, **options) if new_only
             else lm.samples(count, length, **options))
    documents = [options["prime"] + text for text in texts]
    try:
        marks = lm.marks(documents)
    except CharRNNError as exc:  # the corpus moved: the samples still stand
        display.warning(f"{exc}; documents are not marked")
        marks = None
    counts = {m: marks.count(m) for m in ("new", "train", "val")} if marks else None
    if as_json:
        print(json.dumps({
            "checkpoint": str(lm.path), "length": length, **_plain(options),
            "new_only": new_only,
            "documents": [{**_generated(lm, doc), "mark": mark} for doc, mark in
                          zip(documents, marks or [None] * len(documents), strict=True)],
            "counts": counts}, ensure_ascii=False))
        return
    between = lm.record.text_format.separator
    sys.stdout.write(between.join(lm.vocab.display(doc) for doc in documents) + "\n")
    sys.stdout.flush()
    if marks:
        display.document_marks([lm.vocab.display(doc) for doc in documents], marks)


@one_line_errors
@with_constraints
def beam(
    checkpoint: CheckpointOption = None,
    width: Annotated[int | None, typer.Option(
        help=f"Beams kept at every step. Default: {DEFAULT_BEAM.width}, or --n-best if larger.",
        show_default=False)] = None,
    length: LengthOption = 120,
    prime: PrimeOption = "",
    n_best: Annotated[int, typer.Option(help="How many of the best beams to print.")]
    = DEFAULT_BEAM.n_best,
    stop: StopOption = None,
    length_penalty: Annotated[float, typer.Option(
        help="Rank finished beams by log-prob / length^ALPHA (0: by log-prob).",
        metavar="ALPHA")] = DEFAULT_BEAM.length_penalty,
    no_repeat_ngram: Annotated[int, typer.Option(
        help="Forbid a beam to repeat any character n-gram of this size (0: off).",
        metavar="N")] = DEFAULT_BEAM.no_repeat_ngram,
    label: LabelOption = None,
    weights: WeightsOption = "fp32",
    as_json: JsonOption = False,
    constraints: Constraints = DEFAULT_CONSTRAINTS,
) -> None:
    """The most likely continuations, each with its score and total log-probability;
    with --include, --exclude or --ban-chars, the most likely that meet them."""
    from charrnn.decoding.beam import score

    lm = load_model(checkpoint, weights)
    width = width if width is not None else max(DEFAULT_BEAM.width, n_best)
    results = lm.beam(length, width, prime, n_best, stop or [], length_penalty,
                      no_repeat_ngram, label, constraints)
    ranked = [(text, score(lp, len(lm.vocab.encode(text)), length_penalty), lp)
              for text, lp in results]
    if as_json:
        print(json.dumps({
            "checkpoint": str(lm.path), "prime": prime, "width": width, "length": length,
            "length_penalty": length_penalty, "no_repeat_ngram": no_repeat_ngram,
            "stop": stop or [], "weights": weights, "label": label,
            "constraints": constraints.to_dict(),
            "results": [{"rank": i, **_generated(lm, text), "score": sc, "logprob": lp}
                        for i, (text, sc, lp) in enumerate(ranked, 1)],
        }, ensure_ascii=False))
        return
    display.beam_table(prime, [(lm.vocab.display(text), sc, lp) for text, sc, lp in ranked])


@one_line_errors
def evaluate(
    file: Annotated[list[str], typer.Argument(
        help="Text to score, read like the training corpus (same encoding, newlines and "
             "level); or folders, files and quoted globs, scored per source.")],
    checkpoint: CheckpointOption = None,
    weights: WeightsOption = "fp32",
    max_chars: Annotated[int | None, typer.Option(
        help="Score only the file's first N characters (bytes at byte level).",
        metavar="N", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Loss of a model on a whole file: nats and bits per character, and perplexity; on
    many files (a folder), per source (each file under its label) and in all."""
    from charrnn.data.files import is_many
    from charrnn.data.reading import check_file

    lm = load_model(checkpoint, weights)
    if is_many(file, DataConfig()):
        if max_chars is not None:
            raise ConfigError("max_chars scores one file; leave it out for many files",
                              field="max_chars")
        _evaluate_files(lm, file, weights, as_json)
        return
    path = check_file(file[0], "text")
    total = path.stat().st_size
    with display.ByteBar(f"evaluating {path.name}") as bar:
        loss = lm.evaluate_file(path, on_bytes=lambda done: bar.update(done, total),
                                max_chars=max_chars)
    if as_json:
        print(json.dumps({"file": str(path), "checkpoint": str(lm.path), "weights": weights,
                          **loss.to_dict()}))
        return
    print(f"{path}: {_loss_line(lm, loss)}")


def _loss_line(lm, loss) -> str:
    unit = "bytes" if lm.vocab.level == "byte" else "characters"
    return loss.describe(unit)


def _evaluate_files(lm, paths: list[str], weights: str, as_json: bool) -> None:
    losses = lm.evaluate_files(paths)
    if as_json:
        print(json.dumps({"files": paths, "checkpoint": str(lm.path), "weights": weights,
                          "all": losses[""].to_dict(),
                          "sources": {k: v.to_dict() for k, v in losses.items() if k}}))
        return
    for name, loss in losses.items():
        if name:
            print(f"{name}: {_loss_line(lm, loss)}")
    print(f"all: {_loss_line(lm, losses[''])}")


@one_line_errors
def classify(
    text: Annotated[str, typer.Argument(
        help="A file to classify (read like the training corpus), or the text itself.")],
    checkpoint: CheckpointOption = None,
    max_chars: Annotated[int | None, typer.Option(
        help="Classify only the file's first N characters.", metavar="N",
        show_default=False)] = None,
    weights: WeightsOption = "fp32",
    as_json: JsonOption = False,
) -> None:
    """Which label most likely wrote a text: each label's exact log-probability of it,
    its prior (its share of the training files) and its posterior, the most likely first.
    The model is the classifier: a model trained with --label-from."""
    lm = load_model(checkpoint, weights)
    if is_file(text):  # a text that cannot be a path (a paragraph) is the text itself
        result, what = lm.classify_file(Path(text), max_chars), text
    else:
        result, what = lm.classify(text[:max_chars] if max_chars else text), None
    if as_json:
        print(json.dumps({"checkpoint": str(lm.path), "file": what, **result.to_dict()},
                         ensure_ascii=False))
        return
    display.classification(result, what)



@one_line_errors
def novelty(
    checkpoint: CheckpointOption = None,
    file: Annotated[Path | None, typer.Option(
        help="Measure this text (a documents model: its documents) instead of samples.",
        show_default=False)] = None,
    num_samples: Annotated[int, typer.Option(help="Samples to draw and measure.")] = 20,
    length: Annotated[int, typer.Option(help="Characters per sample (a cap for documents).")]
    = 500,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed of the samples.")] = 1,
    max_n: Annotated[int, typer.Option(help="Longest substring length L of the curve.",
                                       metavar="K")] = 20,
    plot: Annotated[Path | None, typer.Option(help="Also draw the curves to this PNG.",
                                              show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Is the model copying? For L = 1..K, the share of length-L substrings of its samples
    (or --file) found in the training text, beside held-out text of the same corpus, and
    the longest copied span. The training text's suffix array is built once and cached."""
    from charrnn.data.reading import check_file

    lm = load_model(checkpoint)
    if file is not None:
        text = check_file(file, "text").read_text(encoding="utf-8")
        texts = lm.split_documents(text)
    else:
        texts = lm.samples(num_samples, length, temperature=temperature, seed=seed)
    report = lm.novelty(texts, max_n)
    if plot is not None:
        from charrnn.interface.plot import plot_novelty

        display.info(f"wrote {plot_novelty(report, plot)}")
    if as_json:
        print(json.dumps({"checkpoint": str(lm.path), **report.to_dict()}, ensure_ascii=False))
        return
    display.novelty_table(report)
