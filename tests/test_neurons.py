"""`charrnn neurons`: recording every cell exactly, readable features, ranking by
correlation, a counter cell found in a model that needs one, and its pages."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch


def bracket_language(lines: int, seed: int) -> str:
    """Lines of a and b inside balanced brackets nested at most 4 deep: predicting it
    needs the depth (no ")" at depth 0, no "(" at depth 4, a line ends at depth 0)."""
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        depth, line = 0, []
        while not (depth == 0 and len(line) > 8 and rng.random() < 0.3):
            r = rng.random()
            if depth < 4 and r < 0.35:
                line.append("(")
                depth += 1
            elif depth > 0 and r < 0.7:
                line.append(")")
                depth -= 1
            else:
                line.append(rng.choice("ab"))
        out.append("".join(line))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_recorded_cells_are_the_models_own_states(cell):
    from charrnn.config import ModelConfig
    from charrnn.insight.cells import record
    from charrnn.model.network import CharRNN

    torch.manual_seed(0)
    model = CharRNN(ModelConfig(model=cell, hidden_size=8, embed_size=4, num_layers=2,
                                dropout=0.0, vocab_size=6)).eval()
    ids = torch.randint(0, 6, (30,))
    cells = record(model, ids)
    state = model.initial_state(1)
    with torch.no_grad():
        for t in range(30):  # the textbook loop: one character at a time
            _, state = model(ids[None, t : t + 1], state)
            for k in range(2):
                h = cells.values[t, [cells.names.index(f"{k}:h{i}") for i in range(8)]]
                assert np.allclose(h, state[0][k, 0].numpy(), atol=1e-5)
                if cell == "lstm":
                    c = cells.values[t, [cells.names.index(f"{k}:c{i}") for i in range(8)]]
                    assert np.allclose(c, state[1][k, 0].numpy(), atol=1e-5)


def test_readable_features():
    from charrnn.insight.cells import FEATURES, parse_features

    text = 'def f(a[1]):\n    "x" # c\n'
    assert FEATURES["bracket depth"](text)[:12].tolist() == [0, 0, 0, 0, 0, 1, 1, 2, 2, 1, 0, 0]
    assert FEATURES["line position"](text)[12:15].tolist() == [12, 0, 1]
    assert FEATURES["indentation"](text)[17:19].tolist() == [4, 4]
    assert FEATURES["inside quotes"](text)[17:21].tolist() == [1, 1, 0, 0]  # after each
    assert FEATURES["inside a word"](text)[:4].tolist() == [1, 1, 1, 0]
    assert FEATURES["start of line"](text).sum() == 2
    comment = parse_features(["comment=#.*$"])["comment"](text)
    assert comment.tolist() == [0] * 21 + [1, 1, 1, 0]


def test_the_ranking_puts_the_best_correlated_cell_first():
    from charrnn.insight.cells import Cells, correlations, rank

    feature = np.arange(50, dtype=float) % 7
    noise = np.random.default_rng(0).normal(size=(50, 3))
    values = np.stack([noise[:, 0], -feature + 0.1 * noise[:, 1], noise[:, 2]], axis=1)
    cells = Cells(["0:h0", "0:h1", "0:h2"], values)
    ranked = rank(cells, correlations(cells, {"f": feature, "flat": np.ones(50)}), best=2)
    assert ranked["f"][0][0] == "0:h1" and ranked["f"][0][1] < -0.99
    assert ranked["flat"] == []


@pytest.fixture(scope="module")
def bracket_run(tmp_path_factory):
    """A 1 x 64 LSTM trained on the bracket language (300 steps: its best cell's |r| was
    0.931 here, 0.933 after 600, and 0.940-0.987 with training seeds 1-4)."""
    from charrnn.config import ModelConfig, TrainConfig
    from charrnn.data.cache import prepare
    from charrnn.training.loop import train_model

    folder = tmp_path_factory.mktemp("brackets")
    corpus = folder / "brackets.txt"
    corpus.write_text(bracket_language(4000, seed=1), encoding="utf-8")
    torch.manual_seed(0)
    train_model(prepare(corpus), ModelConfig(hidden_size=64, embed_size=16, dropout=0.0),
                TrainConfig(batch_size=32, seq_len=64, steps=300, lr=1e-2, weight_decay=0.0,
                            eval_every=300), folder / "run")
    return folder / "run"


def test_a_counter_cell_is_ranked_first_for_bracket_depth(bracket_run, cli, tmp_path):
    held_out = tmp_path / "held_out.txt"
    held_out.write_text(bracket_language(300, seed=2), encoding="utf-8")
    result = cli("neurons", "--file", held_out, "--checkpoint", bracket_run, "--json")
    assert result.exit_code == 0, result.output
    best = json.loads(result.stdout)["ranked"]["bracket depth"][0]
    assert abs(best["r"]) > 0.9, best
    summary = cli("neurons", "--file", held_out, "--checkpoint", bracket_run)
    assert f"{best['cell']} {best['r']:+.3f}" in summary.stdout


def test_the_pictures_and_bad_input(cli, one_error_line, trained_run, tmp_path):
    text = "ROMEO:\nO that I were a glove\n"
    picture = cli("neurons", text, "--checkpoint", trained_run, "--cell", "0:h3",
                  "--out", tmp_path / "cell.png")
    assert picture.exit_code == 0, picture.output
    assert (tmp_path / "cell.png").read_bytes()[:4] == b"\x89PNG"
    for args, message in [
        (["--cell", "x"], "--cell must look like 1:212"),
        (["--cell", "9:3", "--out", tmp_path / "c.png"], "no cell '9:c3'"),
        (["--feature", "broken"], "--feature must look like name=REGEX"),
        (["--feature", "bad=("], "not a regular expression"),
        (["--best", "0"], "--best must be >= 1"),
    ]:
        assert message in one_error_line(cli("neurons", text, "--checkpoint", trained_run,
                                             *args))
    flat = cli("neurons", "a", "--checkpoint", trained_run, "--out", tmp_path / "flat.png")
    assert "no feature varies over this text" in one_error_line(flat)


def test_the_page_shows_any_ranked_cell_with_values_on_hover(cli, trained_run, tmp_path,
                                                              offline_page):
    text = "ROMEO:\nO that I were a glove\n"
    page_file = tmp_path / "cells.html"
    result = cli("neurons", text, "--checkpoint", trained_run, "--feature", "vowel=[aeiou]",
                 "--out", page_file, "--json")
    assert result.exit_code == 0, result.output
    ranked = json.loads(result.stdout)["ranked"]
    with offline_page(page_file) as page:
        labels = page.locator("#cell option").all_inner_texts()
        assert any(label.startswith("vowel #1: " + ranked["vowel"][0]["cell"]) for label in labels)
        chosen = ranked["line position"][0]["cell"]
        page.select_option("#cell", chosen)
        page.locator("#text span").nth(9).hover()
        assert page.inner_text("#tip").startswith(f"{chosen} after t: ")
