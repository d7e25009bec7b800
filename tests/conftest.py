"""Shared fixtures; the live-broker ones live in tests/live.py."""
import os

import pytest

from tests.live import LiveBroker, broker, make_broker, workers, workers_on  # noqa: F401
from tests.private_brokers import private_rabbit, private_redis  # noqa: F401


@pytest.fixture(autouse=True, scope="session")
def private_state_dir(tmp_path_factory):
    """Every celerytop the tests start keeps its log, audit log and prompt history
    in a folder of this run's, not in the home directory of whoever runs them."""
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("xdg-state"))
    yield os.environ["XDG_STATE_HOME"]


@pytest.fixture
def fs(tmp_path):
    """A filesystem broker of this test's own (no workers)."""
    live = LiveBroker("filesystem", fsdir=tmp_path / "broker")
    yield live
    live.cleanup()


@pytest.fixture
def fs_workers(fs, tmp_path):
    """Workers on ``fs``, for tests that need one broker, not three; SIGKILLed at teardown."""
    yield from workers_on(fs, tmp_path)


@pytest.fixture
def events(fs):
    """Publishes worker and task events on ``fs`` as workers do."""
    from tests.screen import EventSource

    source = EventSource(fs.app)
    yield source
    source.close()


@pytest.fixture
def events_for():
    """events_for(broker): an event publisher on any broker, closed at the end."""
    from tests.screen import EventSource

    sources = []

    def make(live):
        sources.append(EventSource(live.app))
        return sources[-1]

    yield make
    for source in sources:
        source.close()
