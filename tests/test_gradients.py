"""`charrnn gradients`: d loss_t / d h_(t-k) against finite differences, the vanishing
picture of the three cells, and the command's outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from charrnn.config import ModelConfig
from charrnn.insight.reach import gradient_reach, hidden_gradients
from charrnn.model.network import CharRNN


def model_of(cell: str, layers: int = 1) -> CharRNN:
    torch.manual_seed(0)
    return CharRNN(ModelConfig(model=cell, hidden_size=12, embed_size=6, num_layers=layers,
                               dropout=0.0, vocab_size=9)).double().eval()


def loss_after(model: CharRNN, rows: torch.Tensor, context: int, k: int,
               nudge: torch.Tensor) -> float:
    """The last character's loss with the top layer's h after step (K - k) of the window
    moved by `nudge`: the quantity whose derivative the gradient is."""
    max_k = rows.shape[1] - context - 2
    x = rows[:, context : context + max_k + 1]
    with torch.no_grad():
        _, state = model(rows[:, :context], model.initial_state(rows.shape[0]))
        for t in range(max_k + 1):
            logits, state = model(x[:, t : t + 1], state)
            if t == max_k - k:
                h = state[0].clone()
                h[-1] += nudge
                state = (h, *state[1:])
                logits = model.head(h[-1])[:, None]
        return torch.nn.functional.cross_entropy(
            logits[:, -1], rows[:, -1], reduction="sum").item()


@pytest.mark.parametrize(("cell", "layers"), [("lstm", 2), ("gru", 1), ("rnn", 2)])
def test_the_gradients_are_the_derivatives_of_the_loss(cell, layers):
    model = model_of(cell, layers)
    rows = torch.randint(0, 9, (3, 5 + 6 + 2))
    grads = hidden_gradients(model, rows, context=5)
    assert len(grads) == 7 and grads[0].shape == (3, 12)
    eps = 1e-6
    for k in (0, 3, 6):
        direction = torch.randn(3, 12, dtype=torch.float64)
        numeric = (loss_after(model, rows, 5, k, eps * direction)
                   - loss_after(model, rows, 5, k, -eps * direction)) / (2 * eps)
        assert (grads[k] * direction).sum().item() == pytest.approx(numeric, rel=1e-4, abs=1e-8)


def test_a_vanilla_rnns_gradient_vanishes_faster_than_an_lstms():
    ids = torch.randint(0, 9, (600,), generator=torch.Generator().manual_seed(1))
    reach = {cell: gradient_reach(model_of(cell).float(), ids, max_k=40, windows=16)
             for cell in ("lstm", "rnn")}
    for norms in reach.values():
        assert len(norms) == 41 and all(n >= 0 for n in norms)
    decay = {cell: norms[40] / norms[0] for cell, norms in reach.items()}
    assert decay["rnn"] < decay["lstm"]


def test_the_command_prints_json_and_draws_curves(cli, trained_run, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("ROMEO:\nO that I were a glove upon that hand,\n" * 20, encoding="utf-8")
    common = ["--checkpoint", trained_run, "--file", text, "--max-k", "12", "--windows", "4",
              "--context", "20"]
    result = cli("gradients", *common, "--untrained", "rnn", "--untrained", "gru", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["k"] == list(range(13)) and len(figures["curves"]) == 3
    assert any(label.startswith("untrained rnn") for label in figures["curves"])
    table = cli("gradients", *common)
    assert "mean |d loss_t / d h_(t-k)|" in table.stdout
    picture = cli("gradients", *common, "--out", tmp_path / "reach.png")
    assert (tmp_path / "reach.png").read_bytes()[:4] == b"\x89PNG", picture.output
    page = cli("gradients", *common, "--out", tmp_path / "reach.html")
    assert page.exit_code == 0, page.output
    assert '"png": "iVBORw0KGgo' in (tmp_path / "reach.html").read_text()  # a PNG, inline


@pytest.mark.parametrize(("args", "message"), [
    (["--untrained", "transformer"], "--untrained must be one of lstm, gru, rnn"),
    (["--max-k", "500"], "measuring 500 steps back after 20 of context needs"),
    (["--out", "reach.svg"], "--out must end in .html or .png"),
])
def test_bad_input_is_one_line(cli, one_error_line, trained_run, tmp_path, args, message):
    text = tmp_path / "text.txt"
    text.write_text("ROMEO:\nO that I were a glove upon that hand,\n" * 5, encoding="utf-8")
    line = one_error_line(cli("gradients", "--checkpoint", trained_run, "--file", text,
                              "--context", "20", *args))
    assert message in line


def test_without_a_file_it_reads_the_corpus_when_it_is_here(cli, one_error_line, corpus_file,
                                                            fast_flags, tmp_path):
    assert cli("train", corpus_file, *fast_flags, "--out", tmp_path / "run").exit_code == 0
    found = cli("gradients", "--checkpoint", tmp_path / "run", "--max-k", "8", "--json")
    assert found.exit_code == 0 and len(json.loads(found.stdout)["k"]) == 9, found.output
    corpus_file.unlink()
    assert "give the text with --file" in one_error_line(
        cli("gradients", "--checkpoint", tmp_path / "run"))


def test_a_corpus_of_many_files_is_no_file_however_long_its_name(cli, one_error_line,
                                                                 tiny_text, fast_flags):
    """Many files typed one by one are a corpus whose source is their names joined, here
    longer than a file name may be: it is not a file (no OSError), so --file is asked for."""
    names = [f"letter-{i:03}.txt" for i in range(30)]
    for name in names:
        Path(name).write_text(tiny_text(4), encoding="utf-8")
    assert cli("train", *names, *fast_flags, "--out", "run").exit_code == 0
    assert "give the text with --file" in one_error_line(cli("gradients", "--checkpoint", "run"))


def test_the_page_opens_offline(cli, trained_run, tmp_path, offline_page):
    text = tmp_path / "text.txt"
    text.write_text("ROMEO:\nO that I were a glove upon that hand,\n" * 20, encoding="utf-8")
    out = tmp_path / "reach.html"
    assert cli("gradients", "--checkpoint", trained_run, "--file", text, "--max-k", "10",
               "--windows", "4", "--context", "20", "--out", out).exit_code == 0
    with offline_page(out) as page:
        assert page.evaluate("document.getElementById('plot').naturalWidth") > 100
        assert page.locator("#values tr").count() == 12
        assert page.get_attribute("#values tr >> nth=4", "title") == "k = 3"
