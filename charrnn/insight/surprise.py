"""How surprised the model is by each character of a text (`charrnn explain`).

Each character's surprisal is -log2 p(character | everything before it), read from the
same `Decoder` as `logprob`, so the surprisals of a text add up to its `logprob` in
bits. Beside it, the model's `top` predictions at that position: what it expected
instead. A text is read from the start of a text, in chunks with the state carried (as
`eval` reads). A model of documents reads each document (line or paragraph) from the
start, and the break after one is scored as its end symbol, as training scored it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from charrnn.decoding.decoder import Decoder, Reading, read_pieces

CHUNK = 2048  # characters per fused pass


@dataclass
class Surprise:
    """Per character: `bits` of surprisal and the `top` predictions (symbol, probability)
    there; a documents model's end symbol is shown as ""."""

    chars: list[str]
    bits: list[float]
    top: list[list[tuple[str, float]]] = field(repr=False)

    @property
    def bits_per_char(self) -> float:
        return sum(self.bits) / max(len(self.bits), 1)

    def spans(self, count: int = 5, width: int = 8) -> list[dict]:
        """The `count` most surprising non-overlapping stretches of `width` characters:
        where they start, their text and their mean surprisal, most surprising first."""
        n = len(self.bits)
        width = max(1, min(width, n))
        sums = [sum(self.bits[i : i + width]) for i in range(n - width + 1)]
        taken: list[dict] = []
        for start in sorted(range(len(sums)), key=lambda i: -sums[i]):
            if len(taken) == count:
                break
            if all(abs(start - t["start"]) >= width for t in taken):
                taken.append({"start": start, "text": "".join(self.chars[start:start + width]),
                              "bits": sums[start] / width})
        return taken

    def to_dict(self, spans: int = 5) -> dict:
        """JSON-ready; a character the model gives probability 0 (a byte its corpus never
        held) has bits None, and so may the totals."""
        return {"chars": len(self.chars), "bits_per_char": _finite(self.bits_per_char),
                "surprising": [{**s, "bits": _finite(s["bits"])} for s in self.spans(spans)],
                "per_char": [{"char": c, "bits": _finite(b), "top": [[s, p] for s, p in t]}
                             for c, b, t in zip(self.chars, self.bits, self.top, strict=True)]}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def surprise(decoder: Decoder, symbol_names: list[str], pieces: list[torch.Tensor],
             top: int = 5) -> Surprise:
    """The surprise of each id of `pieces`, each piece read from the start (one piece for
    a text; one per document, each followed by its end id, for a documents model).
    `symbol_names[i]` is how id i is shown."""
    found = Surprise([], [], [])
    for ids in pieces:
        start = decoder.start(torch.zeros(0, dtype=torch.long))
        for reading in read_pieces(decoder, start, [ids[None, :]], CHUNK):
            _record(found, reading, symbol_names, top)
    return found


def _record(found: Surprise, reading: Reading, symbol_names: list[str], top: int) -> None:
    bits = (-reading.logprobs()[0] / math.log(2)).tolist()
    logprobs = reading.distributions()[0]  # the distribution before each id
    best = logprobs.double().exp().topk(min(top, logprobs.shape[1]), dim=1)
    for i, b, probs, which in zip(reading.ids[0].tolist(), bits, best.values.tolist(),
                                  best.indices.tolist(), strict=True):
        found.chars.append(symbol_names[i])
        found.bits.append(b)
        found.top.append([(symbol_names[j], p) for j, p in zip(which, probs, strict=True)])
