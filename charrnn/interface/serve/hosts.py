"""Which host names a server answers to: the rule the request guard enforces and the
command warns by, kept free of heavy imports so `charrnn serve --help` stays fast."""

from __future__ import annotations

import ipaddress
import socket

from charrnn.config import ServeConfig, host_and_port

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
EVERY_INTERFACE = {"", "0.0.0.0", "::"}


def is_address(name: str) -> bool:
    """Whether `name` is an IP address literal (which DNS rebinding cannot take over)."""
    return _address(name) is not None


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address) listens on this machine only."""
    if host.lower() == "localhost":
        return True
    address = _address(host)
    return address is not None and address.is_loopback


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def host_names(config: ServeConfig) -> frozenset[tuple[str, int | None]] | None:
    """The `Host` names a request may carry, each as (lower-case name, port), where a
    port of None is any port: an `--allowed-host` given with a port matches that port
    only (a proxy on it sends it), the others any; None: any name at all."""
    if "*" in config.allowed_hosts:
        return None
    bound = config.host.lower().strip("[]")
    names = {bound}
    if is_loopback(bound) or bound in EVERY_INTERFACE:
        names |= LOOPBACK_NAMES
    if bound in EVERY_INTERFACE:
        names.add(socket.gethostname().lower())  # (no getfqdn: it may wait on DNS)
    return frozenset({(name, None) for name in names} |
                     {host_and_port(h) for h in config.allowed_hosts})
