"""`charrnn plot`: training curves of several runs on one PNG."""

from charrnn.config import ModelConfig, TrainConfig
from charrnn.training.loop import train_model

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def small_run(prepared, corpus_file, folder, hidden):
    train_model(prepared(corpus_file), ModelConfig(hidden_size=hidden, embed_size=8),
          TrainConfig(batch_size=4, seq_len=16, steps=20, eval_every=10, log_every=5), folder)
    return folder


def test_plot_draws_several_runs_to_a_png(corpus_file, tmp_path, cli, prepared):
    a = small_run(prepared, corpus_file, tmp_path / "runs" / "small", 8)
    b = small_run(prepared, corpus_file, tmp_path / "runs" / "large", 32)
    result = cli("plot", a, b, "--out", tmp_path / "both.png")
    assert result.exit_code == 0, result.output
    data = (tmp_path / "both.png").read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 20_000
    assert "both.png" in result.stderr


def test_plot_defaults_to_the_newest_run(corpus_file, tmp_path, cli, prepared):
    small_run(prepared, corpus_file, tmp_path / "checkpoints" / "play", 8)
    result = cli("plot")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "curves.png").read_bytes().startswith(PNG_SIGNATURE)


def test_plot_refuses_a_folder_without_metrics(tmp_path, cli, one_error_line):
    (tmp_path / "empty").mkdir()
    result = cli("plot", tmp_path / "empty", "--out", tmp_path / "x.png")
    assert "has no metrics.jsonl" in one_error_line(result)
    assert not (tmp_path / "x.png").exists()
