import errno
import json
import os
import pickle
import stat
import struct

import pytest
import torch

import charrnn
from charrnn.atomic import write_atomic
from charrnn.errors import CheckpointError
from charrnn.model import checkpoint, runs
from charrnn.model.checkpoint import model_tensors


def test_round_trip_gives_the_same_logits(lm, tmp_path):
    ids = lm.vocab.encode("ROMEO:\nO that")[None, :]
    a, _ = lm.model(ids, lm.model.initial_state(1))
    copy = tmp_path / "copy.safetensors"
    checkpoint.save(copy, model_tensors(lm.model), {k: v for k, v in lm.meta.items()
                                                  if k not in ("format", "version",
                                                               "tensors_sha256")})
    reloaded = charrnn.load(copy)
    c, _ = reloaded.model(ids, reloaded.model.initial_state(1))
    assert torch.equal(a, c)
    assert reloaded.vocab.chars == lm.vocab.chars


def test_run_folder_means_best_and_both_files_exist(trained_run):
    assert (trained_run / "latest.safetensors").is_file()
    assert (trained_run / "best.safetensors").is_file()
    assert runs.resolve(trained_run) == trained_run / "best.safetensors"
    meta = checkpoint.load(trained_run / "best.safetensors").meta
    assert meta["metrics"]["val_loss"] == meta["metrics"]["best_val_loss"]
    assert meta["step"] == meta["metrics"]["best_step"]
    assert meta["model"]["model"] == "lstm" and meta["corpus"]["name"] == "play"


def test_newest_run_is_found_under_the_root(tmp_path, trained_run):
    root = tmp_path / "checkpoints"
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        runs.resolve(None, root)
    blob = (trained_run / "best.safetensors").read_bytes()
    for i, name in enumerate(["old", "new"]):
        (root / name).mkdir(parents=True)
        target = root / name / "best.safetensors"
        target.write_bytes(blob)
        os.utime(target, ns=(10**18 + i, 10**18 + i))
    assert runs.resolve(None, root) == root / "new" / "best.safetensors"


class _Boom:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path("pwned"),))


def test_a_pickle_is_refused_without_running_it(tmp_path):
    hostile = tmp_path / "evil.safetensors"
    hostile.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(CheckpointError, match="cannot load checkpoint"):
        charrnn.load(hostile)
    assert not (tmp_path / "pwned").exists()


def _header(blob: bytes) -> tuple[int, dict]:
    (n,) = struct.unpack("<Q", blob[:8])
    return n, json.loads(blob[8 : 8 + n])


@pytest.mark.parametrize("damage,message", [
    (lambda b: b[: len(b) // 2], "checksum|truncated"),
    (lambda b: b[:-1] + bytes([b[-1] ^ 0xFF]), "checksum"),
    (lambda b: b"\x01\x02", "too short"),
    (lambda b: b"not a checkpoint at all, just text", "not a charrnn checkpoint"),
])
def test_damaged_files_are_refused(trained_run, tmp_path, damage, message):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(damage((trained_run / "best.safetensors").read_bytes()))
    with pytest.raises(CheckpointError, match=message):
        charrnn.load(bad)


def _rewrite_meta(blob: bytes, change) -> bytes:
    n, header = _header(blob)
    meta = json.loads(header["__metadata__"]["charrnn"])
    change(meta)
    header["__metadata__"]["charrnn"] = json.dumps(meta)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + blob[8 + n :]


@pytest.mark.parametrize("change,message", [
    (lambda m: m.update(version=99), "newer charrnn"),
    (lambda m: m["model"].pop("hidden_size"), "lacks field 'hidden_size'"),
    (lambda m: m.pop("vocab"), "vocabulary"),
    (lambda m: m["model"].update(hidden_size=7), "do not match"),
])
def test_bad_metadata_is_refused(trained_run, tmp_path, change, message):
    bad = tmp_path / "meta.safetensors"
    bad.write_bytes(_rewrite_meta((trained_run / "best.safetensors").read_bytes(), change))
    with pytest.raises(CheckpointError, match=message):
        charrnn.load(bad)


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "latest.safetensors"
    checkpoint.save(target, {"w": torch.ones(3)}, {"step": 1})

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("charrnn.atomic.os.fsync", no_space)
    with pytest.raises(CheckpointError, match="No space left on device"):
        checkpoint.save(target, {"w": torch.zeros(3)}, {"step": 2})
    assert checkpoint.load(target).meta["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.safetensors"]


def _folder_sync_fails(monkeypatch, code):
    """os.fsync fails with `code` on folders only; files still sync."""
    file_sync = os.fsync

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(code, os.strerror(code))
        file_sync(fd)

    monkeypatch.setattr("charrnn.atomic.os.fsync", fsync)


@pytest.mark.parametrize("code", [errno.EINVAL, errno.EOPNOTSUPP])
def test_a_folder_that_cannot_be_synced_is_no_error(tmp_path, monkeypatch, code):
    _folder_sync_fails(monkeypatch, code)
    write_atomic(tmp_path / "out.bin", b"new")
    assert (tmp_path / "out.bin").read_bytes() == b"new"


def test_a_failed_folder_sync_is_reported(tmp_path, monkeypatch):
    _folder_sync_fails(monkeypatch, errno.EIO)
    with pytest.raises(OSError) as caught:
        write_atomic(tmp_path / "out.bin", b"new")
    assert caught.value.errno == errno.EIO
    with pytest.raises(CheckpointError, match="could not write .*Input/output error"):
        checkpoint.save(tmp_path / "latest.safetensors", {"w": torch.ones(3)}, {"step": 1})
