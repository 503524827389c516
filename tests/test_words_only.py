"""Only real words (issue 38, item 4): a model keeps its corpus's word list, and
--words-only writes nothing else, or --new-words' share of other words at most."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch

import charrnn
from charrnn import Constraints
from charrnn.data import word_list
from charrnn.errors import CheckpointError, ConfigError
from charrnn.model import checkpoint

GOLDEN = Path(__file__).parent / "data" / "golden"
WORDS = ["a", "at", "cat", "dog", "mat", "on", "sat", "the", "to", "toes"]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


@pytest.fixture(scope="module")
def listed(tmp_path_factory) -> Path:
    """The golden a-z model, its checkpoint given a word list of its own."""
    path = tmp_path_factory.mktemp("listed") / "model.safetensors"
    ckpt = checkpoint.load(GOLDEN / "lstm-1-char.safetensors")
    checkpoint.save(path, {**ckpt.tensors, word_list.TENSOR: word_list.to_tensor(WORDS)},
                    ckpt.record)
    return path


def test_a_trained_model_keeps_its_corpus_words(lm, tiny_text):
    assert lm.words == tuple(word_list.words_of([tiny_text(40)]))
    assert {"romeo", "glove", "yonder"} <= set(lm.words)
    for text in lm.samples(4, 120, seed=1, constraints=Constraints(words_only=True)):
        assert set(words(text)) <= set(lm.words), text


def test_every_word_is_listed_whatever_else_is_asked(listed):
    lm = charrnn.load(listed)
    assert not set(words("".join(lm.samples(8, 60, seed=2)))) <= set(WORDS)  # left alone
    asked = [Constraints(words_only=True),
             Constraints(words_only=True, include=("dog",)),
             Constraints(words_only=True, ban_chars="e"),  # "the" and "toes" cannot be
             Constraints(words_only=True, exclude=("a", "the"), include=("cat", "mat"),
                         in_order=True)]
    for constraints in asked:
        for text in lm.samples(6, 40, seed=3, temperature=1.2, constraints=constraints):
            assert len(text) == 40 and set(words(text)) <= set(WORDS), (constraints, text)
            assert all(w in words(text) for w in constraints.include), text
            assert not set(constraints.ban_chars) & set(text), text


def test_new_words_keep_to_their_share(listed):
    lm = charrnn.load(listed)
    share = Constraints(words_only=True, new_words=0.25)
    seen_new = 0
    for text in lm.samples(12, 80, seed=4, temperature=1.3, constraints=share):
        found = words(text)
        new = [w for w in found if w not in WORDS]
        assert len(new) <= 0.25 * len(found), text
        seen_new += len(new)
    assert seen_new  # the share is used, not only allowed


def test_what_cannot_be_met_is_one_line(listed, tmp_path):
    lm = charrnn.load(listed)
    with pytest.raises(ConfigError, match="not a word of the model's corpus") as caught:
        lm.sample(40, constraints=Constraints(words_only=True, include=("cow",)))
    assert caught.value.field == "include"
    with pytest.raises(ConfigError, match="no text of any length") as caught:
        lm.sample(40, constraints=Constraints(words_only=True, include=("cat",),
                                              ban_chars="t"))
    assert caught.value.field == "include"
    older = tmp_path / "older.safetensors"  # no list, its corpus not here
    shutil.copy(GOLDEN / "lstm-1-char.safetensors", older)
    with pytest.raises(ConfigError, match="keeps none and its corpus is not there"):
        charrnn.load(older).sample(40, constraints=Constraints(words_only=True))


def test_an_older_model_lists_its_corpus_when_it_is_there(trained_run, tmp_path):
    ckpt = checkpoint.load(trained_run / "best.safetensors")
    older = tmp_path / "older.safetensors"
    checkpoint.save(older, {k: v for k, v in ckpt.tensors.items()
                            if k != word_list.TENSOR}, ckpt.record)
    lm = charrnn.load(older)
    assert lm.words is None
    text = lm.sample(80, seed=5, constraints=Constraints(words_only=True))
    assert set(words(text)) <= set(charrnn.load(trained_run).words)


@pytest.mark.parametrize("tensor, why", [
    (torch.tensor([0xFF, 0xFE], dtype=torch.uint8), "not UTF-8"),
    (word_list.to_tensor(["ok", "two words"]), "words of 1 to 64"),
    (word_list.to_tensor(["x" * 65]), "words of 1 to 64"),
    (torch.zeros(3, dtype=torch.int32), "at most"),
])
def test_a_hostile_word_list_is_refused_in_one_line(tensor, why, tmp_path):
    ckpt = checkpoint.load(GOLDEN / "lstm-1-char.safetensors")
    path = tmp_path / "hostile.safetensors"
    checkpoint.save(path, {**ckpt.tensors, word_list.TENSOR: tensor}, ckpt.record)
    with pytest.raises(CheckpointError, match=why):
        charrnn.load(path)


def test_the_list_is_every_word_once_lowercased_and_sorted():
    text = "The cat's toys.\nTHE Cat sat; 42 times\n" + "x" * 70
    assert word_list.words_of([text]) == ["42", "cat", "cat's", "sat", "the", "times", "toys"]


def test_one_characters_step_is_that_characters_place_in_the_whole_row():
    """The joined rules' witnesses step one character at a time (`step`), the sampler a
    row at a time (`steps`): both agree on every state a text can reach, capitals,
    boundaries, words outside the list and the new-word counts included."""
    from charrnn.decoding.known_words import WordsOnly, trie_of

    chars = tuple("\n .,'-aAbcdehmnostT")
    texts = ["the cat sat on the mat.", "The dog's toes", "zebra at", "a - at,\nto", "tt a"]
    for share in (0.0, 0.5):
        rule = WordsOnly.after(trie_of(tuple(WORDS)), chars, share, "")
        for text in texts:
            state = rule.start
            for c in text:
                row = rule.steps(state)
                assert [rule.step(state, d) for d in chars] == row, (share, text, state)
                if c not in chars or row[chars.index(c)] is None:
                    break
                state = row[chars.index(c)]
