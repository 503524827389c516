import pytest
import torch

from charrnn.data.streams import StreamBatcher
from charrnn.errors import CorpusError


def test_each_stream_continues_where_the_previous_step_ended():
    ids = torch.arange(1000)
    batcher = StreamBatcher(ids, batch_size=4, seq_len=10)
    x0, y0, first = batcher.next()
    x1, y1, _ = batcher.next()
    assert first
    assert x0.shape == (4, 10)
    for row in range(4):
        assert x1[row, 0] == x0[row, -1] + 1  # step t+1 picks up right after step t
        assert torch.equal(y0[row], x0[row] + 1)  # targets are inputs shifted by one
        assert y0[row, -1] == x1[row, 0]


def test_streams_are_contiguous_slices_of_the_text():
    ids = torch.arange(103)
    batcher = StreamBatcher(ids, batch_size=2, seq_len=5)
    assert batcher.stream_len == 51
    rows = torch.cat([batcher.window(i)[0] for i in range(batcher.windows_per_epoch)], dim=1)
    assert torch.equal(rows[0], ids[: rows.shape[1]])
    assert torch.equal(rows[1], ids[51 : 51 + rows.shape[1]])


def test_new_epoch_is_flagged_after_the_last_window():
    batcher = StreamBatcher(torch.arange(41), batch_size=2, seq_len=5)
    flags = [batcher.next()[2] for _ in range(batcher.windows_per_epoch + 1)]
    assert flags == [True, False, False, False, True]
    assert batcher.position.epoch == 1


def test_too_short_text_is_a_clear_error():
    with pytest.raises(CorpusError, match="too short"):
        StreamBatcher(torch.arange(20), batch_size=4, seq_len=10)
    assert StreamBatcher.fitting_batch_size(21, 4, 10) == 2
