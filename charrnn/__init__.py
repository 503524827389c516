"""charrnn: character-level RNN text generation (train, sample, beam search).

    import charrnn
    lm = charrnn.load("checkpoints/tinyshakespeare")
    print(lm.sample(200, temperature=0.8, prime="ROMEO:"))

torch is imported on first use, so `charrnn --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from charrnn.decoding.language_model import LanguageModel


def load(path=None, root="checkpoints", weights="fp32") -> LanguageModel:
    """Load a trained model: a checkpoint file, a run folder, or (None) the newest run.
    `weights` "fp16" or "int8" trades exactness for faster decoding."""
    from charrnn.decoding.language_model import load as _load

    return _load(path, root, weights)


__all__ = ["load", "__version__"]
