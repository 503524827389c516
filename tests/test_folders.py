"""A folder of texts: many files in, per-file documents, weighted sources, validation per
source, labels that steer generation, and classification by the same model."""

import json
import math
import random

import numpy as np
import pytest
import torch

import charrnn
from charrnn.config import DataConfig, TrainConfig
from charrnn.data.collection import prepare_files
from charrnn.data.documents import IGNORE
from charrnn.data.files import find_files
from charrnn.errors import CharRNNError
from charrnn.model import checkpoint, runs

ALICE = ["dear bob, the garden is green and the roses are red.\n",
         "the cat sat on the mat and the rain fell on the roof.\n",
         "we went to see the sea and the sun was warm.\n"]
BOB = ["ZIP! ZAP! THE ENGINE ROARS AT NOON.\n", "GEARS GRIND; STEAM HISSES; WHEELS TURN.\n",
       "NO TIME, ALICE! THE TRAIN LEAVES AT SIX.\n"]
SMALL = {"hidden_size": 48, "embed_size": 16, "batch_size": 8, "seq_len": 32, "lr": 1e-2,
         "weight_decay": 0.0, "dropout": 0.0}


def write_letters(root, files=4, lines=30, seed=0):
    """letters/alice/*.txt and letters/bob/*.txt: two plainly different styles."""
    rng = random.Random(seed)
    for name, pool in (("alice", ALICE), ("bob", BOB)):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(files):
            text = "".join(rng.choice(pool) for _ in range(lines))
            (root / name / f"letter{i}.txt").write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def letters_run(tmp_path_factory):
    """A model of the two correspondents, labelled by folder (a few seconds)."""
    root = tmp_path_factory.mktemp("letters")
    folder = write_letters(root / "letters")
    result = charrnn.train(str(folder), label_from="dirname", steps=150, eval_every=50,
                           out=root / "run", **SMALL)
    return folder, result, charrnn.load(root / "run")


# --- many files in ------------------------------------------------------------------------

def test_a_folder_glob_and_paths_find_their_files_and_skip_hidden_ones(tmp_path):
    folder = write_letters(tmp_path / "letters", files=2)
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("hidden")
    (folder / ".notes.txt").write_text("hidden")
    found = find_files([str(folder)], DataConfig())
    assert [f.name for f in found] == ["alice/letter0.txt", "alice/letter1.txt",
                                        "bob/letter0.txt", "bob/letter1.txt"]
    assert [f.source for f in found] == ["alice", "alice", "bob", "bob"]
    globbed = find_files([str(folder / "*" / "letter1.txt")], DataConfig())
    assert [f.path.parent.name for f in globbed] == ["alice", "bob"]
    deep = find_files([str(folder / "**" / "*.txt")], DataConfig(label_from="filename"))
    assert {f.label for f in deep} == {"letter0", "letter1"}
    several = find_files([str(folder / "bob"), str(folder / "alice" / "letter0.txt")],
                         DataConfig(label_from="dirname"))
    assert [f.label for f in several] == ["bob", "bob", "alice"]


def test_globs_and_folders_read_each_real_file_once_and_never_follow_folder_links(tmp_path):
    """A `loop -> .` link gave a `**` glob 41 copies of every file (held-out files leaked
    into training); two links never finished. Globs now walk as folders do."""
    folder = write_letters(tmp_path / "letters", files=2, lines=2)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    real = sorted(str(p.resolve()) for p in folder.glob("*/*.txt"))
    globbed = find_files([str(folder / "**" / "*.txt")], DataConfig())
    assert sorted(str(f.path.resolve()) for f in globbed) == real
    assert globbed[0].name == (folder / "alice" / "letter0.txt").as_posix()  # as matched
    (folder / "alice" / "back").symlink_to(folder, target_is_directory=True)  # two links
    (folder / "bob" / "same.txt").symlink_to(folder / "bob" / "letter0.txt")  # one file
    (folder / "bob" / "gone.txt").symlink_to(folder / "nowhere.txt")  # a broken link
    for paths in ([str(folder / "**" / "*.txt")], [str(folder)], [str(folder / "*" / "*")],
                  [str(folder), str(folder / "bob" / "same.txt")]):
        found = find_files(paths, DataConfig(label_from="dirname"))
        assert sorted(str(f.path.resolve()) for f in found) == real, paths
    named = find_files([str(folder)], DataConfig())
    assert [f.name for f in named] == ["alice/letter0.txt", "alice/letter1.txt",
                                       "bob/letter0.txt", "bob/letter1.txt"]
    corpus = prepare_files([str(folder / "**" / "*.txt")], DataConfig())
    assert len(corpus.files) == 4  # nothing held out is also trained on under another name


def test_files_are_joined_between_their_label_and_the_end_symbol(tmp_path):
    folder = write_letters(tmp_path / "letters", files=2, lines=3)
    corpus = prepare_files([str(folder)], DataConfig(label_from="dirname"))
    vocab, table = corpus.vocab, corpus.files
    assert vocab.labels == ("alice", "bob")
    for i, name in enumerate(table.names):
        start, length = int(table.starts[i]), int(table.lengths[i])
        label = name.split("/")[0]
        assert int(corpus.ids[start - 1]) == vocab.label_id(label)
        assert int(corpus.ids[start + length]) == vocab.end_id
        text = (folder / name).read_text(encoding="utf-8")
        assert vocab.decode(corpus.ids[start : start + length].long()) == text


def test_binary_and_empty_files_are_skipped_and_counted_or_refused_when_strict(tmp_path):
    folder = write_letters(tmp_path / "letters", files=2, lines=3)
    (folder / "bob" / "photo.jpg").write_bytes(bytes(range(256)) * 8)
    (folder / "bob" / "empty.txt").write_text("")
    corpus = prepare_files([str(folder)], DataConfig())
    assert corpus.files.skipped == {"not text": 1, "empty": 1}
    assert len(corpus.files) == 4
    with pytest.raises(CharRNNError, match="(photo.jpg|empty.txt).*strict"):
        prepare_files([str(folder)], DataConfig(strict=True))


def test_editing_one_file_reads_only_that_file_again(tmp_path, monkeypatch):
    from charrnn.data import cache

    folder = write_letters(tmp_path / "letters", files=3, lines=3)
    first = prepare_files([str(folder)], DataConfig())
    decoded = []
    real = cache._count
    monkeypatch.setattr(cache, "_count", lambda path, *a: decoded.append(path.name)
                        or real(path, *a))
    again = prepare_files([str(folder)], DataConfig())
    assert again.cached and not first.cached and decoded == []  # only hashed
    (folder / "bob" / "letter1.txt").write_text("NEW WORDS.\n", encoding="utf-8")
    edited = prepare_files([str(folder)], DataConfig())
    assert not edited.cached and decoded == ["letter1.txt"]
    assert "NEW WORDS" in edited.vocab.decode(edited.ids.long())


def test_a_folder_keeps_no_memory_map_of_one_file_while_it_reads_the_next(
        tmp_path, monkeypatch):
    """Each file's memory map was kept until the join, so 70,000 files passed Linux's
    65,530 maps (`vm.max_map_count`); now a file's map is closed once it is prepared
    and the join reads the ids without one: the process's own map table, looked at
    before each file is prepared and as each is joined, holds no map of the cache."""
    from pathlib import Path

    from charrnn.data import collection
    from charrnn.data.cache import cache_root

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        (folder / f"{i:02}.txt").write_text(f"note {i}: the roses are red.\n")
    mapped = {"preparing": [], "joining": []}

    def looking(when, real):
        def call(*args, **kwargs):
            maps = Path("/proc/self/maps").read_text().splitlines()
            mapped[when].append(sum(str(cache_root()) in line for line in maps))
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(collection, "prepare", looking("preparing", collection.prepare))
    monkeypatch.setattr(collection, "recoding", looking(  # the table each file is joined by
        "joining", getattr(collection, "recoding", None)), raising=False)
    corpus = prepare_files([str(folder)], DataConfig(documents="files"))
    assert mapped["preparing"] == [0] * 40 and mapped["joining"] == [0] * 40, mapped
    assert len(corpus.files) == 40
    start, length = int(corpus.files.starts[7]), int(corpus.files.lengths[7])
    assert corpus.vocab.decode(corpus.ids[start : start + length].long()) == \
        "note 7: the roses are red.\n"


# --- training on a folder -----------------------------------------------------------------

def test_a_labelled_folder_trains_validates_per_source_and_samples_while_it_learns(letters_run):
    folder, result, lm = letters_run
    assert set(result.by_source) == {"alice", "bob"}
    lines = [json.loads(line) for line in (result.run_dir / runs.METRICS).read_text().splitlines()]
    evaluated = [line for line in lines if line["val_loss"] is not None]
    assert evaluated and all(set(line["val_by_source"]) == {"alice", "bob"} for line in evaluated)
    assert all(set(line["samples"]) == {"alice", "bob"} for line in evaluated)
    meta = checkpoint.load(result.run_dir / runs.BEST).meta
    assert meta["corpus"]["files"] == 8 and meta["corpus"]["sources"] == ["alice", "bob"]
    pooled = sum(meta["val_by_source"].values()) / 2
    assert meta["metrics"]["best_val_loss"] == pytest.approx(pooled, rel=0.5)


def test_each_source_keeps_training_files_and_holds_out_whole_ones(tmp_path):
    from charrnn.data.weighted_sources import file_units, split_by_source

    folder = write_letters(tmp_path / "letters", files=5, lines=3)
    (tmp_path / "letters" / "carol").mkdir()
    (tmp_path / "letters" / "carol" / "only.txt").write_text("one long letter. " * 40)
    corpus = prepare_files([str(folder)], DataConfig(label_from="dirname"))
    units = file_units(corpus)
    train, held = split_by_source(units, corpus.files, 0.2, 1234, 10**6)
    names = corpus.files.names
    held_names = {names[i] for i in held.files.tolist()}
    train_names = {names[i] for i in train.files.tolist()}
    for source in ("alice", "bob"):
        assert sum(n.startswith(source) for n in held_names) == 1
        assert sum(n.startswith(source) for n in train_names) == 4
        assert not (held_names & train_names) - {"carol/only.txt"}
    assert "carol/only.txt" in held_names and "carol/only.txt" in train_names  # its tail
    again = split_by_source(units, corpus.files, 0.2, 1234, 10**6)[1]
    assert torch.equal(again.files, held.files)  # seeded


def test_the_start_line_shows_each_sources_share_and_the_labels(tmp_path, cli):
    folder = write_letters(tmp_path / "letters", files=3, lines=5)
    result = cli("train", str(folder), "--label-from", "dirname", "--weight", "alice=3",
                 "--steps", "4", "--hidden-size", "16", "--embed-size", "8", "--batch-size",
                 "2", "--seq-len", "16", "--eval-every", "2", "--no-samples", "--out",
                 str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    import re

    shown = re.search(r"sources: alice (\d+)% \(3 files, 1 held out\), bob (\d+)%", result.output)
    assert shown and int(shown[1]) > 70 and int(shown[1]) + int(shown[2]) == 100
    assert "labels: alice, bob" in result.output
    assert "by source: alice" in result.output
    assert "sample [" not in result.output
    lines = (tmp_path / "run" / runs.METRICS).read_text().splitlines()
    assert all("samples" not in json.loads(line) for line in lines)


def shares(batcher, files_of, sources, draws=2000):
    """Each source's share of the scored targets over `draws` windows."""
    counts = torch.zeros(len(sources))
    for _ in range(draws):
        x, y, _ = batcher.next()
        counts += torch.bincount(files_of(x, y), minlength=len(sources))[: len(sources)]
    return (counts / counts.sum()).tolist()


@pytest.mark.parametrize("documents", [None, "files"])
def test_weights_three_one_one_give_batch_shares_within_five_percent(tmp_path, documents):
    from charrnn.training.distributed import Ranks
    from charrnn.training.report import SilentReporter
    from charrnn.training.training_text import training_text

    for source, letter in (("a", "a"), ("b", "b"), ("c", "c")):
        (tmp_path / "three" / source).mkdir(parents=True)
        for i in range(6):
            (tmp_path / "three" / source / f"{i}.txt").write_text(letter * 300)
    corpus = prepare_files([str(tmp_path / "three")],
                           DataConfig(documents=documents, weights=("a=3",)))
    cfg = TrainConfig(batch_size=4, seq_len=32, val_frac=0.2, seed=3)
    text = training_text(corpus, cfg, None, Ranks(), SilentReporter(), torch.device("cpu"))
    letters = [corpus.vocab.index[c] for c in "abc"]

    def which(x, y):
        kept = y[y != IGNORE]
        kept = kept[kept < corpus.vocab.text_size]
        return torch.tensor([letters.index(int(i)) for i in kept])

    got = shares(text.batcher, which, "abc")
    for share, wanted in zip(got, (0.6, 0.2, 0.2), strict=True):
        assert abs(share - wanted) <= 0.05, got


def test_a_weight_above_its_bound_is_one_line_and_the_bound_draws_as_repeated(
        tmp_path, cli, one_error_line):
    """`--weight '*=1e9'` grew to 24 GB: a weight is now at most 100, refused at once
    above it, and a weight of 100 is drawn as if the file were there 100 times."""
    from charrnn.data.weighted_sources import file_units, stream_text

    folder = write_letters(tmp_path / "letters", files=2, lines=2)
    with pytest.raises(CharRNNError, match="at most 100"):
        find_files([str(folder)], DataConfig(weights=("*=1e9",)))
    refused = one_error_line(cli("train", str(folder), "--weight", "*=1e9"))
    assert refused.startswith("error: --weight '*=1e9'") and "at most 100" in refused
    assert not (tmp_path / "checkpoints").exists()
    once = prepare_files([str(folder)], DataConfig())
    heavy = prepare_files([str(folder)], DataConfig(weights=("*=100", "bob/*=0.5")))
    assert [f.weight for f in find_files([str(folder)], heavy.data)] == [100, 100, 0.5, 0.5]
    drawn = stream_text(heavy, file_units(heavy), True, seed=0).joined()

    def alone(*files):
        picked = torch.zeros(4, dtype=torch.bool)
        picked[list(files)] = True
        return stream_text(once, file_units(once).of(picked), False, seed=0).joined()

    alice, n = alone(0, 1), alone(0, 1).numel()
    assert torch.equal(drawn[:n], alice) and torch.equal(drawn[-99 * n:], alice.repeat(99))
    bob = drawn.numel() - 100 * n  # each of bob's files, in the first round half the time
    assert bob in (0, alone(2).numel(), alone(3).numel(), alone(2, 3).numel())


def test_per_file_documents_a_files_loss_does_not_depend_on_its_neighbours(tmp_path):
    from charrnn.data.documents import document_batch

    folder = write_letters(tmp_path / "letters", files=2, lines=4)
    result = charrnn.train(str(folder), documents="files", label_from="dirname", steps=10,
                           out=tmp_path / "run", **SMALL)
    lm = charrnn.load(result.run_dir)
    corpus = prepare_files([str(folder)], DataConfig(documents="files", label_from="dirname"))
    from charrnn.data.weighted_sources import file_units

    docs = file_units(corpus).docs

    def first_row_loss(index):
        x, y = document_batch(corpus.ids, docs.pick(torch.tensor(index)), lm.vocab.end_id)
        with torch.no_grad():
            logits, _ = lm.model(x, lm.model.initial_state(x.shape[0]))
        return float(torch.nn.functional.cross_entropy(logits[0], y[0], ignore_index=IGNORE,
                                                       reduction="sum"))

    alone = first_row_loss([0])
    for others in ([1], [2, 3], [3, 1, 2]):
        assert first_row_loss([0, *others]) == pytest.approx(alone, rel=1e-5)
    # and it is what the library scores that file as: read after its label, end included
    text = (folder / corpus.files.names[0]).read_text(encoding="utf-8")
    assert -lm.logprob(text, complete=True, label="alice") == pytest.approx(alone, rel=1e-4)


def test_a_multi_source_run_resumes_bit_for_bit(tmp_path):
    folder = write_letters(tmp_path / "letters", files=3, lines=5)
    options = dict(label_from="dirname", weights=["bob=2"], lr_schedule="constant",
                   eval_every=4, **SMALL)
    charrnn.train(str(folder), steps=12, out=tmp_path / "straight", **options)
    charrnn.train(str(folder), steps=6, out=tmp_path / "resumed", **options)
    charrnn.train(str(folder), steps=12, out=tmp_path / "resumed", resume=True, **options)
    a = checkpoint.load(tmp_path / "straight" / runs.LATEST)
    b = checkpoint.load(tmp_path / "resumed" / runs.LATEST)
    model = charrnn.load(tmp_path / "straight").model
    weights = {"model." + name for name in model.state_dict()}
    adam = {f"optim.{i}.{key}" for i in range(len(list(model.parameters())))
            for key in ("step", "exp_avg", "exp_avg_sq")}
    carried = {f"hidden.{k}" for k in range(len(model.initial_state(1)))} | {"rng.torch"}
    kept = {"words"}  # the corpus's word list (for --words-only)
    assert set(a.tensors) == set(b.tensors) == weights | adam | carried | kept
    for name in a.tensors:
        assert torch.equal(a.tensors[name], b.tensors[name]), name


# --- labels steer generation, and classify ------------------------------------------------

def test_a_label_steers_the_sample_toward_its_style(letters_run):
    _, _, lm = letters_run
    alice = lm.samples(8, 60, temperature=0.5, seed=1, label="alice")
    bob = lm.samples(8, 60, temperature=0.5, seed=1, label="bob")
    lower = sum(c.islower() for t in alice for c in t)
    upper = sum(c.isupper() for t in bob for c in t)
    assert lower > 5 * sum(c.isupper() for t in alice for c in t)
    assert upper > 5 * sum(c.islower() for t in bob for c in t)
    for text in bob:
        if text:
            assert lm.logprob(text, label="bob") > lm.logprob(text, label="alice")


def test_fused_and_stepped_decoding_agree_for_a_labelled_model(letters_run):
    _, _, lm = letters_run
    text = "THE ENGINE ROARS"
    whole = lm.logprob(text, label="bob")
    session = lm.session(label="bob")
    stepped = 0.0
    for char in text:
        stepped += float(torch.log(torch.tensor(session.distribution()[char])))
        session.feed(char)
    assert whole == pytest.approx(stepped, abs=1e-3)
    (beam_text, beam_score), = lm.beam(12, width=4, label="alice")
    assert beam_score == pytest.approx(lm.logprob(beam_text, label="alice"), abs=1e-3)


def test_classify_gives_each_label_its_exact_logprob_and_a_posterior(letters_run):
    _, _, lm = letters_run
    found = lm.classify("the cat sat on the mat.")
    assert found.label == "alice"
    assert sum(found.posteriors.values()) == pytest.approx(1.0)
    for name in lm.labels:
        assert found.logprobs[name] == pytest.approx(
            lm.logprob("the cat sat on the mat.", label=name), abs=1e-3)
    assert lm.classify("GEARS GRIND AT NOON!").label == "bob"


@pytest.mark.parametrize("cells", [1, 5])
def test_classify_feeds_at_most_its_budget_of_cells_whatever_the_labels(
        letters_run, monkeypatch, cells):
    """However many labels there are, one feed holds at most SCORING_CELLS rows x
    characters (so /v1/classify's memory is bounded), and the scores do not change."""
    _, _, lm = letters_run
    text = "the cat sat on the mat, GEARS GRIND AT NOON!"
    whole = lm.classify(text).logprobs
    fed, feed = [], lm.decoder.feed
    monkeypatch.setattr("charrnn.decoding.classify.SCORING_CELLS", cells)
    monkeypatch.setattr(lm.decoder, "feed", lambda ids, state: fed.append(ids.numel())
                        or feed(ids, state))
    bounded = lm.classify(text).logprobs
    assert max(fed) <= max(cells, len(lm.labels))  # the openings: one label symbol a row
    assert sum(fed) >= len(text) * len(lm.labels)
    assert bounded == pytest.approx(whole, abs=1e-3)


def test_the_cli_samples_with_a_label_and_classifies(letters_run, cli, tmp_path):
    folder, result, _ = letters_run
    run = str(result.run_dir)
    sampled = cli("sample", "--checkpoint", run, "--label", "bob", "--length", "40",
                  "--seed", "1", "--temperature", "0.3", "--json")
    assert sampled.exit_code == 0, sampled.output
    assert json.loads(sampled.stdout)["label"] == "bob"
    beamed = cli("beam", "--checkpoint", run, "--label", "alice", "--length", "20", "--json")
    assert beamed.exit_code == 0 and json.loads(beamed.stdout)["label"] == "alice"
    letter = tmp_path / "note.txt"
    letter.write_text("NO TIME! THE TRAIN LEAVES AT NOON.\n", encoding="utf-8")
    found = cli("classify", str(letter), "--checkpoint", run, "--json")
    assert found.exit_code == 0, found.output
    body = json.loads(found.stdout)
    assert body["label"] == "bob" and body["file"] == str(letter)
    assert [row["label"] for row in body["labels"]][0] == "bob"
    table = cli("classify", "the roses are red", "--checkpoint", run)
    assert "most likely alice" in table.stdout
    evaluated = cli("eval", str(folder), "--checkpoint", run, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert set(json.loads(evaluated.stdout)["sources"]) == {"alice", "bob"}


def test_classify_reads_a_paragraph_too_long_to_be_a_path_as_the_text(letters_run, cli):
    """A paragraph on the command line (longer than any file name may be) is classified
    as the text it is, not refused as a file name."""
    _, result, lm = letters_run
    paragraph = "NO TIME! THE TRAIN LEAVES AT NOON, AND THE GEARS GRIND ON. " * 12
    found = cli("classify", paragraph, "--checkpoint", str(result.run_dir), "--json")
    assert found.exit_code == 0, found.output
    body = json.loads(found.stdout)
    assert body["file"] is None and body["label"] == "bob"
    assert {row["label"]: row["logprob"] for row in body["labels"]} == pytest.approx(
        lm.classify(paragraph).logprobs, abs=1e-3)


def test_label_mistakes_are_one_line(letters_run, trained_run, cli, one_error_line):
    _, result, _ = letters_run
    unknown = cli("sample", "--checkpoint", str(result.run_dir), "--label", "carol")
    one_error_line(unknown)
    assert "alice, bob" in unknown.stderr
    one_error_line(cli("sample", "--checkpoint", str(trained_run), "--label", "alice"))
    one_error_line(cli("classify", "some text", "--checkpoint", str(trained_run)))


def test_bad_folders_are_one_line_and_lose_nothing(tmp_path, cli, one_error_line):
    (tmp_path / "empty").mkdir()
    one_error_line(cli("train", str(tmp_path / "empty")))
    (tmp_path / "binary").mkdir()
    (tmp_path / "binary" / "a.bin").write_bytes(bytes(range(256)) * 4)
    one_error_line(cli("train", str(tmp_path / "binary")))
    one_error_line(cli("train", str(tmp_path / "nothing" / "*.txt")))
    folder = write_letters(tmp_path / "letters", files=2, lines=2)
    one_error_line(cli("train", str(folder), "--weight", "carol/*=2"))
    one_error_line(cli("train", str(folder), "--weight", "alice=lots"))
    (tmp_path / "odd" / "tab\there").mkdir(parents=True)
    (tmp_path / "odd" / "tab\there" / "a.txt").write_text("text")
    one_error_line(cli("train", str(tmp_path / "odd"), "--label-from", "dirname"))
    one_error_line(cli("train", str(folder), "--val-file", str(folder / "bob" / "letter0.txt")))
    (tmp_path / "letters" / "carol").mkdir()
    (tmp_path / "letters" / "carol" / "scan.bin").write_bytes(bytes(range(256)) * 4)
    no_files = cli("train", str(folder), "--label-from", "dirname")
    one_error_line(no_files)
    assert "label 'carol' has no readable file" in no_files.stderr
    assert not (tmp_path / "checkpoints").exists()


# --- the server, the writing session and the page ----------------------------------------

def test_the_server_writes_in_a_label_and_classifies(letters_run, charrnn_server):
    import httpx

    _, _, lm = letters_run
    with charrnn_server(lm) as url:
        info = httpx.get(url + "/v1/model", timeout=30).json()
        body = {"length": 40, "seed": 3, "temperature": 0.5, "label": "bob"}
        sampled = httpx.post(url + "/v1/sample", json=body, timeout=30)
        beamed = httpx.post(url + "/v1/beam", json={"length": 10, "label": "alice"}, timeout=30)
        scored = httpx.post(url + "/v1/logprob", json={"text": "ZIP", "label": "bob"},
                            timeout=30)
        found = httpx.post(url + "/v1/classify", json={"text": "GEARS GRIND AT NOON"},
                           timeout=30)
        generated = httpx.get(url + "/generate", params={"start_text": "", "seed": 2,
                                                        "label": "bob"}, timeout=30)
        unknown = httpx.post(url + "/v1/sample", json={"label": "carol"}, timeout=30)
        typo = httpx.post(url + "/v1/classify", json={"txt": "x"}, timeout=30)
    assert info["labels"] == ["alice", "bob"] and info["default_label"] in ("alice", "bob")
    assert sampled.json()["samples"] == lm.samples(1, 40, seed=3, temperature=0.5, label="bob")
    assert beamed.json()["results"][0]["text"] == lm.beam(10, label="alice")[0][0]
    assert scored.json()["logprob"] == pytest.approx(lm.logprob("ZIP", label="bob"), abs=1e-4)
    expected = lm.classify("GEARS GRIND AT NOON")
    assert found.json()["label"] == expected.label == "bob"
    for row in found.json()["labels"]:
        assert row["logprob"] == pytest.approx(expected.logprobs[row["label"]], abs=1e-4)
    assert generated.status_code == 200
    assert unknown.status_code == 400 and unknown.json()["field"] == "label"
    assert "alice, bob" in unknown.json()["error"]
    assert typo.status_code == 400


def test_write_takes_a_label_and_switches_it(letters_run, tmp_path):
    import sys

    pexpect = pytest.importorskip("pexpect", reason="pexpect drives the pseudo-terminal")
    _, result, _ = letters_run
    child = pexpect.spawn(sys.executable, ["-m", "charrnn", "write", "--checkpoint",
                                           str(result.run_dir), "--label", "bob", "--length",
                                           "30", "--temperature", "0"],
                          cwd=str(tmp_path), encoding="utf-8", timeout=60,
                          dimensions=(40, 200))
    try:
        child.expect("> ")
        child.sendline("/label")
        child.expect("labels: alice, bob; writing as bob")
        child.expect("> ")
        child.sendline("THE")
        child.expect("\r\n> ")
        assert sum(c.isupper() for c in child.before) > 20
        child.sendline("/label alice")
        child.expect("writing as alice from here")
        child.sendline("/label carol")
        child.expect("error: .*it knows alice, bob")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_marks_and_novelty_know_a_folders_training_and_held_out_files(tmp_path):
    folder = write_letters(tmp_path / "letters", files=4, lines=4)
    charrnn.train(str(folder), documents="files", label_from="dirname", steps=6,
                  val_frac=0.25, out=tmp_path / "run", **SMALL)
    lm = charrnn.load(tmp_path / "run")
    texts = [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*/*.txt"))]
    marks = lm.marks(texts)
    assert marks.count("val") == 2 and marks.count("train") == 6  # a file of each held out
    assert lm.marks(["not a letter at all"]) == ["new"]
    report = lm.novelty(["the cat sat on the mat and the rain fell"], max_n=8)
    assert report.to_dict()["generated"][7] == 1.0


def test_label_tab_text_lines_are_documents_of_their_labels(tmp_path, cli, one_error_line):
    quotes = "".join("happy\twhat a lovely day it is\n" if i % 2 else "grim\tDOOM AND GLOOM!\n"
                     for i in range(80))
    (tmp_path / "quotes.tsv").write_text(quotes, encoding="utf-8")
    result = charrnn.train(str(tmp_path / "quotes.tsv"), documents="lines", label_from="tab",
                           steps=80, eval_every=40, out=tmp_path / "run", **SMALL)
    lm = charrnn.load(tmp_path / "run")
    assert lm.labels == ("grim", "happy") and set(result.by_source) == {"grim", "happy"}
    happy = "".join(lm.samples(6, 30, temperature=0.3, seed=1, label="happy"))
    grim = "".join(lm.samples(6, 30, temperature=0.3, seed=1, label="grim"))
    assert sum(c.islower() for c in happy) > 3 * sum(c.isupper() for c in happy)
    assert sum(c.isupper() for c in grim) > 3 * sum(c.islower() for c in grim)
    assert lm.classify("what a lovely day").label == "happy"
    (tmp_path / "bad.tsv").write_text("happy\tfine\nno tab on this line\n", encoding="utf-8")
    refused = cli("train", str(tmp_path / "bad.tsv"), "--documents", "lines",
                  "--label-from", "tab")
    one_error_line(refused)
    assert "line 2" in refused.stderr
    one_error_line(cli("train", str(tmp_path / "quotes.tsv"), "--label-from", "tab"))


def split_texts(path, measure=None):
    """Each label's text of a LABEL<TAB>text file, as its split is read back; `measure`
    (a context manager) is around the split alone."""
    import contextlib

    from charrnn.data.cache import file_sha256
    from charrnn.data.files import CorpusFile
    from charrnn.data.labelled_lines import split_by_label
    from charrnn.data.reading import iter_text

    data = DataConfig(documents="lines", label_from="tab")
    sha = file_sha256(path)
    with measure or contextlib.nullcontext():
        parts = split_by_label(CorpusFile(path, path.name, "x", None), sha, data)
    return {f.label: "".join(iter_text(f.path, data)) for f, _ in parts}


def test_label_tab_lines_longer_than_a_chunk_are_split_whole(tmp_path, monkeypatch):
    """Chunks of 7 bytes, lines of thousands, blank lines and blank texts, five labels
    through two open files: each label's text is its lines, as the whole file says."""
    from charrnn.data import labelled_lines, reading

    monkeypatch.setattr(labelled_lines, "iter_text", lambda path, data, digest=None:
                        reading.iter_text(path, data, chunk_bytes=7, digest=digest))
    monkeypatch.setattr(labelled_lines, "OPEN_FILES", 2)
    rng = random.Random(3)
    lines = []
    for i in range(60):
        label = ["ann", "bo b", "c.d", "e-f", "g_h"][i % 5]
        text = "".join(rng.choice("ab é漢😀\t") for _ in range(rng.choice([3, 40, 3000])))
        lines.append(rng.choice([f"{label}\t{text}", f"{label}\t   ", " \t ", ""]))
    (tmp_path / "q.tsv").write_text("\r\n".join(lines), encoding="utf-8")
    whole = (tmp_path / "q.tsv").read_text(encoding="utf-8").replace("\r\n", "\n")
    wanted = {}
    for line in whole.split("\n"):
        label, _, text = line.partition("\t")
        if line.strip() and text.strip():
            wanted[label] = wanted.get(label, "") + text + "\n"
    got = split_texts(tmp_path / "q.tsv")
    assert got == wanted and list(got) == list(wanted)  # labels in the order of their texts
    assert not list((tmp_path / "cache" / "labelled").glob("*/*.part"))
    (tmp_path / "bad.tsv").write_text("ann\tfine\n" + "x" * 5000 + "\tno label\n")
    with pytest.raises(CharRNNError, match="line 2 of .* no tab in its first 65 char"):
        split_texts(tmp_path / "bad.tsv")


def test_a_label_tab_line_of_many_megabytes_is_split_in_a_chunks_memory(tmp_path):
    """The split held the whole line and re-split it for every chunk (quadratic time);
    now a 16 MB line takes a few chunks' memory, and its text is whole."""
    import contextlib
    import tracemalloc

    path = tmp_path / "long.tsv"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("short\tone line\nlong\t")
        for _ in range(16):
            handle.write("the roses are red. " * 55_000)  # about 1 MB a time
        handle.write("\nshort\tanother\n")
    peaks = []

    @contextlib.contextmanager
    def traced():
        tracemalloc.start()
        try:
            yield
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()

    got = split_texts(path, traced())
    assert peaks[0] < 8 << 20, f"{peaks[0] / 2**20:.1f} MB"
    assert got["short"] == "one line\nanother\n"
    assert got["long"] == "the roses are red. " * 55_000 * 16 + "\n"


def test_a_labelled_folder_fine_tunes_from_the_shipped_model(tmp_path):
    folder = write_letters(tmp_path / "letters", files=2, lines=4)
    result = charrnn.train(str(folder), label_from="dirname", init_from="english", steps=3,
                           eval_every=3, batch_size=4, seq_len=32, out=tmp_path / "run")
    assert result.parent["new_symbols"] == [None, "label:alice", "label:bob"]
    lm = charrnn.load(tmp_path / "run")
    assert lm.labels == ("alice", "bob")
    parent = charrnn.load("english").model.config
    assert lm.model.config.hidden_size == parent.hidden_size  # the parent's architecture
    assert lm.model.config.label_input == "adapter"  # a fine-tune's labels: adapters
    assert lm.model.label_heads is not None
    assert isinstance(lm.sample(20, seed=1, label="bob"), str)


def test_auto_label_input_is_adapters_up_to_their_bound_then_vectors():
    from charrnn.config import MAX_ADAPTED_LABELS, ModelConfig
    from charrnn.data.text_format import settled_label_input

    assert settled_label_input("auto", 2) == "adapter"
    assert settled_label_input("auto", MAX_ADAPTED_LABELS + 1) == "vector"
    assert settled_label_input("prefix", 2) == "prefix"
    with pytest.raises(CharRNNError, match="settled"):  # a saved model never says auto
        ModelConfig(vocab_size=10, label_count=2, label_input="auto").validate()


def test_the_folder_walk_knows_every_file_a_run_folder_holds():
    """What the walk takes for a run folder (and leaves out) is what runs.py writes."""
    from charrnn.data.files import RUN_FILES

    assert {runs.LATEST, runs.BEST, runs.METRICS} == RUN_FILES


def test_a_weighted_stream_reads_the_drawn_text_without_copying_it(tmp_path):
    """The training text of a weighted folder is read by position: equal to the files
    joined in their drawn order (labels, end symbols and all) however it is cut, and a
    weight of 100 takes no more memory than a weight of 1 (copies are never made)."""
    import subprocess
    import sys

    from charrnn.config import DataConfig
    from charrnn.data.collection import prepare_files
    from charrnn.data.weighted_sources import _weighted_order, file_units, stream_text

    folder = write_letters(tmp_path / "letters")
    data = DataConfig(label_from="dirname", weights=("alice/*=2.5",))
    corpus = prepare_files([folder], data)
    units = file_units(corpus)
    text = stream_text(corpus, units, True, seed=3)
    ends = corpus.files.starts + corpus.files.lengths
    joined = []
    for i in _weighted_order(units.docs.weights, 3).tolist():
        start, length = int(units.docs.starts[i]), int(units.docs.lengths[i])
        joined += [int(units.docs.firsts[i]), *corpus.ids[start : start + length].tolist()]
        joined += [corpus.vocab.end_id] if start + length == int(ends[units.files[i]]) else []
    assert text.joined().tolist() == joined
    cut = torch.tensor([[5, 0, len(joined) - 1], [17, 3, 2]])
    assert text.read(cut).tolist() == [[joined[j] for j in row] for row in cut.tolist()]

    big = tmp_path / "big"
    (big / "a").mkdir(parents=True)
    (big / "a" / "one.txt").write_text("the quick brown fox. " * 150_000)  # 3 MB

    def peak_mb(weight):
        out = tmp_path / f"r{weight}"
        code = (f"import resource, charrnn; charrnn.train({str(big)!r}, weights=('*={weight}',), "
                "steps=1, hidden_size=8, embed_size=4, batch_size=4, seq_len=16, "
                f"eval_every=10**6, samples=False, out={str(out)!r}); "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True)
        return float(done.stdout.split()[-1])

    assert peak_mb(100) - peak_mb(1) < 100  # joined, 100 copies of 3 MB: about 300 MB more


def test_a_model_of_files_evaluates_a_text_as_one_file(tmp_path, cli):
    """`lm.evaluate(text)` (and `charrnn eval FILE`) on a `documents` files model scores
    the text as one file, its end symbol included, as `evaluate_files` does for a file."""
    folder = write_letters(tmp_path / "letters", files=2, lines=6)
    charrnn.train(str(folder), documents="files", steps=4, out=tmp_path / "run", **SMALL)
    lm = charrnn.load(tmp_path / "run")
    text = (folder / "alice" / "letter0.txt").read_text(encoding="utf-8")
    alone = tmp_path / "one" / "letter.txt"
    alone.parent.mkdir()
    alone.write_text(text, encoding="utf-8")
    found = lm.evaluate(text)
    assert found.documents == 1 and found.chars == len(text) + 1
    assert found.nats == pytest.approx(lm.evaluate_files([alone])[""].nats, abs=1e-4)
    result = cli("eval", str(alone), "--checkpoint", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output


def test_classifying_with_a_model_without_labels_is_one_line(cli, one_error_line, tmp_path):
    """A model trained without labels has nothing to classify a text as: the library says
    so (naming `label_from`), and the command in one line."""
    from pathlib import Path

    model = Path(__file__).parent / "data" / "golden" / "lstm-1-char.safetensors"
    with pytest.raises(CharRNNError, match="without labels .*nothing to classify"):
        charrnn.load(model).classify("the cat")
    text = tmp_path / "text.txt"
    text.write_text("the cat\n")
    assert "without labels" in one_error_line(cli("classify", str(text), "--checkpoint",
                                                  str(model)))


# --- label adapters (label_input "adapter": an output layer correction per label) ---------

@pytest.fixture(scope="module")
def adapter_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("adapted")
    folder = write_letters(root / "letters")
    charrnn.train(str(folder), label_from="dirname", label_input="adapter", steps=150,
                  eval_every=50, out=root / "run", **SMALL)
    return root, charrnn.load(root / "run")


def test_label_adapters_learn_and_every_decoding_path_agrees(adapter_run):
    _, lm = adapter_run
    heads = lm.model.label_heads
    assert heads is not None and float(heads.weight.detach()[1:].abs().max()) > 0  # learned
    assert float(heads.weight.detach()[0].abs().max()) == 0  # no label: no correction
    assert lm.classify("the cat sat on the mat.").label == "alice"
    assert lm.classify("GEARS GRIND AT NOON!").label == "bob"
    text = "THE ENGINE ROARS"
    session, stepped = lm.session(label="bob"), 0.0
    for char in text:
        stepped += math.log(session.distribution()[char])
        session.feed(char)
    assert lm.logprob(text, label="bob") == pytest.approx(stepped, abs=1e-3)
    (beam_text, beam_score), = lm.beam(12, width=4, label="alice")
    assert beam_score == pytest.approx(lm.logprob(beam_text, label="alice"), abs=1e-3)


def test_rows_of_different_labels_in_one_batch_each_get_their_own_correction(adapter_run):
    _, lm = adapter_run
    starts = [lm.decoder.start(lm.codec.prime("the ", label=name)) for name in lm.labels]
    alone = [lm.decoder.advance(np.array([3]), tuple(np.ascontiguousarray(s.numpy())
                                                     for s in state))[0]
             for state, _ in starts]
    joined = tuple(np.ascontiguousarray(np.concatenate([a.numpy(), b.numpy()], axis=1))
                   for a, b in zip(starts[0][0], starts[1][0], strict=True))
    together = lm.decoder.advance(np.array([3, 3]), joined)[0]
    assert np.allclose(together, np.concatenate(alone), atol=1e-5)
    assert not np.allclose(alone[0], alone[1], atol=1e-3)  # the labels differ


def test_an_adapter_model_exports_to_onnx_as_it_decodes(adapter_run, cli):
    root, lm = adapter_run
    result = cli("export", str(root / "run"), "--format", "onnx", "--out",
                 str(root / "m.onnx"))
    assert result.exit_code == 0, result.output
    back = charrnn.load(root / "m.onnx")
    for name in lm.labels:
        assert back.logprob("GEARS GRIND", label=name) == pytest.approx(
            lm.logprob("GEARS GRIND", label=name), abs=1e-3)


def test_adapters_for_more_labels_than_the_bound_are_one_line(tmp_path, cli):
    folder = tmp_path / "many"
    for i in range(65):
        (folder / f"l{i}").mkdir(parents=True)
        (folder / f"l{i}" / "a.txt").write_text("abc " * 20, encoding="utf-8")
    result = cli("train", str(folder), "--label-from", "dirname", "--label-input",
                 "adapter", "--steps", "1", "--out", str(tmp_path / "run"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "at most 64 labels" in errors[0], result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("labelled", [False, True])
def test_a_file_without_a_final_newline_ends_its_last_paragraph(tmp_path, labelled):
    """Paragraphs of a folder's files never run from one file into the next, whether a
    file ends in a newline or not (the last paragraph of "a" once read on into "b")."""
    from charrnn.data.weighted_sources import file_units

    for name, text in (("a", "alpha one\n\nalpha two"), ("b", "beta one\n\nbeta two\n"),
                       ("c", "gamma one\ngamma two")):
        (tmp_path / "texts" / name).mkdir(parents=True)
        (tmp_path / "texts" / name / "x.txt").write_text(text, encoding="utf-8")
    data = DataConfig(documents="paragraphs", label_from="dirname" if labelled else None)
    corpus = prepare_files([tmp_path / "texts"], data)
    units = file_units(corpus)
    docs = zip(units.docs.starts, units.docs.lengths, units.files, strict=True)
    found = [(int(f), corpus.vocab.decode(corpus.ids[s : s + n].tolist())) for s, n, f in docs]
    assert found == [(0, "alpha one"), (0, "alpha two"), (1, "beta one"), (1, "beta two"),
                     (2, "gamma one\ngamma two")]
