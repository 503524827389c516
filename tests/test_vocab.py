import pytest

from charrnn.data.vocab import ByteVocab, Vocab, vocab_from_dict
from charrnn.errors import CheckpointError, VocabError


def test_vocab_is_sorted_code_points_with_counts():
    vocab = Vocab.from_text("banana")
    assert vocab.chars == ["a", "b", "n"]
    assert vocab.counts == [3, 1, 2]


@pytest.mark.parametrize("text", [
    "plain ascii\nwith lines",
    "emoji 😀🎉 and flags 🇫🇷",
    "combining e\u0301 and CJK 漢字かな",
    "tabs\tand\r\nwindows endings",
])
def test_encode_decode_round_trip(text):
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    assert ids.dtype.is_floating_point is False
    assert ids.numel() == len(text)
    assert vocab.decode(ids) == text


def test_unknown_characters_are_named():
    vocab = Vocab.from_text("abc")
    with pytest.raises(VocabError, match=r"2 character\(s\) the model never saw: 'x', 'é'"):
        vocab.encode("abxéx", "prime")


def test_json_round_trip_and_bad_json():
    vocab = Vocab.from_text("hello world")
    again = vocab_from_dict(vocab.to_dict())
    assert again.chars == vocab.chars and again.counts == vocab.counts
    with pytest.raises(CheckpointError):
        vocab_from_dict({"level": "char", "chars": "ba", "counts": [1, 1]})  # not sorted
    with pytest.raises(CheckpointError):
        vocab_from_dict({"level": "char", "chars": "ab"})
    with pytest.raises(CheckpointError):
        vocab_from_dict({"level": "byte", "counts": [1, 2]})


def test_byte_level_is_lossless_and_displays_with_replacement():
    vocab = vocab_from_dict(ByteVocab().to_dict())
    assert len(vocab) == 256 and vocab.level == "byte"
    ids = vocab.encode("né😀")
    assert ids.tolist() == list("né😀".encode())
    cut = vocab.decode(ids[:-1])  # the emoji's last byte is missing
    assert cut.encode("utf-8", "surrogateescape") == "né😀".encode()[:-1]
    assert vocab.display(cut) == "né\ufffd"
    assert vocab.encode(cut).tolist() == ids[:-1].tolist()


def test_streaming_text_waits_for_complete_characters():
    text = ByteVocab().streaming_text()
    pieces = [text.feed(b) for b in "é😀".encode()]
    assert pieces == ["", "é", "", "", "", "😀"]
    text.feed(0xE2)
    assert text.flush() == "\udce2"
