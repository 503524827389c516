"""Running the app: uvicorn on a socket bound here (so `--port 0` can say which port it
got, and clients can connect as soon as that line is printed), stopped gracefully.

On SIGTERM or Ctrl-C the server stops accepting connections, lets what is in flight
finish for up to `grace` seconds, cancels the rest, stops the batcher and returns, so
the command exits 0. (uvicorn's own handlers raise the signal again after a graceful
stop, which would make the exit look like a crash.) A second Ctrl-C stops at once.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Callable

import uvicorn

from charrnn.api.language_model import LanguageModel
from charrnn.config import ServeConfig
from charrnn.errors import ConfigError
from charrnn.interface.serve.app import create_app


class _Server(uvicorn.Server):
    """uvicorn's server with our signal handling (see the module doc)."""

    @contextlib.contextmanager
    def stopping_on_signals(self):
        """SIGTERM and SIGINT ask for a graceful stop from now on (a signal that comes
        before uvicorn starts stops it as soon as it has)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self.handle_exit)
                    for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @contextlib.contextmanager
    def capture_signals(self):  # uvicorn's own: replaced by stopping_on_signals
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or a one-line error (port in use, unknown host)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # proto named, as getaddrinfo would: asyncio sets TCP_NODELAY on accepted
        # connections only when it is (else every kept-alive response waited 40 ms for
        # the client's delayed ACK: Nagle's algorithm)
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def serve(lm: LanguageModel, config: ServeConfig,
          on_ready: Callable[[str], None] = lambda url: None) -> None:
    """Serve until SIGTERM or Ctrl-C; `on_ready` hears the URL once clients can connect."""
    sock = bind(config.host, config.port)  # a port in use says so before the warm-up
    try:
        app = create_app(lm, config)
    except BaseException:
        sock.close()
        raise
    host, port = sock.getsockname()[:2]
    server = _Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                    timeout_graceful_shutdown=config.grace, lifespan="on"))
    shown = f"[{host}]" if ":" in host else host
    try:
        with server.stopping_on_signals():
            on_ready(f"http://{shown}:{port}")
            server.run(sockets=[sock])
    finally:
        sock.close()
        app.state.service.batcher.close()
