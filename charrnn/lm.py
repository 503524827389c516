"""`LanguageModel`: the Python API behind `charrnn.load`, mirroring the CLI commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from charrnn import checkpoint
from charrnn.config import ModelConfig
from charrnn.decode import Decoder, beam_search, logprob, sample_ids
from charrnn.errors import CheckpointError
from charrnn.model import CharRNN
from charrnn.trainstate import weights_of
from charrnn.vocab import Vocab, vocab_from_dict


class LanguageModel:
    """A trained model with its vocabulary: sample, beam-search and score text.

    `prime` is text the continuation follows; it is not part of what `sample` and `beam`
    return. An empty prime means the start of a text (see `charrnn.decode`). For a
    byte-level model, lengths count bytes and returned text keeps undecodable bytes as
    surrogate escapes (`lm.vocab.display(text)` makes it printable).
    """

    def __init__(self, model: CharRNN, vocab: Vocab, meta: dict[str, Any] | None = None,
                 path: Path | None = None):
        self.model = model.eval()
        self.vocab = vocab
        self.meta = meta or {}
        self.path = path
        self._decoder = Decoder(model, vocab.counts)

    @classmethod
    def from_checkpoint(cls, ckpt: checkpoint.Checkpoint) -> LanguageModel:
        config = ModelConfig.from_dict(ckpt.meta.get("model"))
        vocab = vocab_from_dict(ckpt.meta.get("vocab"))
        if config.vocab_size != len(vocab):
            raise CheckpointError(
                f"cannot load checkpoint {ckpt.path}: vocabulary has {len(vocab)} characters "
                f"but the model expects {config.vocab_size}"
            )
        model = CharRNN(config)
        try:
            model.load_state_dict(weights_of(ckpt.tensors), strict=True)
        except RuntimeError:
            raise CheckpointError(
                f"cannot load checkpoint {ckpt.path}: its tensors do not match its model config"
            ) from None
        return cls(model, vocab, ckpt.meta, ckpt.path)

    def _prime(self, prime: str):
        return self.vocab.encode(prime, "prime")

    def stream(self, length: int, temperature: float = 1.0, prime: str = "",
               seed: int | None = None) -> Iterator[str]:
        """The continuation one character at a time, as it is generated.

        Bad options and unknown prime characters raise here, before the first character.
        """
        ids = sample_ids(self._decoder, self._prime(prime), length, temperature, seed)
        return self._text_pieces(ids)

    def _text_pieces(self, ids):
        decoder = self.vocab.decoder()
        for i in ids:
            if piece := decoder.feed(i):
                yield piece
        if tail := decoder.flush():
            yield tail

    def sample(self, length: int, temperature: float = 1.0, prime: str = "",
               seed: int | None = None) -> str:
        """`length` characters following `prime`; temperature 0 is greedy decoding."""
        return "".join(self.stream(length, temperature, prime, seed))

    def beam(self, length: int, width: int = 8, prime: str = "",
             n_best: int = 1) -> list[tuple[str, float]]:
        """The n_best most likely continuations found by beam search: (text, log-prob nats)."""
        results = beam_search(self._decoder, self._prime(prime), length, width, n_best)
        return [(self.vocab.decode(ids), score) for ids, score in results]

    def logprob(self, text: str, prime: str = "") -> float:
        """Total log-probability in nats of `text` following `prime`."""
        return logprob(self._decoder, self._prime(prime), self.vocab.encode(text, "text"))


def load(path: str | Path | None = None,
         root: str | Path = checkpoint.DEFAULT_ROOT) -> LanguageModel:
    """Load a checkpoint file, a run folder's best checkpoint, or (None) the newest run's."""
    return LanguageModel.from_checkpoint(checkpoint.load(checkpoint.resolve(path, Path(root))))
