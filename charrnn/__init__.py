"""charrnn: character-level RNN text generation (train, sample, beam search).

    import charrnn
    result = charrnn.train("corpus.txt", time="2m")   # what `charrnn train` does
    lm = charrnn.load(result.run_dir)                 # or a file, or None: the newest run
    print(lm.sample(200, temperature=0.8, prime="ROMEO:"))

How it is built: eight layers, each a sub-package whose docstring maps its modules.
Imports run one way, down the list (interface -> export -> api -> insight -> training / decoding
-> model -> data); the modules beside this one are the ground floor every layer may use.

    data/        a file -> ids: reading, vocabulary, id cache, split, streams, downloads
    model/       CharRNN and its state; the checkpoint format; run folders
    training/    a run planned (presets, resume, folder), then the loop that trains it
    decoding/    the engine: inference step, codec, sampler, beam search, scoring
    insight/     inside the network: surprisal, cells ranked by features, gradient reach
    api/         LanguageModel, the one object over a trained model, behind `load`
    export/      a model where Python is not: a web page, a JavaScript module, ONNX
    interface/   the CLI (Typer), progress and tables (Rich), plots (matplotlib)

    config.py    the frozen settings dataclasses: every default and its validation
    errors.py    the one error family, each a one-line message
    atomic.py    crash-safe file writes
    units.py     nats -> bits per character, the unit every shown loss is in
    allocator.py keeping freed memory for reuse (glibc): training steps, batched decoding
    threads.py   torch's and numpy's idle worker threads kept off the decoding threads' cores

torch is imported on first use, so `charrnn --help` stays fast. Importing, loading and
training change nothing process-wide (environment, allocator, global random generators,
signal handlers, thread count); the commands tune their process with `tune_for_speed`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from charrnn.config import Constraints as Constraints  # noqa: E402  (lm.sample takes one)

if TYPE_CHECKING:
    from charrnn.api.language_model import LanguageModel
    from charrnn.training.report import TrainResult


def load(path=None, root="checkpoints", weights="fp32") -> LanguageModel:
    """Load a trained model: a checkpoint file, a run folder, the name of a model that
    ships with charrnn ("english", "english-small"), (None) the newest run, or a graph
    that `charrnn export` wrote (model.onnx, every step run by onnxruntime).
    `weights` "fp16" or "int8" trades exactness for faster decoding. The caller's random
    stream goes on untouched."""
    import torch

    from charrnn.api.language_model import load as _load
    from charrnn.paths import is_file

    with torch.random.fork_rng(devices=[]):  # the network is made with random weights first
        if path is not None and str(path).endswith(".onnx") and is_file(path):
            from charrnn.export.onnx_model import load_onnx  # every step in onnxruntime

            return load_onnx(path, weights)
        return _load(path, root, weights)


def train(corpus=None, **options: Any) -> TrainResult:
    """Train as `charrnn train CORPUS` does, with its options as keywords: `time="2m"`,
    `size`, `steps`, `out`, `resume=True`, `init_from="english"` (fine-tune a model),
    `hidden_size=256`, ... (any config field), and `reporter` to hear progress. See
    `charrnn.training.launch.train`."""
    from charrnn.training.launch import train as _train

    return _train(corpus, **options)


def tune_for_speed() -> None:
    """Tune this whole process as every `charrnn` command does at its start; call it before
    importing numpy (or anything that imports it, such as torch) to get all of it.
    It changes, for the rest of the process:

    - glibc's allocator keeps freed memory for reuse instead of returning it to the
      system (`charrnn.allocator`): training steps and batched decoding stop paying page
      faults, and the process keeps its peak memory until it exits;
    - `OPENBLAS_THREAD_TIMEOUT` is set, unless it is set already, so numpy's idle OpenBLAS
      workers stop spinning soon after their last product and leave the cores to torch's
      threads (`charrnn.threads`); child processes inherit it. Once numpy is loaded this
      part is skipped: OpenBLAS has read its settings.

    Calling it again changes nothing more."""
    from charrnn.allocator import retain_freed_memory
    from charrnn.threads import shorten_openblas_spin

    shorten_openblas_spin()
    retain_freed_memory()


__all__ = ["load", "train", "tune_for_speed", "__version__"]
