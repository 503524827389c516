"""Constraints on what a generated text holds (issue 38, first part): words it must hold,
words and characters it must not; every text meets them, and a request none can meet is
one error before anything is drawn."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

import charrnn
from charrnn import Constraints
from charrnn.errors import ConfigError

GOLDEN = Path(__file__).parent / "data" / "golden"


@pytest.fixture(scope="module")
def lm():
    return charrnn.load(GOLDEN / "lstm-1-char.safetensors")  # 28 symbols: a-z, space, . \n


def holds(text: str, word: str, ignore_case: bool = False) -> bool:
    """Whether `word` is in `text` as a whole word (between non-word characters)."""
    flags = re.IGNORECASE if ignore_case else 0
    return re.search(rf"(?<![\w']){re.escape(word)}(?![\w'])", text, flags) is not None


def test_every_text_meets_its_constraints_whatever_they_are(lm):
    """Two hundred seeded requests, their constraints drawn at random: every text holds
    each word to include (in order where asked), none to exclude, no banned character."""
    chooser = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxy"
    for request in range(50):
        words = ["".join(chooser.choices(letters, k=chooser.randint(1, 4)))
                 for _ in range(chooser.randint(0, 3))]
        include, exclude = tuple(words[:2]), tuple(words[2:])
        banned = "".join(chooser.sample([c for c in letters if not any(c in w for w in words)],
                                        chooser.randint(0, 3)))
        in_order = chooser.random() < 0.5
        constraints = Constraints(include, exclude, banned, in_order)
        length = chooser.randint(12, 60)
        texts = lm.samples(4, length, seed=request, temperature=chooser.choice([0.5, 1.0]),
                           constraints=constraints)
        for text in texts:
            assert len(text) == length, (constraints, text)
            assert all(holds(text, w) for w in include), (constraints, text)
            assert not any(holds(text, w) for w in exclude), (constraints, text)
            assert not set(banned) & set(text), (constraints, text)
            if in_order and len(include) == 2 and include[0] != include[1]:
                first = re.search(rf"(?<![\w']){include[0]}(?![\w'])", text).start()
                assert any(m.start() > first for m in
                           re.finditer(rf"(?<![\w']){include[1]}(?![\w'])", text)), text


def test_a_lipogram_and_a_case_blind_exclusion(lm):
    texts = lm.samples(8, 80, seed=3, constraints=Constraints(ban_chars="e"))
    assert all("e" not in t for t in texts)
    texts = lm.samples(8, 80, seed=3, constraints=Constraints(exclude=("the",),
                                                               ignore_case=True))
    assert not any(holds(t, "the", ignore_case=True) for t in texts)
    unconstrained = lm.samples(8, 80, seed=3)
    assert any(holds(t, "the") for t in unconstrained)  # the model does write it


def test_a_word_continuing_the_prime_is_not_a_whole_word(lm):
    """After a prime that ends inside a word, the first characters written finish that
    word: "t" right after "ca" makes "cat", not the word "t"."""
    for text in lm.samples(6, 20, prime="the ca", seed=5, constraints=Constraints(("t",))):
        found = re.finditer(r"(?<![\w'])t(?![\w'])", "the ca" + text)
        assert any(m.start() >= len("the ca") for m in found), text


def test_a_model_of_lines_ends_a_line_only_once_it_holds_the_words():
    """The end symbol is allowed only where the text may end: lines that would have
    ended within a few characters run on until they hold the word."""
    lm = charrnn.load(GOLDEN / "lstm-1-char-lines.safetensors")
    assert max(map(len, lm.samples(10, 60, seed=2))) < 60  # the model ends its lines
    docs = lm.samples(10, 60, seed=2, constraints=Constraints(("Toni",)))
    assert all(holds(d, "Toni") for d in docs)


@pytest.mark.parametrize(("constraints", "length", "field", "says"), [
    (Constraints(("cat", "dog", "fish")), 8, "include", "no text of 8 characters"),
    (Constraints(("Cat",)), 40, "include", "never saw: 'C'"),
    (Constraints(("two words",)), 40, "include", "whole words"),
    (Constraints(exclude=("",)), 40, "exclude", "whole words"),
    (Constraints(tuple(f"w{i}" for i in range(40))), 400, "include", "at most 32"),
    (Constraints(("cat",), ban_chars="a"), 40, "include", "no text of any length"),
])
def test_a_request_no_text_can_meet_is_one_error_before_any_draw(lm, constraints, length,
                                                                 field, says):
    with pytest.raises(ConfigError, match=says) as raised:
        lm.sample(length, seed=1, constraints=constraints)
    assert raised.value.field == field


def test_a_byte_level_model_refuses_constraints():
    lm = charrnn.load(GOLDEN / "lstm-1-byte.safetensors")
    with pytest.raises(ConfigError, match="character-level"):
        lm.sample(20, constraints=Constraints(("a",)))


def test_a_list_of_thousands_of_words_to_exclude_is_kept_quickly(lm):
    """An exclusion list is one machine over the words' starts, not one per word: ten
    thousand words compile and sample in well under a second's worth of states."""
    chooser = random.Random(1)
    words = tuple({"".join(chooser.choices("abcdefghij", k=chooser.randint(2, 5)))
                   for _ in range(10_000)})
    texts = lm.samples(4, 60, seed=4, constraints=Constraints(exclude=words))
    assert not any(holds(t, w) for t in texts for w in words)


MODEL = str(GOLDEN / "lstm-1-char.safetensors")


def test_the_sample_command_keeps_every_text_to_its_options(cli, tmp_path):
    """`charrnn sample` with --include (in order), --exclude, --exclude-file, --ignore-case
    and --ban-chars: every text meets them, and --json says what they were."""
    import json

    banned = tmp_path / "banned.txt"
    banned.write_text("the\nand  of\n")
    result = cli("sample", "--checkpoint", MODEL, "--length", "60", "--num-samples", "6",
                 "--seed", "2", "--include", "cat", "--include", "dog", "--in-order",
                 "--exclude", "a", "--exclude-file", str(banned), "--ignore-case",
                 "--ban-chars", "zq", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found[0]["constraints"] == {"include": ["cat", "dog"], "exclude": ["a", "the", "and",
                                       "of"], "ban_chars": "zq", "in_order": True,
                                       "ignore_case": True}
    for text in (f["text"] for f in found):
        assert holds(text, "cat") and holds(text, "dog"), text
        assert text.index("cat") < text.rindex("dog")
        assert not any(holds(text, w, True) for w in ("a", "the", "and", "of")), text
        assert not {"z", "q"} & set(text)


@pytest.mark.parametrize(("args", "says"), [
    (("--length", "5", "--include", "elephant"), "no text of 5 characters"),
    (("--include", "two words"), "--include takes whole words"),
    (("--exclude-file", "missing.txt"), "exclude file not found"),
    (("--include", "Zebra"), "never saw: 'Z'"),
])
def test_a_constraint_the_command_cannot_keep_is_one_line(cli, one_error_line, args, says):
    assert says in one_error_line(cli("sample", "--checkpoint", MODEL, *args))


def test_the_server_keeps_every_text_to_the_requests_constraints(charrnn_server, lm):
    """POST /v1/sample with include, exclude, ban_chars, in_order and ignore_case, over
    real HTTP beside an unconstrained request; what no text can meet is a 400 naming the
    field, before anything is generated."""
    import httpx

    body = {"length": 50, "num_samples": 4, "seed": 6, "include": ["cat", "dog"],
            "in_order": True, "exclude": ["a"], "ban_chars": "zq", "ignore_case": True}
    with charrnn_server(lm) as url:
        replies = [httpx.post(url + "/v1/sample", json=b, timeout=60)
                   for b in (body, {"length": 50, "seed": 6})]
        too_long = httpx.post(url + "/v1/sample", json={"length": 5, "include": ["elephant"]})
        not_words = httpx.post(url + "/v1/sample", json={"exclude": "two words"})
    assert [r.status_code for r in replies] == [200, 200], replies[0].text
    for text in replies[0].json()["samples"]:
        assert holds(text, "cat") and holds(text, "dog") and text.index("cat") < text.rindex("dog")
        assert not holds(text, "a", True) and not {"z", "q"} & set(text), text
    assert too_long.status_code == 400 and too_long.json()["field"] == "include"
    assert not_words.status_code == 400 and not_words.json()["field"] == "exclude"


def test_a_constrained_beam_gives_the_likeliest_texts_that_meet_them_with_exact_scores(
        lm, cli):
    """lm.beam and `charrnn beam` with constraints: every result meets them, its score is
    `logprob` of its text exactly, and none is likelier than the best the search found
    among the unconstrained texts that happen to meet them."""
    import json

    rules = Constraints(("cat",), ("the",), "z")
    results = lm.beam(30, width=16, prime="a ", n_best=4, constraints=rules)
    assert len(results) == 4
    for text, score in results:
        assert holds(text, "cat") and not holds(text, "the") and "z" not in text, text
        assert score == pytest.approx(lm.logprob(text, prime="a "), abs=1e-4)
    scores = [s for _, s in results]
    assert scores == sorted(scores, reverse=True)
    out = cli("beam", "--checkpoint", MODEL, "--length", "20", "--include", "dog",
              "--ban-chars", "e", "--json")
    assert out.exit_code == 0, out.output
    found = json.loads(out.stdout)
    assert found["constraints"]["include"] == ["dog"]
    assert all(holds(r["text"], "dog") and "e" not in r["text"] for r in found["results"])


def test_a_stop_string_ends_a_text_only_once_it_meets_its_constraints(lm):
    assert all(len(t) < 20 for t in lm.samples(8, 80, seed=9, stop=" "))  # it ends them
    texts = lm.samples(8, 80, seed=9, stop=" ", constraints=Constraints(("cat",)))
    assert all(holds(t, "cat") for t in texts), texts


def test_particles_draw_from_the_models_own_distribution_given_the_constraints(lm):
    """Every three-character text is scored exactly, so the model's distribution given
    "holds the word a" is known: where the word stands. The masked sampler is far from it
    (it leaves the word to the end); the default, particles, is within a third of its
    distance."""
    import itertools

    import numpy as np

    rules = Constraints(("a",))
    texts = ["".join(t) for t in itertools.product(lm.vocab.chars, repeat=3)]
    where = {t: m.start() for t in texts
             if (m := re.search(r"(?<![\w'])a(?![\w'])", t))}
    scores = np.array([lm.logprob(t) for t in where])
    exact = np.zeros(3)
    np.add.at(exact, list(where.values()), np.exp(scores - scores.max()))
    exact /= exact.sum()

    def distance(**particles) -> float:
        drawn = lm.samples(300, 3, seed=0, constraints=rules, **particles)
        found = np.bincount([where[t] for t in drawn], minlength=3) / len(drawn)
        return 0.5 * float(np.abs(found - exact).sum())

    masked, default = distance(particles=1), distance()
    assert masked > 0.1 and default < masked / 3, (masked, default)


def test_texts_beyond_one_batch_of_rows_are_drawn_in_further_batches(lm):
    """40 texts of 64 particles each are more rows than one batch holds (1024): all 40
    come back, each meeting its constraints, and not all alike."""
    texts = lm.samples(40, 12, seed=2, constraints=Constraints(("a", "to")), particles=64)
    assert len(texts) == 40 and all(holds(t, "a") and holds(t, "to") for t in texts)
    assert len(set(texts)) > 20


@pytest.mark.parametrize(("options", "says"), [
    ({"particles": 8}, "only constrained text"),
    ({"particles": 0, "constraints": Constraints(("a",))}, "between 1 and 1024"),
    ({"particles": 8, "stop": " ", "constraints": Constraints(("a",))}, "leave stop out"),
    ({"particles": 8, "repetition_penalty": 1.5, "constraints": Constraints(("a",))},
     "no repetition_penalty"),
    ({"particles": 8, "temperature": 0, "constraints": Constraints(("a",))},
     "temperature above 0"),
])
def test_what_particles_cannot_draw_is_one_error(lm, options, says):
    with pytest.raises(ConfigError, match=says) as raised:
        lm.sample(20, **options)
    assert raised.value.field == "particles"


def test_the_sample_command_draws_by_particles(cli, one_error_line):
    import json

    out = cli("sample", "--checkpoint", MODEL, "--length", "30", "--include", "cat",
              "--particles", "16", "--num-samples", "2", "--seed", "3", "--json")
    assert out.exit_code == 0, out.output
    found = json.loads(out.stdout)
    assert all(holds(f["text"], "cat") and f["particles"] == 16 for f in found)
    by_default = cli("sample", "--checkpoint", MODEL, "--length", "30", "--include", "cat",
                     "--json")
    assert json.loads(by_default.stdout)["particles"] == 64  # where particles apply
    for masked in (["--stop", "."], ["--temperature", "0"], ["--repetition-penalty", "2"]):
        out = cli("sample", "--checkpoint", MODEL, "--length", "30", "--include", "cat",
                  "--json", *masked)
        assert out.exit_code == 0 and json.loads(out.stdout)["particles"] == 1, out.output
    assert "--particles draws only constrained text" in one_error_line(
        cli("sample", "--checkpoint", MODEL, "--particles", "16"))


def test_next_words_are_the_likeliest_whole_words_with_exact_probabilities(lm):
    """lm.next_words: each probability is that of the word's characters and of a
    character that ends it (checked against logprob); they come best first; and no one-
    or two-letter word left out is likelier than the last one given."""
    import math

    ends = [c for c in lm.vocab.chars if not (c.isalnum() or c == "'")]

    def probability(word: str, prime: str) -> float:
        return sum(math.exp(lm.logprob(word + c, prime=prime)) for c in ends)

    found = lm.next_words("the ", 5)
    assert len(found) == 5 and [p for _, p in found] == sorted((p for _, p in found),
                                                               reverse=True)
    for word, p in found:
        assert p == pytest.approx(probability(word, "the "), rel=1e-4)
    letters = [c for c in lm.vocab.chars if c.isalpha()]
    words = letters + [a + b for a in letters for b in letters]
    last = found[-1][1]
    assert all(w in dict(found) for w in words if probability(w, "the ") > last * 1.0001)
    completions = lm.next_words("the ca", 3)
    assert all(w.startswith("ca") for w, _ in completions)  # the word the prime ends in
    with pytest.raises(ConfigError, match="k must be between 1 and 50"):
        lm.next_words("the ", 0)


def test_particles_end_a_text_where_its_pattern_is_complete(lm):
    """A pattern that nothing may follow once complete ends each particle's text there
    (it had drawn from rows with nothing left to draw)."""
    texts = lm.samples(6, 40, seed=4, constraints=Constraints(pattern=r"[a-z]+( [a-z]+)?\."),
                       particles=8)
    assert all(re.fullmatch(r"[a-z]+( [a-z]+)?\.", t) and len(t) < 40 for t in texts), texts
