"""What every request passes before a route sees it: the API key, the origin, the body
size. An ASGI middleware, so a refused request costs no routing and no body read.

- Every request must be addressed to a name the server is reachable by (its `Host`):
  the address it is bound to, `localhost` and the loopback addresses when it listens on
  this machine, any address literal and this machine's name when it listens on every
  interface, and each `--allowed-host` (at any port, or given as host:port at that
  port only; a `Host` without a port means 80, or 443 over https). A page whose own
  name was made to point at the server (DNS rebinding) would otherwise count as
  same-origin and pass the origin check; its requests carry that name, so they are
  refused, however the server is bound.
- With an API key, every request shows it in `x-api-key` (the header rnn-writer sends)
  or as `Authorization: Bearer KEY` (what OpenAI's clients send), compared in constant
  time; only the writing page itself (`GET /`, which holds no
  secret and no model output) loads without it, and asks for the key. A missing or
  wrong key is answered 401 with the message `Forbidden`, which rnn-writer recognises.
- A browser request from another site (an `Origin` that is not this server's) is
  refused with 403 unless `--cors-origin` lists that site; listed sites get CORS
  headers, preflights included.
- A body over `max_body` bytes is refused with 413, whether it declares its length or
  streams it in chunks.
"""

from __future__ import annotations

import hmac
import json

from charrnn.config import ServeConfig, host_and_port
from charrnn.interface.serve.fields import FieldError, error_body
from charrnn.interface.serve.hosts import EVERY_INTERFACE, host_names, is_address

OPENAI_PREFIXES = ("/v1/models", "/v1/completions", "/v1/chat/")  # OpenAI's error shape


class Guard:
    """See the module doc; `app` is the ASGI app behind it."""

    def __init__(self, app, config: ServeConfig):
        self.app, self.config = app, config
        self.key = config.api_key.encode() if config.api_key else None
        self.names = host_names(config)
        self.any_address = config.host.strip("[]") in EVERY_INTERFACE

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if not self._addressed_here(headers.get("host", ""), scope):
            return await _refuse(send, 403, "this server does not answer requests addressed "
                                            "to that host name (start it with --allowed-host "
                                            "to add one)")
        origin = headers.get("origin")
        allowed = origin is not None and origin in self.config.cors_origins
        if origin is not None and not allowed and not _same_origin(origin, headers, scope):
            return await _refuse(send, 403, f"cross-origin requests from {origin} are refused "
                                            "(start the server with --cors-origin to allow it)")
        cors = _cors_headers(origin) if allowed else []
        if allowed and scope["method"] == "OPTIONS":  # a preflight: no key is sent with it
            return await _refuse(send, 204, None, cors)
        openai = scope["path"].startswith(OPENAI_PREFIXES)
        exempt = scope["method"] == "GET" and scope["path"] == "/"
        if self.key is not None and not exempt and not hmac.compare_digest(
                _key_given(headers), self.key):
            return await _refuse(send, 401, "a valid API key is required (an x-api-key "
                                            "header, or Authorization: Bearer KEY)", cors,
                                 shown=None if openai else "Forbidden", openai=openai)
        declared = headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > self.config.max_body:
            return await _refuse(send, 413, f"the body must be at most "
                                            f"{self.config.max_body:,} bytes", cors,
                                 openai=openai)
        return await self.app(scope, self._bounded(receive, send), _with(send, cors))

    def _addressed_here(self, header: str, scope) -> bool:
        """Whether the request's `Host` names this server (see the module doc): an
        address literal cannot be rebound, so a server on every interface takes any. A
        `Host` without a port is addressed to its scheme's (80 or 443)."""
        if self.names is None:
            return True
        try:
            name, port = host_and_port(header)
        except ValueError:
            return False
        port = port or (443 if scope.get("scheme") == "https" else 80)
        if {(name, None), (name, port)} & self.names:
            return True
        return self.any_address and is_address(name)

    def _bounded(self, receive, send):
        """`receive` that stops a chunked body once it passes the limit."""
        seen = 0

        async def bounded():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.config.max_body:
                    raise _TooLarge(self.config.max_body)
            return message

        return bounded


def _key_given(headers: dict[str, str]) -> bytes:
    """The key a request shows: `x-api-key`, else a Bearer token (OpenAI's clients)."""
    if "x-api-key" in headers:
        return headers["x-api-key"].encode("latin-1")
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip().encode("latin-1") if scheme.lower() == "bearer" else b""


class _TooLarge(FieldError):
    def __init__(self, limit: int):
        super().__init__(None, f"the body must be at most {limit:,} bytes", 413)


def _same_origin(origin: str, headers: dict[str, str], scope) -> bool:
    scheme = scope.get("scheme", "http")
    return origin == f"{scheme}://{headers.get('host', '')}"


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [(b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
            (b"access-control-allow-headers", b"content-type, x-api-key, authorization"),
            (b"vary", b"Origin")]


def _with(send, extra: list[tuple[bytes, bytes]]):
    if not extra:
        return send

    async def sending(message):
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


async def _refuse(send, status: int, message: str | None,
                  extra: list[tuple[bytes, bytes]] = (), shown: str | None = None,
                  openai: bool = False) -> None:
    """Answer at once; `shown` replaces the `message` field (rnn-writer's word); on the
    OpenAI API's routes, in OpenAI's error shape."""
    body = b""
    if message is not None:
        content = error_body(message)
        if shown is not None:
            content["message"] = shown
        if openai:
            kind = "authentication_error" if status == 401 else "invalid_request_error"
            content = {"error": {"message": message, "type": kind, "param": None,
                                 "code": "invalid_api_key" if status == 401 else None}}
        body = json.dumps(content).encode()
    headers = [(b"content-length", str(len(body)).encode()), *extra]
    if body:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
