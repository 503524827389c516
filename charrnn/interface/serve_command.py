"""`charrnn serve`: the model over HTTP (a JSON API, torch-rnn-server's /generate, and a
writing page), for editors, bots and browsers; see `charrnn/interface/serve/`."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from charrnn.config import ServeConfig
from charrnn.interface import display
from charrnn.interface.options import CheckpointOption, WeightsOption, one_line_errors
from charrnn.interface.serve.hosts import is_loopback

_V = ServeConfig()
LIMITS = "Limits"
API_KEY_VARIABLE = "CHARRNN_API_KEY"


@one_line_errors
def serve(
    checkpoint: CheckpointOption = None,
    host: Annotated[str, typer.Option(
        help="Address to listen on. 127.0.0.1 answers this machine only; 0.0.0.0 "
             "answers the network (set --api-key then).")] = _V.host,
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = _V.port,
    weights: WeightsOption = "fp32",
    api_key: Annotated[str | None, typer.Option(
        help=f"Require this key in every request's x-api-key header (or set "
             f"{API_KEY_VARIABLE}).", show_default=False)] = None,
    cors_origin: Annotated[list[str] | None, typer.Option(
        help="Let pages of this site call the server from a browser, e.g. "
             "https://example.org (repeatable). Other sites are refused.",
        show_default=False)] = None,
    allowed_host: Annotated[list[str] | None, typer.Option(
        help="Also answer requests addressed to this host name, e.g. writer.example.org "
             "behind a proxy, at any port; with a port (writer.example.org:8443) at that "
             "port only (repeatable; * for any). Others are refused, against DNS "
             "rebinding; the bound address and, on loopback, localhost are always "
             "answered.", show_default=False)] = None,
    show_paths: Annotated[bool, typer.Option(
        help="Let /v1/model show the checkpoint's and corpus's full paths, not only "
             "their names.")] = _V.show_paths,
    max_batch: Annotated[int, typer.Option(
        help="Samples generated together, one batched step per character.",
        rich_help_panel=LIMITS)] = _V.max_batch,
    max_waiting: Annotated[int, typer.Option(
        help="Requests that may wait for a place; beyond, 503 with Retry-After.",
        rich_help_panel=LIMITS)] = _V.max_waiting,
    max_length: Annotated[int, typer.Option(
        help="Most characters one sample may ask for.",
        rich_help_panel=LIMITS)] = _V.max_length,
    max_samples: Annotated[int, typer.Option(
        help="Most samples one request may ask for (num_samples, and at most --max-batch; "
             "/generate's n is at most 10).", rich_help_panel=LIMITS)] = _V.max_samples,
    max_prime: Annotated[int, typer.Option(
        help="Most characters of a prime, start_text or scored text.",
        rich_help_panel=LIMITS)] = _V.max_prime,
    max_body: Annotated[int, typer.Option(
        help="Most bytes of a request body.", rich_help_panel=LIMITS)] = _V.max_body,
    max_width: Annotated[int, typer.Option(
        help="Widest beam a request may ask for.", rich_help_panel=LIMITS)] = _V.max_width,
    grace: Annotated[float, typer.Option(
        help="Seconds that requests in flight get to finish after SIGTERM or Ctrl-C.",
        rich_help_panel=LIMITS)] = _V.grace,
) -> None:
    """Serve the model over HTTP: a JSON API, torch-rnn-server's /generate, and a writing
    page at /. Many clients share one batched step per character."""
    config = ServeConfig(
        host=host, port=port, max_batch=max_batch, max_waiting=max_waiting,
        max_length=max_length, max_samples=max_samples, max_prime=max_prime,
        max_body=max_body, max_width=max_width, grace=grace,
        api_key=api_key or os.environ.get(API_KEY_VARIABLE) or None,
        cors_origins=tuple(cors_origin or ()), allowed_hosts=tuple(allowed_host or ()),
        show_paths=show_paths,
    ).validate()
    if config.api_key is None and not is_loopback(host):
        display.warning(f"--host {host} lets other machines use this server and there is no "
                     f"--api-key: anyone who can reach it can")

    from charrnn.interface.options import load_model
    from charrnn.interface.serve.runner import serve as run

    _log_to_stderr()
    lm = load_model(checkpoint, weights)

    def ready(url: str) -> None:
        display.info(f"serving {lm.path} at {url} (writing page: {url}/); Ctrl-C stops")

    run(lm, config, ready)


def _log_to_stderr() -> None:
    """The library's warnings and errors (a request that failed, with its traceback) in
    the command's output: the library logs, the command decides where it goes."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("charrnn")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
