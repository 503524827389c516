"""Ctrl-C, SIGTERM and SIGKILL against a real `python -m charrnn train` process."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from charrnn.model import checkpoint, runs

TRAIN = ["--hidden-size", "32", "--embed-size", "8", "--batch-size", "4", "--seq-len", "16",
         "--eval-every", "100000"]


@pytest.fixture
def corpus(tmp_path, tiny_text):
    path = tmp_path / "play.txt"
    path.write_text(tiny_text(200), encoding="utf-8")
    return path


def start(*args):
    """Start training and return once it is inside the training loop."""
    proc = subprocess.Popen([sys.executable, "-m", "charrnn", "train", *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=os.environ)
    for line in proc.stderr:
        if line.startswith("training "):
            return proc
    raise AssertionError(f"training never started (exit {proc.wait()})")


def wait_for(condition, what, seconds=60):
    """Poll until `condition()` holds (instead of sleeping for a guessed while)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.02)


def finish(proc):
    rest = proc.stderr.read()
    return proc.wait(timeout=120), rest


def leftovers(run):
    return sorted(p.name for p in run.glob(".*.charrnn-tmp-*"))


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_finishes_the_step_saves_and_says_how_to_resume(corpus, tmp_path, sig, code,
                                                                 cli):
    run = tmp_path / "run"
    proc = start(corpus, "--out", run, "--steps", "1000000", "--log-every", "1", *TRAIN)
    # a step done (its metrics line written), and no checkpoint yet: only the signal saves
    wait_for(lambda: (run / runs.METRICS).exists() and (run / runs.METRICS).stat().st_size,
             "a first step")
    assert not (run / runs.LATEST).exists()
    proc.send_signal(sig)
    status, err = finish(proc)
    assert status == code, err
    assert "Traceback" not in err
    assert "Resume with: charrnn train" in err and f"--out {run} --resume --steps 1000000" in err
    stopped_at = checkpoint.load(run / runs.LATEST).meta["step"]
    assert stopped_at > 0 and f"stopped at step {stopped_at}" in err
    more = cli("train", corpus, "--out", run, "--resume", "--steps", stopped_at + 5)
    assert more.exit_code == 0, more.output
    assert checkpoint.load(run / runs.LATEST).meta["step"] == stopped_at + 5


def test_a_second_ctrl_c_stops_at_once_without_damage(corpus, tmp_path):
    run = tmp_path / "run"
    proc = start(corpus, "--out", run, "--steps", "1000000", "--checkpoint-every", "1", *TRAIN)
    wait_for((run / runs.LATEST).exists, "a first checkpoint")
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    status, err = finish(proc)
    assert status == 130 and "Traceback" not in err
    assert leftovers(run) == []
    checkpoint.load(run / runs.LATEST)  # whatever is there is whole


def written(run):
    """When latest was last replaced (0 while there is none)."""
    latest = run / runs.LATEST
    return latest.stat().st_mtime_ns if latest.exists() else 0


@pytest.mark.slow
def test_sigkill_at_random_moments_never_breaks_the_run(corpus, tmp_path, cli):
    """Killed 4 times, each time a new process resuming the last: first at a random moment
    early in training (before or about its first checkpoint), then in turn the instant a
    checkpoint write has begun (its temporary file appears) and at a random moment after
    the process has written a checkpoint (somewhere in its cycle of steps and writes):
    latest always loads and --resume always carries on."""
    run = tmp_path / "run"
    resume = [corpus, "--out", run, "--resume"]
    args = [*resume, "--steps", "1000000", "--checkpoint-every", "1", "--hidden-size", "320",
            "--batch-size", "2", "--seq-len", "8", "--eval-every", "100000"]
    rng = random.Random(20261123)
    steps, mid_write = [], 0
    for attempt in range(4):
        before = written(run)
        proc = start(*args)
        if attempt == 0:
            time.sleep(rng.uniform(0.05, 0.6))
        elif attempt % 2 == 1:
            deadline = time.monotonic() + 10
            while not leftovers(run) and time.monotonic() < deadline:
                pass
        else:
            wait_for(lambda since=before: written(run) != since, "a checkpoint by this process")
            time.sleep(rng.uniform(0.0, 0.3))
        proc.kill()
        proc.wait()
        proc.stderr.close()
        mid_write += bool(leftovers(run))
        if (run / runs.LATEST).exists():
            steps.append(checkpoint.load(run / runs.LATEST).meta["step"])
    assert steps == sorted(steps) and steps[-1] > 0
    assert mid_write >= 2, "kills meant to land during a checkpoint write did not"
    done = cli("train", *resume, "--steps", steps[-1] + 3)
    assert done.exit_code == 0, done.output
    assert checkpoint.load(run / runs.LATEST).meta["step"] == steps[-1] + 3
    assert leftovers(run) == []
    print(f"\n4 kills survived, {mid_write} of them during a checkpoint write; "
          f"steps reached {steps}")
