"""Result fetching against real (mis)configurations: no backend, a dead backend."""

import socket

from celery import Celery

from celerytop.control import Control


def test_an_app_without_a_result_backend_says_so():
    control = Control(Celery("nobackend", broker="memory://", set_as_current=False))
    fetched = control.fetch_result("0f3c2a10-0000-0000-0000-000000000000")
    assert "no result backend configured" in fetched.error
    control.close()


def test_a_backend_that_is_down_is_reported_in_one_line():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = Celery("deadbackend", broker="memory://", backend=f"redis://127.0.0.1:{port}/0",
                 set_as_current=False)
    app.conf.redis_backend_health_check_interval = None
    app.conf.result_backend_transport_options = {"retry_policy": {"max_retries": 0}}
    control = Control(app)
    fetched = control.fetch_result("0f3c2a10-0000-0000-0000-000000000000", timeout=5)
    assert fetched.error.startswith(("the result backend failed", "the result backend did not answer"))
    assert "\n" not in fetched.error
    control.close()
