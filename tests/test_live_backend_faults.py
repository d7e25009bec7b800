"""A result backend that never answers, and a broker that is down: every other
command still goes out (or is refused) at once, shown through the real screen."""

import os
import shutil
import sys

import pytest

from tests.live import REPO_ROOT, wait_until
from tests.liveapp import RESULT_BACKEND_ENV
from tests.private_brokers import PrivateRedis
from tests.silent import SilentServer
from tests.terminal import Terminal
from tests.test_live_console import command
from tests.test_live_drilldown import focus_task

BIN = os.path.join(os.path.dirname(sys.executable), "celerytop")


def test_six_fetches_from_a_silent_backend_hold_up_no_inspect_and_leave_no_connection(fs, fs_workers):
    """The app's result backend is a server that accepts and never answers
    (tests/silent.py: no real Redis can be made to), the worker keeps its own."""
    fs_workers("w1")
    with SilentServer() as silent, Terminal(
            [BIN, "-A", "tests.liveapp", "--refresh", "0.25"], cols=140, rows=50,
            env={**fs.env, RESULT_BACKEND_ENV: silent.url}, cwd=str(REPO_ROOT)) as term:
        term.wait_for("● connected")
        running = fs.app.send_task("tests.sleep", (60,))
        term.wait_for(running.id[:8])
        focus_task(term, running.id)
        term.press("r")
        term.wait_for("fetching…")
        term.press(*["r"] * 5)
        wait_until(lambda: silent.accepted == 6, message="the six fetches did not all reach the backend")
        assert silent.closed == 0, "a fetch timed out before the last one started: they ran one after another"

        command(term, "inspect active")
        term.wait_for(lambda t: "1 worker(s) answered" in t.text() and "tests.sleep" in t.text())
        assert silent.closed < 6, "the inspect answer waited until every fetch had timed out"

        wait_until(lambda: silent.open_connections == 0, timeout=20,
                   message=f"{silent.open_connections} connection(s) left open to the silent backend")
        assert silent.accepted == 6  # each closed once, none opened again
        term.press("esc")
        term.wait_for("the result backend did not answer within 5 s")
        term.press("esc")
        term.wait_for("HOSTNAME")  # the main screen again
        term.press("q")
        assert term.wait_exit() == 0


@pytest.fixture
def private_redis(tmp_path):
    """A broker to take down: a redis-server of our own (the shared one on 6379 stays up)."""
    assert shutil.which("redis-server"), "redis-server is not installed"
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()


def test_commands_while_the_broker_is_down_are_refused_at_once(private_redis, tmp_path):
    private_redis.start()
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    with Terminal([BIN, "-b", url, "--refresh", "0.25"], cols=160, rows=30, cwd=str(tmp_path)) as term:
        term.wait_for("● connected")
        private_redis.stop()
        term.wait_for("✖ disconnected", timeout=30)

        command(term, "control rate_limit tests.add 10/m")
        term.wait_for("broker down: rate_limit not sent")
        assert "waiting up to" not in term.text()
        command(term, "inspect active")
        term.wait_for("broker down: inspect active not sent")
        assert "asking the workers" not in term.text()
        term.press("esc")

        private_redis.start()
        term.wait_for("● connected", timeout=40)
        command(term, "inspect active")
        term.wait_for("no worker replied within 1 s")  # sent, and nobody is there to answer
        term.press("esc")
        term.wait_for("HOSTNAME")  # the main screen again
        term.press("q")
        assert term.wait_exit() == 0
