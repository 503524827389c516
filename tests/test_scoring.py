"""`charrnn eval` / `lm.evaluate`: exact loss of a model on a whole text."""

import json
import math

import pytest
import torch

from charrnn.api.language_model import LanguageModel
from charrnn.config import ModelConfig
from charrnn.data.vocab import Vocab
from charrnn.decoding.scoring import text_loss
from charrnn.model.network import CharRNN


def known_model() -> LanguageModel:
    """Predicts a: 1/2, b: 1/4, c: 1/4 for every character, whatever came before."""
    vocab = Vocab(["a", "b", "c"], counts=[2, 1, 1])
    model = CharRNN(ModelConfig(hidden_size=4, embed_size=2, vocab_size=3))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.head.bias.copy_(torch.log(torch.tensor([0.5, 0.25, 0.25])))
    return LanguageModel(model, vocab)


def test_loss_of_a_known_model():
    loss = known_model().evaluate("aab")  # -ln: ln 2 + ln 2 + ln 4 = 4 ln 2 over 3 chars
    assert loss.chars == 3
    assert loss.nats_per_char == pytest.approx(4 * math.log(2) / 3)
    assert loss.bits_per_char == pytest.approx(4 / 3)
    assert loss.perplexity == pytest.approx(2 ** (4 / 3))


def test_chunked_scoring_equals_one_pass(lm):
    text = "ROMEO:\nO that I were a glove upon that hand,\nGood night, good night!\n" * 3
    ids = lm.vocab.encode(text)
    whole = -lm.logprob(text)
    for cuts, piece in [([len(ids)], 4096), ([5, 40, len(ids)], 7), ([1, 2, len(ids)], 1)]:
        chunks, start = [], 0
        for end in cuts:
            chunks.append(ids[start:end])
            start = end
        loss = text_loss(lm.decoder, chunks, piece=piece)
        assert loss.chars == len(text)
        assert loss.nats == pytest.approx(whole, rel=1e-5)


def test_eval_file_from_the_command_line(trained_run, tmp_path, cli):
    import charrnn

    text = "NURSE:\nI will not fail.\n\n" * 20
    path = tmp_path / "held.txt"
    path.write_text(text.replace("\n", "\r\n"))  # read like the corpus: newlines normalised
    expected = -charrnn.load(trained_run).logprob(text) / len(text)
    data = json.loads(cli("eval", path, "--checkpoint", trained_run, "--json").stdout)
    assert set(data) >= {"nats_per_char", "bits_per_char", "perplexity", "chars"}
    assert data["chars"] == len(text)
    assert data["nats_per_char"] == pytest.approx(expected, rel=1e-5)
    assert data["bits_per_char"] == pytest.approx(expected / math.log(2), rel=1e-5)
    assert data["perplexity"] == pytest.approx(math.exp(expected), rel=1e-5)
    shown = cli("eval", path, "--checkpoint", trained_run)
    assert shown.exit_code == 0 and f"{expected:.4f} nats/char" in shown.stdout


@pytest.mark.parametrize("content,message", [
    (None, "text file not found"),
    ("", "text file is empty"),
    ("ROMEO: zebra", "character(s) the model never saw"),
])
def test_bad_eval_input_is_one_line(trained_run, tmp_path, content, message, cli, one_error_line):
    path = tmp_path / "x.txt"
    if content is not None:
        path.write_text(content)
    result = cli("eval", path, "--checkpoint", trained_run)
    assert message in one_error_line(result) and result.stdout == ""


def test_byte_level_file_is_scored_byte_by_byte(corpus_file, tmp_path, prepared):
    import charrnn
    from charrnn.config import TrainConfig
    from charrnn.training.loop import train_model

    train_model(prepared(corpus_file, level="byte"), ModelConfig(hidden_size=16, embed_size=8),
          TrainConfig(batch_size=4, seq_len=16, steps=5, eval_every=5), tmp_path / "run")
    lm = charrnn.load(tmp_path / "run")
    text = "ROMEO: café\n"
    path = tmp_path / "held.txt"
    path.write_text(text, encoding="utf-8")
    loss = lm.evaluate_file(path)
    assert loss.chars == len(text.encode("utf-8"))  # é is two bytes
    assert loss.nats == pytest.approx(-lm.logprob(text), rel=1e-5)
    first = lm.evaluate_file(path, max_chars=10)  # --max-chars counts bytes here
    assert first.chars == 10 and first.nats == pytest.approx(-lm.logprob("ROMEO: caf"),
                                                             rel=1e-5)
    assert lm.evaluate_file(path, max_chars=11).chars == 11  # stops inside é


def test_max_chars_scores_the_start_of_a_file(trained_run, tmp_path, cli, one_error_line):
    text = "NURSE:\nI will not fail.\n\n" * 40
    path = tmp_path / "held.txt"
    path.write_text(text)
    import charrnn

    expected = -charrnn.load(trained_run).logprob(text[:30]) / 30
    data = json.loads(cli("eval", path, "--checkpoint", trained_run, "--max-chars", "30",
                          "--json").stdout)
    assert data["chars"] == 30 and data["nats_per_char"] == pytest.approx(expected, rel=1e-5)
    assert "--max-chars must be >= 1" in one_error_line(
        cli("eval", path, "--checkpoint", trained_run, "--max-chars", "0"))


def test_many_files_are_read_as_training_reads_them_and_each_scored_alone(lm, tmp_path):
    """`evaluate_files` takes the files the data layer finds and reads (as a training
    corpus of them: an empty file and binary data are skipped, counted there), and
    scores each as `evaluate` scores its text, per folder and in all."""
    texts = {"a/one.txt": "ROMEO:\nI will not fail.\n", "a/two.txt": "JULIET:\nGood night!\n",
             "b/three.txt": "NURSE:\nO that I were a glove upon that hand,\n"}
    for name, text in texts.items():
        (tmp_path / "letters" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "letters" / name).write_text(text, encoding="utf-8")
    (tmp_path / "letters" / "b" / "empty.txt").write_text("")
    (tmp_path / "letters" / "b" / "blob.bin").write_bytes(b"\x00" * 64)
    losses = lm.evaluate_files([tmp_path / "letters"])
    each = {name: lm.evaluate(text) for name, text in texts.items()}
    assert set(losses) == {"", "a", "b"}
    for source, names in [("a", ["a/one.txt", "a/two.txt"]), ("b", ["b/three.txt"]),
                          ("", list(texts))]:
        assert losses[source].chars == sum(each[n].chars for n in names)
        assert losses[source].nats == pytest.approx(sum(each[n].nats for n in names), rel=1e-5)


def test_a_file_with_a_character_the_model_never_saw_is_named(lm, tmp_path):
    from charrnn.errors import VocabError

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("ROMEO:\nI will not fail.\n")
    (tmp_path / "notes" / "b.txt").write_text("NURSE: a \u2603 here\n", encoding="utf-8")
    with pytest.raises(VocabError, match="never saw: '\u2603'"):
        lm.evaluate_files([tmp_path / "notes"])
