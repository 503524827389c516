"""Every checkpoint shape since the first loads (issue 37), tested on saved examples.

tests/data/checkpoints/ holds tiny models trained by the code of several historical
commits, and expected.json what that old code computed with each: greedy samples and
log-probabilities. Today's code must load each file, describe it (`charrnn info`) and
compute the same. tests/data/make_saved_checkpoints.py rebuilds them from git history
(and says why those commits).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SAVED = Path(__file__).resolve().parent / "data" / "checkpoints"
EXPECTED = json.loads((SAVED / "expected.json").read_text(encoding="utf-8"))
OLDEST = "c0f3a1a-lstm.safetensors"
OLDEST_TIED = "0ce8eca-lstm-tied.safetensors"

# Files today's code cannot load, and why; empty since the loader upgrades every file
# written since the first commit (`checkpoint.upgraded`). Strict marks: a fixed file fails
# here until its entry is removed.
KNOWN_FAILURES: dict[str, str] = {}


def cases(names=EXPECTED):
    return [pytest.param(name, id=name.removesuffix(".safetensors"),
                         marks=[pytest.mark.xfail(reason=KNOWN_FAILURES[name], strict=True)]
                         if name in KNOWN_FAILURES else [])
            for name in names]


def test_every_saved_file_has_expectations_and_is_small():
    files = sorted(p.name for p in SAVED.glob("*.safetensors"))
    assert files == sorted(EXPECTED)
    assert OLDEST in files and len(files) >= 9
    for name in files:
        assert (SAVED / name).stat().st_size < 100_000, name


@pytest.mark.parametrize("name", cases())
def test_today_reproduces_what_the_old_code_computed(name):
    import charrnn

    expected = EXPECTED[name]
    lm = charrnn.load(SAVED / name)
    label = {"label": expected["label"]} if expected["label"] else {}
    for prime, text in expected["samples"].items():
        assert lm.sample(len(text), temperature=0, prime=prime, **label) == text, prime
    prime, text = expected["prime"], expected["text"]
    assert lm.logprob(text, **label) == pytest.approx(expected["logprob"], abs=1e-4)
    assert lm.logprob(text[len(prime):], prime=prime, **label) == pytest.approx(
        expected["logprob_primed"], abs=1e-4)
    if "logprob_complete" in expected:
        assert lm.logprob(text, complete=True, **label) == pytest.approx(
            expected["logprob_complete"], abs=1e-4)


@pytest.mark.parametrize("name", cases())
def test_info_describes_each_saved_file(name, cli):
    shown = cli("info", SAVED / name)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip() and "error" not in shown.stderr, shown.output
    described = json.loads(cli("info", SAVED / name, "--json").stdout)
    assert described["checkpoint"].endswith(name)


@pytest.mark.parametrize("name", cases([OLDEST, OLDEST_TIED]))
def test_the_oldest_saved_models_are_still_parents(name, tmp_path):
    """Fine-tuning (not resuming) from the first commit's checkpoint, and from the oldest
    with tied weights: its weights start a new run, which records it as the parent."""
    import charrnn

    corpus = tmp_path / "more.txt"
    corpus.write_text("the lazy dog saves the early worm.\n" * 30, encoding="utf-8")
    result = charrnn.train(corpus, init_from=str(SAVED / name), steps=2, eval_every=2,
                           batch_size=2, seq_len=8, out=tmp_path / "child")
    assert result.steps == 2 and result.parent["checkpoint"] == name
    assert result.parent["sha256"] == parent_meta(name)["tensors_sha256"]
    child = charrnn.load(result.run_dir)
    assert child.meta["parent"]["step"] == parent_meta(name)["step"]
    assert child.model.config.hidden_size == parent_meta(name)["model"]["hidden_size"]
    assert len(child.sample(10, temperature=0, prime="the ")) == 10


def parent_meta(name):
    """The JSON document in a saved file's safetensors header, read without charrnn."""
    blob = (SAVED / name).read_bytes()
    header = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")])
    return json.loads(header["__metadata__"]["charrnn"])
