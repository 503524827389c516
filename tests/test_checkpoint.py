import errno
import json
import os
import pickle
import stat
import struct
import subprocess
import sys

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


def test_failed_write_keeps_the_previous_file(trained_run, tmp_path, monkeypatch):
    target = tmp_path / "latest.safetensors"
    saved = checkpoint.load(trained_run / "best.safetensors")
    checkpoint.save(target, saved.tensors, {**saved.meta, "step": 1})

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("charrnn.atomic.os.fsync", no_space)
    with pytest.raises(CheckpointError, match="No space left on device"):
        checkpoint.save(target, saved.tensors, {**saved.meta, "step": 2})
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


def _crafted(trained_run, tmp_path, meta_change=None, tensor_change=None, raw_meta=None):
    """The trained run's best checkpoint with its JSON and tensors changed, and a valid
    checksum over the result (so only the contents check can refuse it)."""
    saved = checkpoint.load(trained_run / "best.safetensors")
    meta = json.loads(json.dumps(saved.meta))
    tensors = dict(saved.tensors)
    (meta_change or (lambda m: None))(meta)
    (tensor_change or (lambda t: None))(tensors)
    path = tmp_path / "crafted.safetensors"
    checkpoint.save(path, tensors, {k: v for k, v in meta.items()
                                    if k not in ("format", "version", "tensors_sha256")})
    if raw_meta is not None:  # JSON that json.dumps would not write
        from safetensors.torch import save as save_tensors
        path.write_bytes(save_tensors(tensors, metadata={"charrnn": raw_meta}))
    return path


def _nan_weight(tensors):
    name = next(k for k in tensors if k.startswith("model.rnn.weight_hh"))
    tensors[name] = tensors[name].clone()
    tensors[name][0, 0] = float("nan")


HOSTILE = {
    "a huge stated shape": dict(meta_change=lambda m: m["model"].update(hidden_size=20000)),
    "a shape beyond the bound": dict(meta_change=lambda m: m["model"].update(num_layers=10**6)),
    "a count of 10**400": dict(meta_change=lambda m: m["vocab"]["counts"].__setitem__(0, 10**400)),
    "a step of 10**400": dict(meta_change=lambda m: m.update(step=10**400)),
    "metrics not an object": dict(meta_change=lambda m: m.update(metrics=[1, 2])),
    "a score that is text": dict(meta_change=lambda m: m["metrics"].update(val_loss="low")),
    "deeply nested JSON": dict(raw_meta='{"format": "charrnn", "version": 1, "corpus": '
                               + "[" * 100_000 + "]" * 100_000 + "}"),
    "a text format not an object": dict(meta_change=lambda m: m.update(text_format=[1])),
    "a text format of another vocabulary": dict(
        meta_change=lambda m: m["text_format"].update(end_id=2, labels=["a"])),
    "a text format of documents its data settings lack": dict(
        meta_change=lambda m: m["text_format"].update(documents="lines")),
    "a default label that is no label": dict(
        meta_change=lambda m: m["text_format"].update(default_label=10**9)),
    "a NaN weight": dict(tensor_change=_nan_weight),
    "a missing tensor": dict(tensor_change=lambda t: t.pop("model.head.bias")),
    "an extra tensor": dict(tensor_change=lambda t: t.update({"model.extra": torch.ones(2)})),
    "a tensor of another shape": dict(
        tensor_change=lambda t: t.update({"model.head.bias": torch.zeros(3)})),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_crafted_checkpoint_is_one_line_before_anything_is_built(
        trained_run, tmp_path, cli, one_error_line, corpus_file, case):
    """Every command that reads a model refuses it with one line; a shape of gigabytes
    around a few kilobytes of tensors is refused before any memory is taken for it."""
    import resource

    crafted = _crafted(trained_run, tmp_path, **HOSTILE[case])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CheckpointError):
        charrnn.load(crafted)
    for args in (("sample", "--checkpoint", crafted, "--length", "5"), ("info", crafted),
                 ("train", corpus_file, "--init-from", crafted, "--steps", "1")):
        assert "cannot load checkpoint" in one_error_line(cli(*args)), args
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 500, f"loading took {grown_mb:.0f} MB more"
    run = tmp_path / "checkpoints" / "hostile"
    run.mkdir(parents=True)
    (run / "best.safetensors").write_bytes(crafted.read_bytes())
    listed = cli("list", "--json")
    assert listed.exit_code == 0, listed.output
    assert "cannot load checkpoint" in json.loads(listed.stdout)[0]["error"]


def test_the_run_record_is_the_only_reader_of_a_checkpoints_json(trained_run):
    """Outside the model layer no module reads a checkpoint's document (`.meta`): they
    ask its typed `RunRecord`, which writes back the document it was read from."""
    import re
    from pathlib import Path

    package = Path(charrnn.__file__).parent
    readers = [str(p.relative_to(package)) for p in package.rglob("*.py")
               if p.parent.name != "model" and re.search(r"\.meta\b", p.read_text())]
    assert readers == []
    saved = checkpoint.load(trained_run / "latest.safetensors")
    record = saved.record
    assert record.step == saved.meta["step"] and record.train.seq_len > 0
    again = {k: v for k, v in saved.meta.items()
             if k not in ("format", "version", "tensors_sha256")}
    assert json.loads(json.dumps(record.to_document())) == json.loads(json.dumps(again))


def test_a_checkpoint_stores_its_text_format_and_one_without_it_makes_the_same(
        trained_run, tmp_path):
    """The format a run was trained in is in its checkpoint; a file written before formats
    were stored gets the one its vocabulary and settings give."""
    saved = checkpoint.load(trained_run / "best.safetensors")
    assert saved.meta["text_format"] == saved.record.text_format.to_dict()
    older = _crafted(trained_run, tmp_path, meta_change=lambda m: m.pop("text_format"))
    assert checkpoint.load(older).record.text_format == saved.record.text_format


def test_loading_a_model_does_not_start_torchs_compiler(trained_run):
    """Checking a checkpoint's shapes builds nothing real and fills nothing: torch's
    compiler (seconds of imports) is never loaded by `charrnn.load`, so a command that
    loads a model answers without that wait."""
    code = ("import sys, charrnn; charrnn.load(sys.argv[1]); "
            "print('torch._dynamo' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(trained_run)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
