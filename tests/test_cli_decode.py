"""`charrnn sample` and `charrnn beam` with every decoding option, from the command line."""

import json

import pytest


def test_sample_options_from_the_command_line(trained_run, cli):
    args = ["sample", "--checkpoint", trained_run, "--prime", "ROMEO:\n", "--length", "300",
            "--seed", "5", "--top-k", "5", "--top-p", "0.95", "--repetition-penalty", "1.1"]
    stopped = cli(*args, "--stop", "\\n")  # typed as backslash-n on a shell
    assert stopped.exit_code == 0, stopped.output
    body = stopped.stdout[len("ROMEO:\n"):]
    assert body.endswith("\n\n") and body.count("\n") == 2  # the stop, then the final newline
    data = json.loads(cli(*args, "--stop", "\\n", "--json").stdout)
    assert data["text"].endswith("\n") and data["top_k"] == 5 and data["stop"] == ["\n"]


def test_num_samples_prints_blocks_or_a_json_list(trained_run, cli):
    args = ["sample", "--checkpoint", trained_run, "--length", "30", "--num-samples", "3",
            "--seed", "1", "--prime", "NURSE:"]
    blocks = cli(*args)
    assert blocks.exit_code == 0, blocks.output
    for k in (1, 2, 3):
        assert f"--- sample {k} of 3 ---\nNURSE:" in blocks.stdout
    listed = json.loads(cli(*args, "--json").stdout)
    assert len(listed) == 3 and all(len(item["text"]) == 30 for item in listed)
    assert len({item["text"] for item in listed}) == 3


def test_beam_options_from_the_command_line(trained_run, cli):
    args = ["beam", "--checkpoint", trained_run, "--prime", "ROMEO:\n", "--length", "50",
            "--width", "6", "--n-best", "3", "--stop", "\\n", "--length-penalty", "1.0",
            "--no-repeat-ngram", "5"]
    table = cli(*args)
    assert table.exit_code == 0, table.output
    assert "score" in table.stdout and "log-prob" in table.stdout
    data = json.loads(cli(*args, "--json").stdout)
    assert len(data["results"]) == 3 and data["no_repeat_ngram"] == 5
    for item in data["results"]:
        assert item["score"] == pytest.approx(item["logprob"] / len(item["text"]))


@pytest.mark.parametrize("args,message", [
    (["sample", "--top-k", "0"], "--top-k must be >= 1"),
    (["sample", "--top-p", "0"], "--top-p must be in (0, 1]"),
    (["sample", "--repetition-penalty", "0.5"], "--repetition-penalty must be >= 1"),
    (["sample", "--num-samples", "0"], "--num-samples must be a whole number >= 1"),
    (["sample", "--stop", "€"], "--stop contains 1 character(s) the model never saw"),
    (["beam", "--no-repeat-ngram", "-2"], "--no-repeat-ngram must be >= 0"),
    (["beam", "--width", "8", "--n-best", "9"], "--n-best must be between 1 and --width (8)"),
])
def test_bad_decoding_options_are_one_line(trained_run, args, message, cli, one_error_line):
    result = cli(*args, "--checkpoint", trained_run)
    assert message in one_error_line(result)
    assert result.stdout == ""
