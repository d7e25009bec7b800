"""Knocking on a broker's port: whether it listens at all, cheaper than a full connection attempt."""

from __future__ import annotations

import socket

from kombu.utils.url import parse_url

#: How long a knock waits for an answer.
PROBE_TIMEOUT = 0.5
#: Transports reached over TCP at the URL's host and port (others are not probed).
PROBED_TRANSPORTS = ("redis", "amqp")


def broker_addresses(connection) -> tuple:
    """(host, port) of every broker ``connection`` may use (failover URLs too),
    for a cheap check that one is listening; () when there is no port to knock on."""
    transport = connection.transport
    if getattr(transport, "driver_type", "") not in PROBED_TRANSPORTS:
        return ()
    default_port = transport.default_port
    if connection.ssl:
        default_port = getattr(transport, "default_ssl_port", None) or default_port
    urls = connection.alt or [None]
    addresses = []
    for url in urls:
        host, port = connection.hostname, connection.port
        if url is not None:
            parts = parse_url(url)
            host, port = parts.get("hostname"), parts.get("port")
        if not host or "/" in host or not (port or default_port):
            return ()  # e.g. a Unix socket (redis+socket://): nothing to knock on
        addresses.append((host, int(port or default_port)))
    return tuple(addresses)


def listening(addresses, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether any of ``addresses`` accepts a TCP connection (closed again at once)."""
    for address in addresses:
        try:
            with socket.create_connection(address, timeout=timeout):
                return True
        except OSError:
            continue
    return False
