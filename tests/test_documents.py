"""Lists of short texts (--documents): cutting, batching, no leakage between documents,
exact document losses, sampling whole documents, and marking copies."""

import json
import math
import os
import random

import pytest
import torch

import charrnn
from charrnn.config import ModelConfig, TrainConfig
from charrnn.data.documents import (
    IGNORE,
    DocumentBatcher,
    Documents,
    document_batch,
    find_documents,
    pack,
    packed_batch,
    split_documents,
)
from charrnn.data.vocab import Vocab
from charrnn.errors import CharRNNError, CorpusError
from charrnn.training.loop import train_model
from charrnn.training.validation import documents_nll

SYLLABLES = ["ma", "ri", "an", "na", "el", "la", "jo", "se", "ka", "th", "ly", "o", "e", "is"]


def fake_names(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
            for _ in range(count)]


@pytest.fixture
def names_file(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("\n".join(fake_names(400)) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def names_run(tmp_path_factory):
    """A small LSTM trained on a list of names, one per line (once per module)."""
    folder = tmp_path_factory.mktemp("names")
    path = folder / "names.txt"
    path.write_text("\n".join(fake_names(400)) + "\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:  # its own corpus cache, for training only
        patch.setenv("CHARRNN_CACHE", str(folder / "cache"))
        charrnn.train(path, documents="lines", steps=150, hidden_size=48, embed_size=16,
                      batch_size=16, seq_len=8, eval_every=50, lr=1e-2, dropout=0.0,
                      weight_decay=0.0, out=folder / "run")
    return folder / "run"


def test_the_names_run_leaves_the_environment_as_it_found_it(names_run, monkeypatch):
    monkeypatch.undo()  # without this test's own settings: what the module's fixture left
    assert str(names_run.parent) not in os.environ.get("CHARRNN_CACHE", "")


def ids_of(text: str) -> tuple[torch.Tensor, Vocab]:
    vocab = Vocab.from_text(text)
    return vocab.encode(text), vocab


def texts_of(text: str, docs: Documents) -> list[str]:
    return [text[a : a + n] for a, n in zip(docs.starts.tolist(), docs.lengths.tolist(),
                                            strict=True)]


@pytest.mark.parametrize("text", ["ann\nbob\n\n\ncy", "\n\nann\nbob\n", "one document",
                                  "a\n\nb\nc\n\n\nd e\nf\n", "x\n"])
def test_documents_are_the_lines_or_paragraphs_a_person_sees(text):
    ids, vocab = ids_of(text)
    newline = vocab.index.get("\n")
    lines = texts_of(text, find_documents(ids, newline, "lines"))
    assert lines == [line for line in text.split("\n") if line]
    paragraphs = texts_of(text, find_documents(ids, newline, "paragraphs"))
    naive = [p.strip("\n") for p in text.split("\n\n") if p.strip("\n")]
    assert paragraphs == naive


def test_a_batch_reads_the_end_symbol_first_and_predicts_it_last():
    text = "ab\nxyz\n"
    ids, vocab = ids_of(text)
    docs = find_documents(ids, vocab.index["\n"], "lines")
    end = len(vocab)
    x, y = document_batch(ids, docs, end, rows=3)
    a, b, xx, yy, z = (vocab.index[c] for c in "abxyz")
    assert x.tolist() == [[end, a, b, end], [end, xx, yy, z], [end] * 4]
    assert y.tolist() == [[a, b, end, IGNORE], [xx, yy, z, end], [IGNORE] * 4]


def test_every_document_is_trained_once_an_epoch_in_batches_of_similar_length():
    names = fake_names(300, seed=3)
    text = "\n".join(names) + "\n"
    ids, vocab = ids_of(text)
    docs = find_documents(ids, vocab.index["\n"], "lines")
    vocab = vocab.with_end(len(docs))
    end = vocab.end_id
    batcher = DocumentBatcher(ids, docs, end, batch_size=16, seq_len=3, seed=7)
    seen, fresh = [], 0
    rows = None
    for _ in range(batcher.windows_per_epoch):
        x, y, starts = batcher.next()
        if starts:
            if rows is not None:
                seen += rows
            fresh += 1
            rows = [[] for _ in range(x.shape[0])]
        for r in range(x.shape[0]):
            rows[r] += [int(t) for t in y[r] if t != IGNORE]
    seen += rows
    decoded = sorted(vocab.decode(row) for row in seen if row)
    assert decoded == sorted(names)  # each exactly once, its end symbol included
    assert all(row[-1] == end for row in seen if row)
    assert fresh == math.ceil(len(names) / 16)  # the state resets at every batch
    assert batcher.padding < 0.25  # sorted by length: little padding
    assert batcher.position.epoch == 0 and batcher.next()[2]  # the next epoch starts fresh


def epochs_of(batcher: DocumentBatcher, vocab: Vocab, epochs: int) -> list[list[list[str]]]:
    """For each of the first `epochs` epochs, its batches, each the decoded documents of
    its rows (`next` says when a batch starts from the zero state)."""
    seen: list[list[list[list[int]]]] = [[] for _ in range(epochs)]
    while True:
        x, y, starts = batcher.next()
        epoch = batcher.position.epoch  # the window's own: next() moves on before reading
        if epoch >= epochs:
            return [[[vocab.decode(r[:-1]) for r in rows if r] for rows in batches]
                    for batches in seen]
        if starts:
            seen[epoch].append([[] for _ in range(x.shape[0])])
        for r, row in enumerate(seen[epoch][-1]):
            row += [int(t) for t in y[r] if t != IGNORE]


def mixed_list() -> tuple[list[str], torch.Tensor, Vocab, Documents]:
    """Short names and two long ones (longer than a window, so windows vary by epoch)."""
    names = fake_names(300, seed=3) + ["x" * 40, "y" * 25]
    ids, vocab = ids_of("\n".join(names) + "\n")
    docs = find_documents(ids, vocab.index["\n"], "lines")
    return names, ids, vocab.with_end(len(docs)), docs


def assert_every_name_once_an_epoch_in_mixed_batches(epochs, names: list[str]) -> None:
    for batches in epochs:
        assert sorted(n for batch in batches for n in batch) == sorted(names)
    assert epochs[0] != epochs[1]  # drawn again each epoch
    lengths = [{len(n) for n in batch} for batch in epochs[0]]
    assert sum(len(s) > 3 for s in lengths) > len(lengths) / 2  # not one length a batch


def test_random_batch_order_trains_every_document_once_an_epoch_in_mixed_batches():
    names, ids, vocab, docs = mixed_list()
    kwargs = {"batch_size": 16, "seq_len": 8, "seed": 7}
    mixed = DocumentBatcher(ids, docs, vocab.end_id, order="random", **kwargs)
    assert_every_name_once_an_epoch_in_mixed_batches(epochs_of(mixed, vocab, 3), names)
    by_length = DocumentBatcher(ids, docs, vocab.end_id, **kwargs)
    assert mixed.padding > 2 * by_length.padding


def packed_epochs(batcher: DocumentBatcher, vocab: Vocab, epochs: int) -> list[list[list[str]]]:
    """As `epochs_of`, for packed rows: each row's targets, read across the batch's
    windows, split at the end symbol into the documents it holds."""
    seen: list[list[list[list[int]]]] = [[] for _ in range(epochs)]
    while True:
        x, y, starts = batcher.next()
        epoch = batcher.position.epoch
        if epoch >= epochs:
            break
        restarts = batcher.restarts(x)
        assert torch.equal(restarts, x == vocab.end_id)
        if starts:
            seen[epoch].append([[] for _ in range(x.shape[0])])
        for r, row in enumerate(seen[epoch][-1]):
            row += [int(t) for t in y[r] if t != IGNORE]
    text_of = vocab.decode
    return [[[name for row in rows for name in text_of([t if t != vocab.end_id else
                                                         vocab.index["\n"] for t in row])
              .split("\n")[:-1]] for rows in batches] for batches in seen]


def test_packed_batch_order_fills_rows_with_random_documents_each_read_once_an_epoch():
    names, ids, vocab, docs = mixed_list()
    kwargs = {"batch_size": 8, "seq_len": 16, "seed": 7}
    packed = DocumentBatcher(ids, docs, vocab.end_id, order="packed", **kwargs)
    epochs = packed_epochs(packed, vocab, 3)
    assert_every_name_once_an_epoch_in_mixed_batches(epochs, names)
    for batches in epochs:
        assert sum(len(batch) for batch in batches) / len(batches) > 2 * 8  # rows shared
    mixed = DocumentBatcher(ids, docs, vocab.end_id, order="random", **kwargs)
    assert packed.padding < 0.2 < mixed.padding
    assert DocumentBatcher(ids, docs, vocab.end_id, **kwargs).restarts(ids[None, :5]) is None


def test_packing_places_every_document_once_and_never_overfills_a_row():
    rng = random.Random(1)
    symbols = [rng.randint(1, 12) for _ in range(500)]
    batches = pack(symbols, rows=6, width=12)
    placed = sorted(doc for batch in batches for doc, _, _ in batch)
    assert placed == list(range(500))
    for batch in batches:
        ends: dict[int, int] = {}
        for doc, row, column in sorted(batch, key=lambda t: (t[1], t[2])):
            assert column >= ends.get(row, 0) and column + symbols[doc] <= 12
            ends[row] = column + symbols[doc]
    used = sum(symbols) / (len(batches) * 6 * 12)
    assert used > 0.85


@pytest.mark.parametrize("order", ["random", "packed"])
def test_batch_order_is_checked_and_kept_by_the_run(order, names_file, tmp_path, cli):
    with pytest.raises(CharRNNError,
                       match="batch_order must be one of length, random, packed"):
        TrainConfig(batch_order="shuffled").validate()
    out = tmp_path / "run"
    result = cli("train", str(names_file), "--documents", "lines", "--batch-order",
                 order, "--steps", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert charrnn.load(out).meta["train"]["batch_order"] == order


def test_long_documents_train_in_windows_inside_the_document():
    text = "a" * 50 + "\n" + "b" * 7 + "\n"
    ids, vocab = ids_of(text)
    docs = find_documents(ids, vocab.index["\n"], "lines")
    batcher = DocumentBatcher(ids, docs, len(vocab), batch_size=2, seq_len=16, seed=0)
    assert batcher.windows_per_epoch == 4  # 51 positions in windows of 16
    assert [batcher.next()[2] for _ in range(4)] == [True, False, False, False]


def test_the_held_out_documents_are_a_seeded_random_sample():
    names = sorted(fake_names(1000, seed=5))  # a sorted list, as lists often are
    text = "\n".join(names)
    ids, vocab = ids_of(text)
    docs = find_documents(ids, vocab.index["\n"], "lines")
    train, val = split_documents(docs, 0.1, seed=1, val_max_chars=10**6)
    again, _ = split_documents(docs, 0.1, seed=1, val_max_chars=10**6)
    assert torch.equal(train.starts, again.starts) and len(val) == 100
    assert len(train) + len(val) == 1000
    held = sorted(val.starts.tolist())
    assert held[0] < docs.starts[200] and held[-1] > docs.starts[800]  # spread, not a tail


def four_names(run) -> tuple:
    """The model, ids of four names, the names, and the first one's loss read alone."""
    lm = charrnn.load(run)
    ids = lm.vocab.encode("marie\nka\nthelosela\nan\n")
    docs = find_documents(ids, lm.vocab.index["\n"], "lines")
    alone = documents_nll(lm.model, ids, docs.pick(torch.tensor([0])), lm.vocab.end_id)
    return lm, ids, docs, alone


def test_a_documents_loss_does_not_depend_on_its_neighbours(names_run):
    lm, ids, docs, alone = four_names(names_run)
    for others in ([1], [2], [1, 2, 3]):
        together = docs.pick(torch.tensor([0, *others]))
        x, y = document_batch(ids, together, lm.vocab.end_id)
        with torch.no_grad():
            logits, _ = lm.model(x, lm.model.initial_state(x.shape[0]))
        first_row = torch.nn.functional.cross_entropy(
            logits[0], y[0], ignore_index=IGNORE, reduction="sum")
        assert float(first_row) == pytest.approx(alone[0], rel=1e-5, abs=1e-5)


def test_a_packed_documents_loss_does_not_depend_on_the_documents_before_it(names_run):
    lm, ids, docs, alone = four_names(names_run)
    end = lm.vocab.end_id
    for before in ([1], [2], [3, 1, 2]):
        order = torch.tensor([*before, 0])
        columns = torch.cumsum(docs.lengths[order] + 1, 0) - (docs.lengths[order] + 1)
        width = int(columns[-1]) + int(docs.lengths[0]) + 1
        x, y = packed_batch(ids, docs.pick(order), torch.zeros(len(order), dtype=torch.long),
                            columns, end, 1, width)
        with torch.no_grad():
            logits, _ = lm.model(x, lm.model.initial_state(1), x == end)
            unrestarted, _ = lm.model(x, lm.model.initial_state(1))
        last = slice(int(columns[-1]), width)  # the document read after the others
        nll = torch.nn.functional.cross_entropy(logits[0, last], y[0, last], reduction="sum")
        assert float(nll) == pytest.approx(alone[0], rel=1e-5, abs=1e-5)
        leaked = torch.nn.functional.cross_entropy(unrestarted[0, last], y[0, last],
                                                   reduction="sum")
        assert abs(float(leaked) - alone[0]) > 1e-3  # without restarts, it would leak


def test_document_loss_equals_a_naive_one_character_at_a_time_loop(names_run):
    lm = charrnn.load(names_run)
    documents = ["marie", "ka", "thelosela"]
    loss = lm.evaluate("\n".join(documents) + "\n\n")
    model, end, total = lm.model, lm.vocab.end_id, 0.0
    for document in documents:
        state = model.initial_state(1)
        previous = end
        for target in [*lm.vocab.encode(document).tolist(), end]:
            with torch.no_grad():
                logits, state = model(torch.tensor([[previous]]), state)
            total -= float(torch.log_softmax(logits[0, -1].double(), -1)[target])
            previous = target
    assert loss.documents == 3 and loss.chars == sum(map(len, documents)) + 3
    assert loss.nats == pytest.approx(total, rel=1e-5)
    assert loss.to_dict()["nats_per_document"] == pytest.approx(total / 3, rel=1e-5)
    beam = lm.beam(20, width=8, n_best=3)
    for text, logprob in beam:  # a document beam's score is its text's, end included
        assert logprob == pytest.approx(lm.logprob(text, complete=True), abs=1e-4)


def test_sampling_gives_whole_documents_that_start_with_the_prime(names_run):
    lm = charrnn.load(names_run)
    texts = lm.samples(30, 50, seed=1)
    assert len(texts) == 30 and all("\n" not in t for t in texts)
    assert all(len(t) < 50 for t in texts)  # they end by themselves, well inside the cap
    primed = lm.samples(10, 50, seed=2, prime="ma")
    assert all("\n" not in t for t in primed)
    assert lm.samples(30, 50, seed=1) == texts  # seeded: the same documents again
    marks = lm.marks(texts)
    assert set(marks) <= {"train", "val", "new"} and "train" in marks


def test_the_cli_prints_names_one_per_line_and_marks_them(names_run, cli):
    result = cli("sample", "--checkpoint", names_run, "--num-samples", "20", "--seed", "3")
    assert result.exit_code == 0, result.output
    names = result.stdout.splitlines()
    assert len(names) == 20 and all(names)
    marked = [line.split() for line in result.stderr.splitlines()[-21:-1]]
    assert [m[1] if len(m) > 1 else "" for m in marked] == names
    assert {m[0] for m in marked} <= {"train", "val", "new"}
    assert result.stderr.strip().splitlines()[-1].startswith("20 documents: ")
    data = json.loads(cli("sample", "--checkpoint", names_run, "--num-samples", "20",
                          "--seed", "3", "--json").stdout)
    assert [d["text"] for d in data["documents"]] == names  # the same seed, the same names
    assert [d["mark"] for d in data["documents"]] == [m[0] for m in marked]
    assert sum(data["counts"].values()) == 20
    new = cli("sample", "--checkpoint", names_run, "--num-samples", "5", "--new-only",
              "--seed", "4", "--json")
    assert new.exit_code == 0, new.output
    assert {d["mark"] for d in json.loads(new.stdout)["documents"]} == {"new"}
    beam = json.loads(cli("beam", "--checkpoint", names_run, "--n-best", "10", "--json").stdout)
    assert len(beam["results"]) == 10 and beam["width"] == 10  # the beam widens to fit
    assert all("\n" not in r["text"] for r in beam["results"])


def test_eval_of_a_documents_model_reports_nats_per_document(names_run, cli, tmp_path):
    held = tmp_path / "held.txt"
    held.write_text("marie\nka\n", encoding="utf-8")
    data = json.loads(cli("eval", held, "--checkpoint", names_run, "--json").stdout)
    assert data["documents"] == 2 and data["chars"] == 9
    assert data["nats_per_document"] == pytest.approx(data["nats_per_char"] * 9 / 2)


def test_new_only_on_a_model_that_only_copies_is_one_line(tmp_path, cli, one_error_line):
    path = tmp_path / "few.txt"
    path.write_text("ab\n" * 200, encoding="utf-8")
    trained = cli("train", path, "--documents", "lines", "--steps", "60", "--hidden-size",
                  "16", "--embed-size", "8", "--batch-size", "8", "--lr", "0.02",
                  "--out", tmp_path / "few")
    assert trained.exit_code == 0, trained.output
    refused = cli("sample", "--checkpoint", tmp_path / "few", "--num-samples", "3",
                  "--new-only", "--temperature", "0")
    assert "new document(s) of the 3 asked for" in one_error_line(refused)


def test_a_documents_run_resumes_exactly(names_file, tmp_path, prepared):
    from charrnn.config import DataConfig  # noqa: F401  (documents ride in DataConfig)
    from charrnn.model import checkpoint, runs

    corpus = prepared(names_file, documents="lines")
    model = ModelConfig(hidden_size=24, embed_size=8, dropout=0.2)
    config = {"batch_size": 8, "seq_len": 4, "eval_every": 7, "lr": 1e-2}
    train_model(corpus, model, TrainConfig(steps=30, **config), tmp_path / "straight")
    train_model(corpus, model, TrainConfig(steps=13, **config), tmp_path / "resumed")
    resume = checkpoint.load(tmp_path / "resumed" / runs.LATEST)
    train_model(corpus, model, TrainConfig(steps=30, **config), tmp_path / "resumed",
                resume=resume)
    a = checkpoint.load(tmp_path / "straight" / runs.LATEST).tensors
    b = checkpoint.load(tmp_path / "resumed" / runs.LATEST).tensors
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("model."))


def test_bad_document_corpora_are_one_line(tmp_path, cli, one_error_line, names_run):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n\n\n", encoding="utf-8")
    refused = cli("train", empty, "--documents", "lines", "--steps", "2")
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: the corpus holds no documents: every one of them is empty"]
    one = tmp_path / "one.txt"
    one.write_text("a single long line without any break " * 20, encoding="utf-8")
    result = cli("train", one, "--documents", "lines", "--steps", "2", "--out",
                 tmp_path / "one")
    assert result.exit_code == 0 and "the corpus is one document" in result.stderr
    train, val = split_documents(find_documents(torch.arange(40), None, "lines"), 0.1, 0, 100)
    assert train.lengths.tolist() == [36] and val.starts.tolist() == [36]
    with pytest.raises(CorpusError, match="nothing to hold out"):
        split_documents(find_documents(torch.tensor([1]), None, "lines"), 0.1, 0, 100)
    unknown = cli("sample", "--checkpoint", names_run, "--prime", "Zq!", "--num-samples", "3")
    assert "never saw" in one_error_line(unknown)


def test_marks_know_the_training_and_held_out_lists(names_file, tmp_path, cli):
    names = names_file.read_text(encoding="utf-8").split()
    held = tmp_path / "held.txt"
    held.write_text("zzaraq\nmarie\n", encoding="utf-8")
    trained = cli("train", names_file, "--documents", "lines", "--steps", "3",
                  "--val-file", held, "--hidden-size", "16", "--out", tmp_path / "a")
    assert trained.exit_code == 0, trained.output
    lm = charrnn.load(tmp_path / "a")
    assert lm.marks([names[0], "zzaraq", "qqqq"]) == ["train", "val", "new"]
    split = cli("train", names_file, "--documents", "lines", "--steps", "3",
                "--hidden-size", "16", "--out", tmp_path / "b")
    assert split.exit_code == 0, split.output
    lm = charrnn.load(tmp_path / "b")
    marks = lm.marks(names)
    # 20 of the 400 are held out (5%); a held-out name also in the training list is "train"
    assert 0 < marks.count("val") <= 20 and marks.count("val") + marks.count("train") == 400
    assert marks.count("new") == 0
    names_file.write_text("changed\n", encoding="utf-8")
    with pytest.raises(CharRNNError, match="has changed since training"):
        charrnn.load(tmp_path / "b").marks(["x"])


def test_the_substring_index_agrees_with_a_naive_search(tmp_path):
    import numpy as np

    from charrnn.data.substrings import SubstringIndex

    rng = random.Random(0)
    corpus = "".join(rng.choice("abcd") for _ in range(3000))
    query = "".join(rng.choice("abcd") for _ in range(200))
    ids = np.frombuffer(corpus.encode(), dtype=np.uint8)
    index = SubstringIndex.cached(ids, tmp_path, "test corpus")
    found, where = index.match_lengths(np.frombuffer(query.encode(), dtype=np.uint8), cap=16)
    for i in range(len(query)):
        longest = 0
        while longest < 16 and i + longest < len(query) and \
                query[i : i + longest + 1] in corpus:
            longest += 1
        assert found[i] == longest
        assert corpus[where[i] : where[i] + longest] == query[i : i + longest]
    again = SubstringIndex.cached(ids, tmp_path, "test corpus")  # from the cache
    assert isinstance(again.suffixes, np.memmap) and np.array_equal(again.suffixes,
                                                                    index.suffixes)


def test_novelty_of_copied_and_of_new_text(trained_run, tmp_path, cli, tiny_text):
    import charrnn as api

    lm = api.load(trained_run)
    copied = tiny_text()[100:170]  # inside the training part of the play
    report = lm.novelty([copied], max_n=10)
    assert report.generated == [1.0] * 10 and report.longest == len(copied)
    assert report.longest_text == copied and report.held_out[0] == 1.0
    fresh = lm.novelty(["Whit gloon"], max_n=10)
    assert fresh.generated[0] == 1.0 and fresh.generated[-1] == 0.0 and fresh.longest < 10
    assert lm.novelty(["Whit"], max_n=10).generated[-1] is None  # no substring that long
    data = json.loads(cli("novelty", "--checkpoint", trained_run, "--num-samples", "3",
                          "--length", "60", "--max-n", "12", "--json", "--plot",
                          tmp_path / "n.png").stdout)
    assert data["lengths"] == list(range(1, 13)) and len(data["held_out"]) == 12
    assert data["generated"][0] == 1.0 and data["symbols"] == 180
    assert (tmp_path / "n.png").read_bytes()[:4] == b"\x89PNG"


def test_novelty_of_a_documents_model(names_run, cli):
    result = cli("novelty", "--checkpoint", names_run, "--num-samples", "30", "--max-n", "6")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 6 and "longest copied span" in result.stdout


def test_characters_seen_count_what_was_trained_not_padding(names_file, tmp_path):
    names = names_file.read_text(encoding="utf-8").split()
    result = charrnn.train(names_file, documents="lines", val_file=names_file,
                           steps=math.ceil(len(names) / 16), batch_size=16, seq_len=64,
                           hidden_size=16, eval_every=10**6, out=tmp_path / "run")
    assert result.chars_seen == sum(map(len, names)) + len(names)  # one epoch, ends too
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["chars"] == result.chars_seen


def test_packed_batches_of_long_uneven_documents_never_give_a_window_without_targets():
    rng = random.Random(1)
    text = "\n".join("ab"[i % 2] * rng.randint(5, 120) for i in range(300)) + "\n"
    ids, vocab = ids_of(text)
    docs = find_documents(ids, vocab.index["\n"], "lines")
    vocab = vocab.with_end(len(docs))
    batcher = DocumentBatcher(ids, docs, vocab.end_id, batch_size=8, seq_len=16, seed=1,
                              order="packed")
    seen = 0
    for _ in range(2 * batcher.windows_per_epoch):
        _, y, _ = batcher.next()
        assert (y != IGNORE).any()  # a window of padding alone would score 0 / 0
        seen += int((y != IGNORE).sum())
    assert seen >= 2 * (docs.chars + len(docs)) * 0.9
    assert batcher.padding < 0.2


def test_a_window_of_padding_alone_trains_to_a_loss_of_zero_not_nan():
    from charrnn.model.network import CharRNN
    from charrnn.training.train_step import make_optimizer, train_step

    model = CharRNN(ModelConfig(hidden_size=8, embed_size=4, vocab_size=5))
    optimizer = make_optimizer(model, TrainConfig())
    x = torch.full((2, 3), 4)
    y = torch.full((2, 3), IGNORE)  # a process's rows of a batch's last window
    loss, _ = train_step(model, optimizer, x, y, model.initial_state(2), grad_clip=1.0)
    assert float(loss) == 0.0
    assert all(torch.isfinite(p).all() for p in model.parameters())
