"""`--bptt-steps K2`: inside each --seq-len window of K1 steps the gradient flows back at
most K2 steps; with K2 = K1 training is today's, bit for bit."""

import pytest
import torch

from charrnn.config import ModelConfig, TrainConfig
from charrnn.model.network import CharRNN
from charrnn.training.train_step import forward_cut


def input_gradients(cell: str, bptt_steps: int | None) -> torch.Tensor:
    """|d logit_last / d input embedding_t| for every position t of a 12-step window."""
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(model=cell, hidden_size=16, embed_size=8, num_layers=2,
                                dropout=0.0, vocab_size=7))
    embedded = []

    def keep(module, inputs, out):  # returns None: the output is left as it is
        out.retain_grad()
        embedded.append(out)

    model.embed.register_forward_hook(keep)
    x = torch.randint(0, 7, (3, 12))
    logits, _ = forward_cut(model, x, model.initial_state(3), bptt_steps)
    logits[:, -1].sum().backward()
    return torch.cat([e.grad for e in embedded], dim=1).abs().sum(dim=(0, 2))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_gradient_reaches_back_at_most_k2_steps(cell):
    cut = input_gradients(cell, 4)
    assert torch.all(cut[:8] == 0)  # more than 4 steps back from position 11: exactly zero
    assert torch.all(cut[8:] > 0)
    whole = input_gradients(cell, None)
    assert torch.all(whole > 0)  # without the cut it reaches the window's start
    assert torch.equal(input_gradients(cell, 12), whole)


def test_k2_equal_to_k1_trains_bit_for_bit_as_before(corpus_file, prepared, tmp_path):
    from charrnn.model import checkpoint, runs
    from charrnn.training.loop import train_model

    weights = []
    for name, k2 in (("plain", None), ("k2", 16)):
        cfg = TrainConfig(batch_size=4, seq_len=16, steps=12, eval_every=6, bptt_steps=k2)
        train_model(prepared(corpus_file), ModelConfig(hidden_size=24, embed_size=8),
                    cfg, tmp_path / name)
        weights.append(checkpoint.load(tmp_path / name / runs.LATEST).tensors)
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_a_cut_changes_training_and_is_saved(cli, corpus_file, fast_flags, tmp_path):
    from charrnn.model import checkpoint, runs
    from charrnn.model.checkpoint import weights_of

    for name, extra in (("plain", []), ("cut", ["--bptt-steps", "4"])):
        result = cli("train", corpus_file, *fast_flags, "--out", tmp_path / name, *extra)
        assert result.exit_code == 0, result.output
    plain = checkpoint.load(tmp_path / "plain" / runs.LATEST)
    cut = checkpoint.load(tmp_path / "cut" / runs.LATEST)
    assert cut.meta["train"]["bptt_steps"] == 4 and plain.meta["train"]["bptt_steps"] is None
    plain, cut = weights_of(plain.tensors), weights_of(cut.tensors)
    assert not torch.equal(plain["rnn.weight_hh_l0"], cut["rnn.weight_hh_l0"])


@pytest.mark.parametrize("value", ["0", "17"])
def test_k2_outside_the_window_is_one_line(cli, one_error_line, corpus_file, fast_flags,
                                           value):
    line = one_error_line(cli("train", corpus_file, *fast_flags, "--bptt-steps", value))
    assert "--bptt-steps must be between 1 and --seq-len (16)" in line
