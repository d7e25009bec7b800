"""Reconnecting, in its parts: what is knocked on, what is said, how long is waited.

The whole of it, against real brokers taken down and brought back, is in
tests/test_live_chaos.py; these are the fast checks of each piece (real
sockets, no broker).
"""
import socket
import threading

import pytest
from kombu import Connection

from celerytop.events import capture
from celerytop.events.capture import Backoff, ConnectionStatus, EventCapture
from celerytop.events.probe import broker_addresses
from celerytop.present.errors import failure_text
from celerytop.present.header_text import connection_markup
from tests.live import wait_until


def text_of(markup):
    return "".join(text for _style, text in markup)


@pytest.mark.parametrize("url, addresses", [
    ("redis://:secret@10.0.0.5:6380/0", (("10.0.0.5", 6380),)),
    ("redis://cache", (("cache", 6379),)),
    ("amqp://u:p@rabbit//", (("rabbit", 5672),)),
    ("amqps://u:p@rabbit//", (("rabbit", 5671),)),
    ("amqp://u:p@a:5673//;amqp://u:p@b:5674//", (("a", 5673), ("b", 5674))),
    ("filesystem://localhost//", ()),  # no port: never knocked on, the backoff alone
    ("redis+socket:///run/redis.sock", ()),
])
def test_the_ports_knocked_on_are_the_brokers_of_the_url(url, addresses):
    assert broker_addresses(Connection(url)) == addresses


def test_a_refused_login_says_what_to_check_first():
    from amqp.exceptions import AccessRefused
    from redis.exceptions import AuthenticationError

    rabbit = failure_text(AccessRefused("(0, 0): (403) ACCESS_REFUSED - Login was refused"))
    assert rabbit.startswith("login refused, check the user and password: AccessRefused")
    redis = failure_text(AuthenticationError("invalid username-password pair or user is disabled."))
    assert redis.startswith("login refused, check the user and password: AuthenticationError")
    refused = failure_text(ConnectionRefusedError(111, "Connection refused"))
    assert refused == "ConnectionRefusedError: [Errno 111] Connection refused"


def test_the_backoff_grows_to_30_s_and_starts_again_after_a_reset():
    backoff = Backoff()
    assert [backoff.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]
    backoff.reset()
    assert backoff.next_delay() == 1


def test_the_header_says_waiting_for_a_broker_that_does_not_listen_and_retry_in_for_one_that_refuses():
    status = ConnectionStatus()
    status.connecting()
    status.failed("login refused, check the user and password: AccessRefused", 8.0)
    assert "✖ disconnected, retry in 8 s" in text_of(connection_markup(status.snapshot()))
    status.failed("ConnectionRefusedError: [Errno 111] Connection refused", 8.0)
    status.awaiting_broker()
    line = text_of(connection_markup(status.snapshot()))
    assert "✖ disconnected, waiting for the broker" in line and "retry in" not in line
    status.connecting()
    status.connected()
    assert not status.snapshot().awaiting_broker
    status.awaiting_broker()  # only said of a broker that is down
    assert not status.snapshot().awaiting_broker


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def waiting_capture(port):
    """A capture between attempts, its broker at 127.0.0.1:port (no app: nothing connects)."""
    status = ConnectionStatus()
    status.connecting()
    status.failed("ConnectionRefusedError: down", 30.0)
    source = EventCapture(None, None, status)
    source._addresses = (("127.0.0.1", port),)
    return source, status


def test_a_broker_that_starts_listening_ends_the_wait_at_once(monkeypatch):
    monkeypatch.setattr(capture, "PROBE_INTERVAL", 0.05)
    port = free_port()
    source, status = waiting_capture(port)
    result = []
    waiter = threading.Thread(target=lambda: result.append(source._wait_to_retry(30.0)))
    waiter.start()
    with socket.socket() as listener:
        try:
            wait_until(lambda: status.snapshot().awaiting_broker, timeout=10, message="no knocking began")
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen(8)
            waiter.join(10)  # far less than the 30 s the backoff alone would wait
            assert result == [True], "the wait did not end when the broker began to listen"
        finally:
            source.stop(timeout=0)
            waiter.join()


def test_a_broker_that_listens_and_refused_us_is_waited_for_the_whole_delay(monkeypatch):
    monkeypatch.setattr(capture, "PROBE_INTERVAL", 0.01)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        source, status = waiting_capture(listener.getsockname()[1])
        assert source._wait_to_retry(0.3) is False  # no shortcut: knocking on it would be a retry storm
        assert not status.snapshot().awaiting_broker
