"""The model that ships with charrnn: it loads by name, offline, from a fresh install,
and its card says what it read."""

import json

import charrnn
from charrnn.model import runs, shipped


def test_the_model_that_ships_loads_by_name_and_its_card_lists_its_books(cli):
    assert "english" in shipped.names()
    card = shipped.card("english").read_text(encoding="utf-8")
    assert card.count("sha256") >= 1 and card.count("| ") >= 10
    lm = charrnn.load("english")
    text = lm.sample(80, seed=2, prime="The ")
    assert len(text) == 80
    result = cli("sample", "--checkpoint", "english", "--length", "40", "--seed", "1")
    assert result.exit_code == 0 and len(result.output.strip()) >= 20
    assert json.loads(cli("info", "english", "--json").output)["step"] > 0
    assert runs.run_name(lm.path) == "english"  # what the server calls it


