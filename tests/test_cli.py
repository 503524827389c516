import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from charrnn.interface.cli import app


def test_train_sample_beam_end_to_end(corpus_file, cli, fast_flags):
    trained = cli("train", corpus_file, *fast_flags)
    assert trained.exit_code == 0, trained.output
    assert "validation" in trained.stderr and trained.stdout == ""
    assert Path("checkpoints/play/best.safetensors").is_file()
    assert Path("checkpoints/play/latest.safetensors").is_file()

    sampled = cli("sample", "--length", "50", "--prime", "ROMEO:", "--seed", "3")
    assert sampled.exit_code == 0, sampled.output
    assert sampled.stdout.startswith("ROMEO:")
    assert len(sampled.stdout) == len("ROMEO:") + 50 + 1  # the prime, 50 characters, "\n"
    assert "using checkpoint checkpoints/play/best.safetensors" in sampled.stderr

    again = cli("sample", "--length", "50", "--prime", "ROMEO:", "--seed", "3")
    assert again.stdout == sampled.stdout

    as_json = cli("sample", "--length", "20", "--temperature", "0", "--json",
                  "--checkpoint", "checkpoints/play")
    data = json.loads(as_json.stdout)
    assert len(data["text"]) == 20 and data["temperature"] == 0

    random_run = json.loads(cli("sample", "--length", "30", "--json").stdout)
    replay = cli("sample", "--length", "30", "--seed", random_run["seed"], "--json")
    assert json.loads(replay.stdout)["text"] == random_run["text"]

    beamed = cli("beam", "--width", "4", "--length", "12", "--prime", "JULIET:", "--n-best", "3")
    assert beamed.exit_code == 0, beamed.output
    assert beamed.stdout.count("JULIET:") == 3 and "log-prob" in beamed.stdout

    beam_json = json.loads(cli("beam", "--width", "4", "--length", "12", "--json").stdout)
    (result,) = beam_json["results"]
    assert result["rank"] == 1 and len(result["text"]) == 12 and result["logprob"] < 0


def test_a_second_run_never_overwrites_the_first(corpus_file, cli, fast_flags):
    assert cli("train", corpus_file, *fast_flags).exit_code == 0
    first = Path("checkpoints/play/best.safetensors").read_bytes()
    assert cli("train", corpus_file, *fast_flags, "--seed", "5").exit_code == 0
    assert Path("checkpoints/play/best.safetensors").read_bytes() == first
    assert Path("checkpoints/play-2/best.safetensors").is_file()


def test_out_refuses_to_replace_a_run_without_overwrite(corpus_file, cli, fast_flags,
                                                        one_error_line):
    assert cli("train", corpus_file, *fast_flags, "--out", "runs/a").exit_code == 0
    before = Path("runs/a/best.safetensors").read_bytes()
    line = one_error_line(cli("train", corpus_file, *fast_flags, "--out", "runs/a"))
    assert "--overwrite" in line
    assert Path("runs/a/best.safetensors").read_bytes() == before
    replaced = cli("train", corpus_file, *fast_flags, "--out", "runs/a", "--overwrite",
                   "--seed", "9")
    assert replaced.exit_code == 0
    assert Path("runs/a/best.safetensors").read_bytes() != before


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_other_cells_train_and_sample(corpus_file, cell, cli, fast_flags):
    assert cli("train", corpus_file, *fast_flags, "--model", cell, "--num-layers", "2",
               "--dropout", "0.2").exit_code == 0
    sampled = cli("sample", "--length", "30")
    assert sampled.exit_code == 0 and len(sampled.stdout) == 31


def test_train_without_a_corpus_uses_the_python_stdlib(cli):
    result = cli("train", "--steps", "2", "--hidden-size", "16", "--embed-size", "8",
                 "--batch-size", "4", "--seq-len", "16", "--eval-every", "2")
    assert result.exit_code == 0, result.output
    assert Path("checkpoints/python-stdlib/best.safetensors").is_file()


def test_a_tiny_corpus_shrinks_the_batch_with_a_warning(tmp_path, cli):
    small = tmp_path / "small.txt"
    small.write_text("to be or not to be\n" * 3)  # shorter than one --seq-len window
    result = cli("train", small, "--steps", "3", "--hidden-size", "8", "--eval-every", "3")
    assert result.exit_code == 0, result.output
    assert "--batch-size shrunk" in result.stderr and "--seq-len shrunk" in result.stderr


@pytest.mark.parametrize("args,message", [
    (["train", "missing.txt"], "corpus file not found: missing.txt"),
    (["train", "--time", "soon"], "--time must look like"),
    (["train", "--lr", "-1"], "--lr must be > 0"),
    (["sample"], "no checkpoint found"),
    (["beam"], "no checkpoint found"),
    (["sample", "--checkpoint", "nowhere"], "checkpoint not found: nowhere"),
])
def test_errors_without_a_model_are_one_line(args, message, cli, one_error_line):
    assert message in one_error_line(cli(*args))


@pytest.mark.parametrize("args,message", [
    (["sample", "--temperature", "-1"], "--temperature must be 0 (greedy) or at least 0.001"),
    (["sample", "--temperature", "1e-40"], "--temperature must be 0 (greedy) or at least"),
    (["sample", "--prime", "ROMEO§"], "never saw: '§'"),
    (["beam", "--width", "0"], "--width must be >= 1"),
    (["beam", "--prime", "µ"], "never saw: 'µ'"),
    (["sample", "--length", "-3"], "--length must be a whole number >= 0"),
])
def test_bad_decoding_input_is_one_line_and_prints_nothing(trained_run, args, message, cli,
                                                           one_error_line):
    result = cli(*args, "--checkpoint", trained_run)
    assert message in one_error_line(result)
    assert result.stdout == ""


def test_corrupt_checkpoint_is_one_line(tmp_path, cli, one_error_line):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    assert "cannot load checkpoint" in one_error_line(cli("sample", "--checkpoint", bad))


LONG_NAME = "a paragraph, not a file name: " * 12  # 360 characters: longer than a name may be


@pytest.mark.parametrize("args", [
    ("sample", "--checkpoint", LONG_NAME, "--length", "5"),
    ("info", LONG_NAME),
    ("explain", "--file", LONG_NAME),
    ("novelty", "--file", LONG_NAME),
    ("eval", LONG_NAME),
    ("train", LONG_NAME, "--steps", "1"),
])
def test_a_name_no_file_can_have_is_one_line(trained_run, cli, one_error_line, args):
    """A path longer than the system allows (ENAMETOOLONG) is "not found", not a
    traceback, wherever a command takes a file."""
    if args[0] in ("explain", "novelty", "eval"):
        args = (*args, "--checkpoint", trained_run)
    assert "not found" in one_error_line(cli(*args))


def test_a_folder_that_hides_a_shipped_model_says_so(tmp_path, cli, one_error_line):
    """An empty folder `english` here hides the model of that name that ships: the line
    says so and gives that model's file, which then works; the folder is left as it was."""
    from charrnn.model import shipped

    (tmp_path / "english").mkdir()
    (tmp_path / "english" / "notes.txt").write_text("mine")
    line = one_error_line(cli("sample", "--checkpoint", "english", "--length", "5"))
    assert "no checkpoint in run folder english" in line
    assert "ships with charrnn" in line and str(shipped.path_of("english")) in line
    assert cli("sample", "--checkpoint", shipped.path_of("english"), "--length",
               "5").exit_code == 0
    assert [p.name for p in (tmp_path / "english").iterdir()] == ["notes.txt"]


def command_words(command, words=()):
    """The words of every command registered under `command`, groups and their commands
    alike: ("train",), ("corpus",), ("corpus", "get"), ..."""
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield (*words, name)
        yield from command_words(sub, (*words, name))


COMMANDS = list(command_words(typer.main.get_command(app)))  # a new command is covered too


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_examples(cli, words):
    result = cli(*words, "--help")
    assert result.exit_code == 0, result.output
    assert "Examples" in result.stdout and f"charrnn {' '.join(words)}" in result.stdout


def test_train_help_states_the_default_budget(cli):
    assert "5m00s" in cli("train", "--help").stdout


def _module(*args, **kwargs):
    env = {**os.environ, "PYTHONUNBUFFERED": "0"}
    return subprocess.Popen([sys.executable, "-m", "charrnn", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def test_sampling_streams_into_a_pipe(trained_run):
    proc = _module("sample", "--checkpoint", trained_run, "--length", "1000000", "--prime", "R")
    try:
        first = proc.stdout.read(20)  # arrives long before a million characters are done
        assert len(first) == 20 and first.startswith(b"R")
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.communicate()


def test_module_entry_point_exit_codes(trained_run):
    proc = _module("sample", "--checkpoint", "missing.safetensors")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and out == b""
    assert err.decode().strip().startswith("error: checkpoint not found: missing.safetensors")
    proc = _module("--help")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"sample" in out


@pytest.mark.parametrize("args,message", [
    (["sample", "--weights", "int4"], "Invalid value for '--weights'"),
    (["train", "x.txt", "--size", "huge"], "Invalid value for '--size'"),
    (["train", "x.txt", "--batch-order", "shuffled"], "Invalid value for '--batch-order'"),
    (["sample", "--length", "many"], "Invalid value for '--length'"),
    (["smaple"], "No such command 'smaple'"),
    (["export", "--format", "pdf"], "Invalid value for '--format'"),
])
def test_usage_errors_are_one_line_too(args, message):
    result = subprocess.run([sys.executable, "-m", "charrnn", *args], capture_output=True,
                            text=True)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and result.stdout == ""
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "--help" in lines[0]


def test_threads_are_settable_and_reported(corpus_file, cli, fast_flags, one_error_line):
    import torch

    before = torch.get_num_threads()
    try:
        result = cli("train", corpus_file, *fast_flags, "--threads", "1")
        assert result.exit_code == 0, result.output
        assert "1 CPU thread;" in result.stderr and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    default = cli("train", corpus_file, *fast_flags, "--out", "other")
    assert f"{before} CPU thread" in default.stderr
    assert "--threads must be >= 1" in one_error_line(
        cli("train", corpus_file, *fast_flags, "--threads", "0", "--out", "third"))
