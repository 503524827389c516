import json
from pathlib import Path

import httpx


def test_info_shows_the_run(corpus_file, cli, fast_flags):
    assert cli("train", corpus_file, *fast_flags, "--out", "checkpoints/play").exit_code == 0
    shown = cli("info")
    assert shown.exit_code == 0, shown.output
    for expected in ("lstm 1 x 32", "parameters", "vocabulary", "char level", "step",
                     "validation bpc", "training time", str(corpus_file)):
        assert expected in shown.stdout, expected
    data = json.loads(cli("info", "checkpoints/play", "--json").stdout)
    assert data["step"] == 30 and data["level"] == "char" and data["vocab_size"] > 10
    assert data["parameters"] > 1000 and data["best_val_bpc"] > 0
    assert data["corpus"]["source"] == str(corpus_file) and len(data["corpus"]["sha256"]) == 64
    best = json.loads(cli("info", "checkpoints/play/best.safetensors", "--json").stdout)
    assert best["checkpoint"].endswith("best.safetensors")


def test_list_shows_every_run_newest_first(corpus_file, cli, fast_flags):
    assert "no runs" in cli("list").stderr
    for out in ("checkpoints/older", "checkpoints/newer"):
        assert cli("train", corpus_file, *fast_flags, "--out", out).exit_code == 0
    broken = Path("checkpoints/broken")
    broken.mkdir()
    (broken / "latest.safetensors").write_bytes(b"garbage")
    table = cli("list")
    assert table.exit_code == 0
    assert table.stdout.index("checkpoints/broken") < table.stdout.index("checkpoints/newer") \
        < table.stdout.index("checkpoints/older")
    assert "cannot load checkpoint" in table.stdout
    listed = json.loads(cli("list", "--json").stdout)
    assert [r["run"] for r in listed] == ["checkpoints/broken", "checkpoints/newer",
                                          "checkpoints/older"]


def test_info_errors_are_one_line(tmp_path, cli, one_error_line):
    assert "no checkpoint found" in one_error_line(cli("info"))
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"\x00" * 100)
    assert "cannot load checkpoint" in one_error_line(cli("info", bad))


def test_info_says_where_validation_came_from(corpus_file, tmp_path, cli, fast_flags,
                                             charrnn_server):
    """The corpus's own tail and its share, or the --val-file as given; a server names
    that file and never locates it (its folder tells a client about the operator's disk)."""
    import charrnn

    held = tmp_path / "private" / "held_out.txt"
    held.parent.mkdir()
    held.write_text(Path(corpus_file).read_text(encoding="utf-8")[:2000], encoding="utf-8")
    assert cli("train", corpus_file, *fast_flags, "--out", "checkpoints/split").exit_code == 0
    assert cli("train", corpus_file, *fast_flags, "--val-file", held,
               "--out", "checkpoints/file").exit_code == 0
    assert "validation 0.05 of the corpus" in cli("info", "checkpoints/split").stdout
    shown = cli("info", "checkpoints/file").stdout
    assert "validation from" in shown and "of the corpus" not in shown
    data = json.loads(cli("info", "checkpoints/file", "--json").stdout)
    assert data["validation"] == str(held)
    assert json.loads(cli("info", "checkpoints/split", "--json").stdout)["validation"] == "split"
    with charrnn_server(charrnn.load("checkpoints/file")) as url:
        served = httpx.get(url + "/v1/model")
    assert served.json()["validation"] == "held_out.txt" and "private" not in served.text
