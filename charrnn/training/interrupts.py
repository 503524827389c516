"""Ctrl-C and SIGTERM during training: finish the step, save, then stop.

The first SIGINT or SIGTERM only sets a flag that the training loop reads between steps,
so the step in flight completes and `latest` is written. A second signal raises
`ImmediateStop` at once; checkpoint writes are atomic, so even that corrupts nothing.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


class ImmediateStop(KeyboardInterrupt):
    """A second interrupt: stop now."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class StopRequests:
    """A context that turns SIGINT/SIGTERM into a stop request; call it to ask 'stop?'."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise ImmediateStop(signum)
        self.signum = signum

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def __call__(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as shells report it: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + (self.signum or signal.SIGINT)
