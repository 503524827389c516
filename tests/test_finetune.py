"""Fine-tuning (`--init-from`): weights carried by character, the parent's distribution
kept at step 0, lineage, an exact resume, and one clear line for each bad request."""

import json
import math
import random
from pathlib import Path

import pytest
import torch

import charrnn
from charrnn.config import ModelConfig
from charrnn.data.vocab import Vocab, merged, symbol_keys
from charrnn.errors import CharRNNError
from charrnn.model import checkpoint, runs
from charrnn.model.network import CharRNN
from charrnn.model.transplant import transplant

PARENT_TEXT = "the cat sat on the mat. a bat ate a rat.\n" * 60
CHILD_TEXT = "Zoë saw THE cat; the ZEBRA sat!\n" * 60  # new: Z, ë, T, H, E, ... ; no 'b'


@pytest.fixture(scope="module")
def parent_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parent")
    corpus = folder / "parent.txt"
    corpus.write_text(PARENT_TEXT, encoding="utf-8")
    charrnn.train(corpus, out=folder / "run", steps=30, eval_every=15, hidden_size=32,
                  embed_size=8, batch_size=4, seq_len=16)
    return folder / "run"


def _model(vocab_size, seed=0, tie=False):
    torch.manual_seed(seed)
    size = 16 if tie else 8
    return CharRNN(ModelConfig(hidden_size=16, embed_size=size, vocab_size=vocab_size,
                               tie_weights=tie)).eval()


def _logits(model, ids):
    with torch.no_grad():
        out, _ = model(ids[None, :], model.initial_state(1))
    return out[0]


@pytest.mark.parametrize("tie", [False, True])
def test_at_step_0_the_child_gives_the_parents_distribution_over_its_characters(tie):
    parent_vocab = Vocab(sorted(set("abc .")))
    corpus = Vocab(sorted(set("ABC a.é")), [300, 100, 1, 1, 1, 300, 1])  # " .ABCaé"
    child_vocab = merged(parent_vocab, corpus).with_end(3)
    parent = _model(len(parent_vocab), tie=tie)
    child = _model(len(child_vocab), seed=1, tie=tie)
    child.load_state_dict(transplant(parent.state_dict(), symbol_keys(parent_vocab),
                                     symbol_keys(child_vocab), tie,
                                     (parent_vocab.counts, child_vocab.counts)))
    text = "a cab. a bac."
    before = _logits(parent, parent_vocab.encode(text))
    after = _logits(child, child_vocab.encode(text))
    known = torch.tensor([child_vocab.index[c] for c in parent_vocab.chars])
    torch.testing.assert_close(after[:, known], before, rtol=0, atol=1e-6)
    # so the distribution over the characters the parent knew is the parent's
    torch.testing.assert_close(after[:, known].log_softmax(-1), before.log_softmax(-1),
                               rtol=0, atol=1e-6)
    # and the new symbols start about as probable as they are frequent: rare here
    new = after.softmax(-1)[:, [i for i in range(len(child_vocab)) if i not in known]]
    assert bool((new > 0).all()) and float(new.sum(-1).max()) < 0.05


def test_rows_move_by_character_whatever_the_order_of_the_ids():
    """The same parent with its ids in another order gives the same child."""
    chars = list("abcdefgh")
    child_vocab = Vocab(sorted(set("abcdefghXYZ")))
    parent = _model(len(chars))
    weights = parent.state_dict()
    order = list(range(len(chars)))
    random.Random(3).shuffle(order)
    shuffled = {k: (v[order] if k in ("embed.weight", "head.weight", "head.bias") else v)
                for k, v in weights.items()}
    straight = transplant(weights, chars, symbol_keys(child_vocab))
    reordered = transplant(shuffled, [chars[i] for i in order], symbol_keys(child_vocab))
    for name in straight:  # (new rows are a mean, summed in another order: equal to float error)
        torch.testing.assert_close(straight[name], reordered[name], rtol=0, atol=1e-6)
    for i, c in enumerate(chars):  # each character's rows are its own in the parent
        for name in ("embed.weight", "head.weight", "head.bias"):
            assert torch.equal(straight[name][child_vocab.index[c]], weights[name][i])
            assert torch.equal(reordered[name][child_vocab.index[c]], weights[name][i])


def test_fine_tuning_from_the_command_line_shows_the_parent_and_records_it(
        parent_run, tmp_path, cli):
    corpus = tmp_path / "child.txt"
    corpus.write_text(CHILD_TEXT, encoding="utf-8")
    result = cli("train", str(corpus), "--init-from", str(parent_run), "--steps", "20",
                 "--out", "checkpoints/child", "--batch-size", "4", "--seq-len", "16")
    assert result.exit_code == 0, result.output
    assert f"fine-tuning {parent_run}" in result.output
    assert "'Z'" in result.output and "'ë'" in result.output  # new characters listed
    assert "zero-shot validation" in result.output and "gain over" in result.output
    meta = checkpoint.load(tmp_path / "checkpoints" / "child" / runs.LATEST).meta
    parent_meta = checkpoint.load(runs.resolve(parent_run)).meta
    assert meta["parent"]["sha256"] == parent_meta["tensors_sha256"]
    assert meta["parent"]["step"] == parent_meta["step"]
    assert meta["model"]["hidden_size"] == 32  # the parent's architecture
    assert set(PARENT_TEXT) <= set(meta["vocab"]["chars"])  # nothing forgotten
    assert "fine-tuned from" in cli("info", "checkpoints/child").output
    info = json.loads(cli("info", "checkpoints/child", "--json").output)
    assert info["parent"]["step"] == 30 and info["parent"]["name"] == str(parent_run)
    listed = json.loads(cli("list", "--json").output)
    assert [run["parent"]["name"] for run in listed] == [str(parent_run)]


def test_fine_tuning_from_python_reports_the_gain(parent_run, tmp_path):
    corpus = tmp_path / "child.txt"
    corpus.write_text(CHILD_TEXT, encoding="utf-8")
    result = charrnn.train(corpus, init_from=parent_run, steps=40, out=tmp_path / "c",
                           batch_size=4, seq_len=16, eval_every=20)
    assert result.zero_shot_loss is not None
    assert result.best_val_loss < result.zero_shot_loss
    lm = charrnn.load(tmp_path / "c")
    assert "Z" in lm.vocab.chars and "b" in lm.vocab.chars
    assert lm.sample(30, seed=1, prime="Zo")
    # novelty reads the training text in the model's merged vocabulary
    copied = lm.novelty([CHILD_TEXT[:64]], max_n=12)
    assert copied.generated[-1] == 1.0 and copied.longest >= 64


@pytest.mark.parametrize("documents", [None, "lines"])
def test_a_stream_parent_and_a_documents_child_go_either_way(parent_run, tmp_path, documents):
    """A stream parent starts a model of documents (the end symbol is new), and a
    documents parent starts a stream child (its end symbol is dropped)."""
    corpus = tmp_path / "child.txt"
    corpus.write_text(CHILD_TEXT, encoding="utf-8")
    parent = parent_run
    if documents is None:  # a documents parent first
        charrnn.train(corpus, out=tmp_path / "docs", steps=10, documents="lines",
                      hidden_size=16, embed_size=8, batch_size=4, seq_len=16)
        parent = tmp_path / "docs"
    result = charrnn.train(corpus, init_from=parent, steps=10, out=tmp_path / "kid",
                           documents=documents, batch_size=4, seq_len=16)
    new = result.parent["new_symbols"]
    assert (None in new) == (documents == "lines")
    vocab = charrnn.load(tmp_path / "kid").vocab
    assert (vocab.end_id is not None) == (documents == "lines")


def test_resuming_a_fine_tuning_run_is_bit_exact(parent_run, tmp_path):
    corpus = tmp_path / "child.txt"
    corpus.write_text(CHILD_TEXT, encoding="utf-8")
    common = {"batch_size": 4, "seq_len": 16, "eval_every": 5, "lr_schedule": "constant"}
    charrnn.train(corpus, init_from=parent_run, steps=16, out=tmp_path / "straight", **common)
    charrnn.train(corpus, init_from=parent_run, steps=8, out=tmp_path / "resumed", **common)
    resumed = charrnn.train(corpus, resume=True, steps=16, out=tmp_path / "resumed", **common)
    assert resumed.steps == 16 and resumed.parent["name"] == str(parent_run)
    a = checkpoint.load(tmp_path / "straight" / runs.LATEST)
    b = checkpoint.load(tmp_path / "resumed" / runs.LATEST)
    assert a.tensors.keys() == b.tensors.keys()
    for name in a.tensors:
        assert torch.equal(a.tensors[name], b.tensors[name]), name
    assert a.meta["parent"] == b.meta["parent"]


def test_bad_requests_are_one_line_and_keep_what_is_on_disk(parent_run, tmp_path, cli,
                                                            one_error_line):
    corpus = tmp_path / "child.txt"
    corpus.write_text(CHILD_TEXT, encoding="utf-8")
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    before = {p: p.read_bytes() for p in parent_run.iterdir()}
    cases = [
        (["--init-from", str(tmp_path / "nowhere")], "--init-from: checkpoint not found"),
        (["--init-from", str(damaged)], "not a charrnn checkpoint"),
        (["--init-from", str(parent_run), "--level", "byte"], "--level 'byte' contradicts"),
        (["--init-from", str(parent_run), "--hidden-size", "64"], "--hidden-size 64 contra"),
        (["--init-from", str(parent_run), "--resume"], "--init-from"),
        (["--init-from", str(parent_run), "--size", "tiny"], "--size 'tiny' contradicts"),
    ]
    for flags, said in cases:
        result = cli("train", str(corpus), "--steps", "2", "--out", str(tmp_path / "x"),
                     *flags)
        line = one_error_line(result)
        assert said in line, (flags, line)
    assert {p: p.read_bytes() for p in parent_run.iterdir()} == before
    assert not (tmp_path / "x").exists()


def _parent_changed(parent_run, tmp_path, change):
    """The parent's best checkpoint with its tensors changed (a valid checksum over them)."""
    saved = checkpoint.load(parent_run / runs.BEST)
    tensors = dict(saved.tensors)
    change(tensors)
    path = tmp_path / "bad-parent.safetensors"
    checkpoint.save(path, tensors, {k: v for k, v in saved.meta.items()
                                    if k not in ("format", "version", "tensors_sha256")})
    return path


def _nan(tensors):
    tensors["model.head.weight"] = torch.full_like(tensors["model.head.weight"], math.nan)


@pytest.mark.parametrize("change", [
    _nan,
    lambda t: t.pop("model.embed.weight"),
    lambda t: t.update({"model.head.bias": torch.zeros(2)}),
], ids=["nan weights", "a missing tensor", "a wrong shape"])
def test_overwrite_with_a_bad_parent_keeps_the_earlier_run(
        parent_run, tmp_path, cli, one_error_line, fast_flags, change):
    """--overwrite with a parent that cannot be used: one line, and the run it would have
    replaced keeps its checkpoints and metrics byte for byte."""
    corpus = tmp_path / "child.txt"
    corpus.write_text(CHILD_TEXT, encoding="utf-8")
    assert cli("train", corpus, "--out", "runs/a", *fast_flags).exit_code == 0
    before = {p.name: p.read_bytes() for p in Path("runs/a").iterdir()}
    bad = _parent_changed(parent_run, tmp_path, change)
    line = one_error_line(cli("train", corpus, "--out", "runs/a", "--overwrite",
                              "--init-from", bad, "--steps", "3"))
    assert "init_from" in line or "--init-from" in line
    assert {p.name: p.read_bytes() for p in Path("runs/a").iterdir()} == before


def test_a_replacing_run_that_fails_before_its_first_checkpoint_keeps_the_earlier_run(
        tmp_path, monkeypatch):
    """The older run is cleared when the new one writes its first checkpoint, not
    before: a run that fails at its second step leaves it whole; one that gets as far
    as a checkpoint replaces checkpoints and metrics alike."""
    corpus = tmp_path / "child.txt"
    corpus.write_text(CHILD_TEXT, encoding="utf-8")
    small = dict(hidden_size=16, embed_size=8, batch_size=4, seq_len=16, log_every=1)
    charrnn.train(corpus, out="runs/a", steps=6, eval_every=3, **small)
    before = {p.name: p.read_bytes() for p in Path("runs/a").iterdir()}
    from charrnn.training import loop

    real, calls = loop.train_step, []

    def failing_step(*args, **kwargs):
        calls.append(1)
        loss, state = real(*args, **kwargs)
        return (loss * math.nan if len(calls) == 2 else loss), state

    monkeypatch.setattr(loop, "train_step", failing_step)
    with pytest.raises(CharRNNError, match="training loss became nan"):
        charrnn.train(corpus, out="runs/a", overwrite=True, steps=6, eval_every=3, **small)
    assert {p.name: p.read_bytes() for p in Path("runs/a").iterdir()} == before
    monkeypatch.setattr(loop, "train_step", real)
    charrnn.train(corpus, out="runs/a", overwrite=True, steps=4, eval_every=4, seed=7,
                  **small)
    steps = [json.loads(line)["step"] for line in
             Path("runs/a/metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    assert checkpoint.load(Path("runs/a") / runs.LATEST).meta["step"] == 4


def test_a_fine_tuning_plan_takes_the_parents_shape_and_the_fine_tuning_settings(
        parent_run, tmp_path):
    from charrnn.training.plan import plan_run
    from charrnn.training.presets import FINETUNE

    corpus = tmp_path / "small.txt"
    corpus.write_text("x" * 40_000, encoding="utf-8")
    plan = plan_run(corpus, init_from=parent_run, time="2m", out=tmp_path / "a")
    assert plan.model.hidden_size == 32 and plan.model.embed_size == 8
    assert plan.train.lr == FINETUNE["lr"] and plan.model.dropout == FINETUNE["dropout"]
    assert plan.train.eval_every == 40_000 // (32 * 64)  # about once an epoch
    mine = plan_run(corpus, init_from=parent_run, time="2m", lr=0.01, out=tmp_path / "b")
    assert mine.train.lr == 0.01  # a setting given wins
    scratch = plan_run(corpus, time="2m", out=tmp_path / "c")
    assert scratch.train.eval_every == 40_000 // (32 * 64)  # a small text from scratch too
