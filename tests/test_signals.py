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


def finish(proc):
    rest = proc.stderr.read()
    return proc.wait(timeout=120), rest


def leftovers(run):
    return sorted(p.name for p in run.glob(".*.charrnn-tmp-*"))


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_finishes_the_step_saves_and_says_how_to_resume(corpus, tmp_path, sig, code):
    run = tmp_path / "run"
    proc = start(corpus, "--out", run, "--steps", "1000000", *TRAIN)
    time.sleep(1.0)
    proc.send_signal(sig)
    status, err = finish(proc)
    assert status == code, err
    assert "Traceback" not in err
    assert "Resume with: charrnn train" in err and f"--out {run} --resume --steps 1000000" in err
    stopped_at = checkpoint.load(run / runs.LATEST).meta["step"]
    assert stopped_at > 0 and f"stopped at step {stopped_at}" in err
    more = subprocess.run([sys.executable, "-m", "charrnn", "train", corpus, "--out", run,
                           "--resume", "--steps", str(stopped_at + 5)], capture_output=True,
                          text=True, env=os.environ)
    assert more.returncode == 0, more.stderr
    assert checkpoint.load(run / runs.LATEST).meta["step"] == stopped_at + 5


def test_a_second_ctrl_c_stops_at_once_without_damage(corpus, tmp_path):
    run = tmp_path / "run"
    proc = start(corpus, "--out", run, "--steps", "1000000", "--checkpoint-every", "1", *TRAIN)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    status, err = finish(proc)
    assert status == 130 and "Traceback" not in err
    assert leftovers(run) == []
    checkpoint.load(run / runs.LATEST)  # whatever is there is whole


@pytest.mark.slow
def test_sigkill_at_random_moments_never_breaks_the_run(corpus, tmp_path):
    """Killed 9 times: at random moments, and every third time the instant a checkpoint
    write has begun (its temporary file appears): latest always loads and --resume always
    carries on."""
    run = tmp_path / "run"
    resume = [corpus, "--out", run, "--resume"]
    args = [*resume, "--steps", "1000000", "--checkpoint-every", "1", "--hidden-size", "320",
            "--batch-size", "2", "--seq-len", "8", "--eval-every", "100000"]
    rng = random.Random(20261123)
    steps, mid_write = [], 0
    for attempt in range(9):
        proc = start(*args)
        if attempt % 3 == 2:
            deadline = time.monotonic() + 10
            while not leftovers(run) and time.monotonic() < deadline:
                pass
        else:
            time.sleep(rng.uniform(0.05, 0.6))
        proc.kill()
        proc.wait()
        proc.stderr.close()
        mid_write += bool(leftovers(run))
        if (run / runs.LATEST).exists():
            steps.append(checkpoint.load(run / runs.LATEST).meta["step"])
    assert steps == sorted(steps) and steps[-1] > 0
    assert mid_write >= 3, "kills meant to land during a checkpoint write did not"
    done = subprocess.run([sys.executable, "-m", "charrnn", "train", *map(str, resume),
                           "--steps", str(steps[-1] + 3)], capture_output=True, text=True,
                          env=os.environ)
    assert done.returncode == 0, done.stderr
    assert checkpoint.load(run / runs.LATEST).meta["step"] == steps[-1] + 3
    assert leftovers(run) == []
    print(f"\n9 kills survived, {mid_write} of them during a checkpoint write; "
          f"steps reached {steps}")
