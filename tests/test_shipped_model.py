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




def test_a_fine_tunes_parent_is_found_by_its_checksum_after_it_is_renamed(
        tmp_path, monkeypatch, cli):
    """When `english` moves on, the model it was ships as `english-small`: a child's
    lineage (name "english", the old weights' checksum) leads `charrnn info` to it."""
    import shutil

    from charrnn.model import checkpoint

    monkeypatch.chdir(tmp_path)
    child = tmp_path / "child.txt"
    child.write_text("the cat sat on the mat. " * 200, encoding="utf-8")
    trained = cli("train", str(child), "--init-from", "english", "--steps", "2",
                  "--batch-size", "2", "--seq-len", "16", "--out", "run")
    assert trained.exit_code == 0, trained.output
    old = shipped.path_of("english")
    assert "ships as" not in cli("info", "run").output  # its parent still ships by name
    folder = tmp_path / "shipped"  # a later release: the old english renamed
    folder.mkdir()
    shutil.copy(old, folder / f"english-small{checkpoint.SUFFIX}")
    monkeypatch.setattr(shipped, "FOLDER", folder)
    sha = checkpoint.load(old).record.tensors_sha256
    assert shipped.name_of(sha) == "english-small"
    assert shipped.name_of("0" * 64) is None and shipped.name_of(None) is None
    info = json.loads(cli("info", "run", "--json").output)
    assert info["parent"]["name"] == "english"
    assert info["parent"]["ships_as"] == "english-small"
    assert "english-small" in cli("info", "run").output
