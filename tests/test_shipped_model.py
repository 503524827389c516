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


def test_shipping_a_new_english_keeps_the_old_one_as_english_small_once(tmp_path,
                                                                       monkeypatch,
                                                                       repo_script):
    """scripts/make_english.py's shipping step: the english shipped now becomes
    english-small (same bytes, so its children find it by checksum), its card says what it
    is now; shipping again later (a newer build of the same run) leaves english-small be."""
    import shutil

    from charrnn.model import checkpoint

    make_english = repo_script("scripts/make_english.py")
    folder = tmp_path / "shipped"  # the release before: the 12-book model as english
    folder.mkdir()
    shutil.copy(shipped.FOLDER / f"english-small{checkpoint.SUFFIX}",
                folder / f"english{checkpoint.SUFFIX}")
    (folder / "english.md").write_text(
        "# english: the model that ships with charrnn\n\nIt is what `charrnn sample\n"
        "--checkpoint english` writes before you train anything, and what `charrnn train "
        "MY.txt\n--init-from english` starts from.\n\nReduced precision was not needed: "
        "fp32 fits the package's 8 MB limit.\n", encoding="utf-8")
    monkeypatch.setattr(shipped, "FOLDER", folder)
    old_bytes = (folder / f"english{checkpoint.SUFFIX}").read_bytes()
    make_english.keep_as_small()
    small = folder / f"english-small{checkpoint.SUFFIX}"
    assert small.read_bytes() == old_bytes
    card = shipped.card("english-small").read_text(encoding="utf-8")
    assert card.startswith("# english-small") and "--checkpoint english-small" in card
    assert "--checkpoint english`" not in card and "8 MB limit" not in card
    (folder / f"english{checkpoint.SUFFIX}").write_bytes(b"a newer build")  # shipped since
    make_english.keep_as_small()
    assert small.read_bytes() == old_bytes


def test_shipping_the_same_run_again_keeps_the_figures_measured_since(repo_script):
    """The card's benchmark figures, added after shipping, survive a second ship of the
    run: make_english writes its own part of the card and keeps that section."""
    make_english = repo_script("scripts/make_english.py")
    card = shipped.card("english").read_text(encoding="utf-8")
    kept = make_english.measured_since(card)
    assert kept.startswith(make_english.MEASURED_SINCE) and "bench/transfer.py" in kept
    assert card.endswith(kept)
    assert make_english.measured_since("# english\n\nno figures yet\n") == ""
