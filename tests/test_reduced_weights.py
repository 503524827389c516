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


# --- the one int8 quantiser (decoding's fbgemm weights and an exported bundle's) ----------

def _matrices_with_ties(seed: int):
    """Random float32 matrices of several scales, a third of their values planted exactly
    on a rounding tie (k + 0.5 times the row's scale), and a row of zeros."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for _ in range(60):
        rows, cols = int(rng.integers(1, 40)), int(rng.integers(2, 150))
        w = (rng.standard_normal((rows, cols)) * rng.choice([1e-4, 1.0, 40.0]))
        w = w.astype(np.float32)
        scale = np.abs(w).max(axis=1) / np.float32(127)
        ties = (rng.integers(-126, 126, (rows, cols)) + np.float32(0.5)) * scale[:, None]
        w = np.where(rng.random((rows, cols)) < 0.3, ties.astype(np.float32), w)
        w[rng.integers(0, rows)] = 0
        yield w


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor")
def test_the_int8_quantiser_is_the_one_torch_had_for_decoding():
    """`int8_rows` gives the integers `torch.quantize_per_channel` gave the decoding
    weights before it (round half to even of weight x float32 reciprocal of the scale),
    ties at .5 included; only a row of zeros' scale differs (1, was 1e-12), and its
    integers are 0 either way."""
    import numpy as np

    for w in _matrices_with_ties(0):
        values, scales = inference.int8_rows(w)
        weight = torch.from_numpy(w)
        scale = (weight.abs().amax(dim=1) / 127).clamp_min(1e-12).double()
        old = torch.quantize_per_channel(weight, scale, torch.zeros(len(w), dtype=torch.long),
                                         0, torch.qint8)
        assert np.array_equal(values, old.int_repr().numpy())
        zero = np.abs(w).max(axis=1) == 0
        assert np.array_equal(scales[~zero], scale.float().numpy()[~zero])
        assert (scales[zero] == 1).all() and (values[zero] == 0).all()


def test_the_int8_decoding_weights_and_the_exported_ones_are_the_same_integers():
    """fbgemm's packed weights hold `int8_rows`' integers and scales, and an exported
    bundle's int8 tensors hold the same bytes."""
    import numpy as np

    from charrnn.api.language_model import LanguageModel
    from charrnn.config import DataConfig
    from charrnn.data.vocab import Vocab
    from charrnn.export.bundle import bundle_of
    from charrnn.model.record import RunRecord

    for w in _matrices_with_ties(1):
        values, scales = inference.int8_rows(w)
        packed = inference.Product(torch.from_numpy(w), None, "int8").reduced[0]
        q, _ = torch.ops.quantized.linear_unpack(packed)
        assert np.array_equal(q.int_repr().numpy(), values)
        assert np.array_equal(q.q_per_channel_scales().float().numpy(), scales)
    vocab = Vocab.from_text("a quick brown fox")
    config = ModelConfig(model="gru", hidden_size=20, embed_size=6, vocab_size=len(vocab))
    torch.manual_seed(3)
    lm = LanguageModel(CharRNN(config), vocab, RunRecord(config, vocab, DataConfig()))
    bundle = bundle_of(lm, "int8")
    for name, tensor in lm.model.state_dict().items():
        spec = bundle.manifest["tensors"][name]
        if tensor.ndim < 2:
            assert spec["dtype"] == "f32"
            continue
        values, scales = inference.int8_rows(tensor.numpy())
        raw = bundle.data[spec["offset"]: spec["offset"] + spec["bytes"]]
        assert raw == (values.tobytes() + b"\0" * (-values.size % 4) + scales.tobytes()), name


def test_exported_int8_weights_of_the_saved_models_are_what_they_were():
    """An exported bundle's int8 values were rint(weight / scale) before the quantiser
    was shared; it is now rint(weight x (1 / scale)), which differs only where a value
    lies within a float32 rounding of a .5 tie, by one step. On every matrix of the
    golden models and the model shipped then (`english`, or `english-small` once a newer
    `english` ships) the two agree, so their exports are byte for byte what they were."""
    from pathlib import Path

    import numpy as np
    from safetensors.numpy import load_file

    root = Path(__file__).resolve().parents[1]
    shipped = root / "charrnn" / "model" / "shipped"
    then = shipped / "english-small.safetensors"  # the english of that time, renamed
    files = [*sorted((root / "tests" / "data" / "golden").glob("*.safetensors")),
             then if then.exists() else shipped / "english.safetensors"]
    checked = 0
    for path in files:
        for name, array in load_file(path).items():
            if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
                continue
            rows = array.astype(np.float32)
            values, scales = inference.int8_rows(rows)
            before = np.abs(rows).max(axis=1) / 127.0
            before[before == 0] = 1.0
            was = np.clip(np.rint(rows / before[:, None]), -127, 127).astype(np.int8)
            assert np.array_equal(values, was), (path.name, name)
            assert np.array_equal(scales, before.astype(np.float32)), (path.name, name)
            checked += values.size
    assert checked > 1_000_000
