"""Reduced-precision decoding weights (`--weights fp16|int8`): close to the exact step,
and consistent with themselves (scores describe the model that sampled)."""

import json

import pytest
import torch

import charrnn
from charrnn.config import ModelConfig
from charrnn.decoding import matmul_routes as inference
from charrnn.decoding.inference_step import InferenceStep
from charrnn.errors import ConfigError
from charrnn.model.network import CharRNN


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("weights,tolerance", [("fp16", 1e-3), ("int8", 0.05)])
def test_reduced_steps_stay_close_to_the_exact_step(cell, weights, tolerance):
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(model=cell, hidden_size=256, num_layers=3, embed_size=12,
                                vocab_size=30)).eval()
    exact, reduced = InferenceStep(model), InferenceStep(model, weights)
    assert reduced.hh[0].reduced is not None and exact.hh[0].reduced is None
    ids = torch.randint(0, 30, (4, 40))
    a_state, b_state = model.initial_state(4), model.initial_state(4)
    worst = 0.0
    for t in range(40):
        a, a_state = exact(ids[:, t], a_state)
        b, b_state = reduced(ids[:, t], b_state)
        worst = max(worst, float((a - b).abs().max()))
    assert worst < tolerance
    if weights == "int8":
        assert worst > 1e-6  # the int8 kernels really ran


@pytest.mark.parametrize("weights", ["fp16", "int8"])
def test_scores_describe_the_reduced_model(trained_run, lm, weights):
    reduced = charrnn.load(trained_run, weights=weights)
    for text, score in reduced.beam(30, width=4, prime="ROMEO:", n_best=4):
        assert score == pytest.approx(reduced.logprob(text, "ROMEO:"), abs=1e-4)
    held = "NURSE:\nI will not fail.\n\nROMEO:\nGood night, good night!\n" * 4
    exact_bpc = lm.evaluate(held).bits_per_char
    assert reduced.evaluate(held).bits_per_char == pytest.approx(exact_bpc, rel=0.02)
    assert reduced.sample(50, prime="ROMEO:", seed=3) == reduced.sample(50, prime="ROMEO:",
                                                                        seed=3)


def test_weights_from_the_command_line(trained_run, tmp_path, cli):
    data = json.loads(cli("sample", "--checkpoint", trained_run, "--length", "20",
                          "--weights", "int8", "--json").stdout)
    assert data["weights"] == "int8" and len(data["text"]) == 20
    beams = json.loads(cli("beam", "--checkpoint", trained_run, "--length", "10",
                           "--weights", "fp16", "--json").stdout)
    assert beams["weights"] == "fp16" and len(beams["results"][0]["text"]) == 10
    path = tmp_path / "held.txt"
    path.write_text("NURSE:\nI will not fail.\n\n" * 10)
    exact = json.loads(cli("eval", path, "--checkpoint", trained_run, "--json").stdout)
    fast = json.loads(cli("eval", path, "--checkpoint", trained_run, "--weights", "int8",
                          "--json").stdout)
    assert fast["weights"] == "int8" and fast["chars"] == exact["chars"]
    assert fast["bits_per_char"] == pytest.approx(exact["bits_per_char"], rel=0.02)


def test_a_torch_without_the_kernels_is_a_clear_error(trained_run, monkeypatch, cli,
                                                      one_error_line):
    monkeypatch.setattr(inference, "_x86_engine", lambda: None)
    with pytest.raises(ConfigError, match="no x86 .*kernels for fp16/int8 weights"):
        charrnn.load(trained_run, weights="int8")
    result = cli("sample", "--checkpoint", trained_run, "--weights", "fp16")
    assert "use fp32 weights" in one_error_line(result) and result.stdout == ""
    assert charrnn.load(trained_run).sample(5, seed=1)  # fp32 needs none of them


def test_unknown_weights_in_the_api_are_a_clear_error(trained_run):
    with pytest.raises(ConfigError, match="weights must be one of fp32, fp16, int8"):
        charrnn.load(trained_run, weights="int4")
