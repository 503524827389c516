"""`--device` and `--precision`: the best device present, clear errors for absent ones."""

import pytest
import torch

from charrnn.errors import ConfigError
from charrnn.training.device import resolve_device, resolve_precision


def test_auto_takes_a_gpu_when_there_is_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("charrnn.training.device._mps_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr("charrnn.training.device._mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda", local_rank=1) == torch.device("cuda", 1)  # one per process


def test_precision_is_bf16_only_where_the_device_computes_in_it(monkeypatch):
    assert resolve_precision("auto", torch.device("cpu")) == torch.float32
    with pytest.raises(ConfigError, match="precision bf16 needs a CUDA GPU"):
        resolve_precision("bf16", torch.device("cpu"))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_precision("auto", torch.device("cuda", 0)) == torch.bfloat16
    assert resolve_precision("fp32", torch.device("cuda", 0)) == torch.float32


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_absent_devices_are_one_line_and_write_nothing(corpus_file, tmp_path, cli, fast_flags,
                                                       one_error_line):
    for args, message in [(["--device", "cuda"], "--device cuda: no CUDA GPU"),
                          (["--precision", "bf16"], "--precision bf16 needs a CUDA GPU")]:
        result = cli("train", corpus_file, *fast_flags, *args, "--out", tmp_path / "run")
        assert message in one_error_line(result)
        assert not (tmp_path / "run").exists()


def test_cpu_training_says_where_it_runs(corpus_file, cli, fast_flags):
    result = cli("train", corpus_file, *fast_flags, "--device", "cpu", "--precision", "fp32")
    assert result.exit_code == 0, result.output
    assert f"{torch.get_num_threads()} CPU thread" in result.stderr
