"""A short sample at each evaluation, so a person sees the model learn (as textgenrnn
shows): one per label for a model of labelled files, else one.

Drawn with a private generator from the evaluated weights, in eval mode, so training's
random streams and its mode are as they were: a run with samples is the same run as one
without.
"""

from __future__ import annotations

import torch

from charrnn.data.text_format import TextFormat
from charrnn.data.vocab import Vocab
from charrnn.model.network import CharRNN

LENGTH = 200
TEMPERATURE = 0.8


@torch.inference_mode()
def glimpses(model: CharRNN, vocab: Vocab, text_format: TextFormat, seed: int
             ) -> dict[str, str]:
    """label (or "") -> a sample of up to LENGTH characters from the start of a text."""
    was_training = model.training
    model.eval()
    try:
        return {name: _sample(model, vocab, opening, seed)
                for name, opening in text_format.styles().items()}
    finally:
        model.train(was_training)


def _sample(model: CharRNN, vocab: Vocab, opening: list[int], seed: int) -> str:
    generator = torch.Generator().manual_seed(seed)
    device = model.head.weight.device
    state = model.initial_state(1)
    if opening:
        logits, state = model(torch.tensor([opening], device=device), state)
        logits = logits[0, -1]
    else:  # a stream's first character: as frequent as in the corpus
        logits = torch.log(torch.tensor(vocab.counts, dtype=torch.float32, device=device))
    drawn: list[int] = []
    for _ in range(LENGTH):
        probs = torch.softmax(logits.float() / TEMPERATURE, dim=-1).cpu()
        probs[vocab.text_size + 1 :] = 0  # a label (after the end symbol) is never drawn
        i = int(torch.multinomial(probs, 1, generator=generator))
        if i >= vocab.text_size:  # the end of a text ends the sample
            break
        drawn.append(i)
        logits, state = model(torch.tensor([[i]], device=device), state)
        logits = logits[0, -1]
    return vocab.decode(drawn)
