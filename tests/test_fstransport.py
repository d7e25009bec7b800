"""The filesystem reader celerytop uses must never take a half-written message.

kombu's own writer creates the file, then locks it, then writes; these tests
stand in for a writer caught between those steps (a real kombu writer is
too quick to catch reliably, which is exactly why the race is rare).
"""

import os
import threading
import time
from queue import Empty

import pytest
from kombu.utils.json import dumps

from celerytop import fstransport
from kombu.transport import filesystem
from tests.liveapp import make_app


@pytest.fixture
def channel(tmp_path):
    app = make_app("filesystem://localhost//", "fst", str(tmp_path))
    connection = fstransport.connection_for_read(app)
    assert isinstance(connection.transport, fstransport.Transport)
    channel = connection.channel()
    yield channel, tmp_path / "queue"
    connection.release()


def test_a_created_but_unwritten_message_is_left_for_later(channel):
    chan, folder = channel
    path = folder / "1_a.events.msg"
    path.write_bytes(b"")
    with pytest.raises(Empty):
        chan._get("events")
    assert path.exists(), "the message was taken before its writer wrote it"
    path.write_bytes(dumps({"n": 1}).encode())
    assert chan._get("events") == {"n": 1}
    assert not path.exists()


def test_the_reader_waits_for_a_writer_still_holding_its_lock(channel):
    chan, folder = channel
    payload = dumps({"body": "x" * 5000}).encode()
    with open(folder / "2_b.events.msg", "wb", buffering=0) as writer:
        filesystem.lock(writer, filesystem.LOCK_EX)
        writer.write(payload[:100])
        result = {}
        reader = threading.Thread(target=lambda: result.setdefault("msg", chan._get("events")))
        reader.start()
        time.sleep(0.3)
        assert reader.is_alive(), "the reader did not wait for the writer's lock"
        writer.write(payload[100:])
        filesystem.unlock(writer)
    reader.join(5)
    assert result["msg"] == {"body": "x" * 5000}


def test_other_queues_messages_are_not_touched(channel):
    chan, folder = channel
    (folder / "3_c.other.msg").write_bytes(dumps({"n": 3}).encode())
    with pytest.raises(Empty):
        chan._get("events")
    assert os.path.exists(folder / "3_c.other.msg")


def test_other_transports_are_left_alone():
    app = make_app("redis://127.0.0.1:6379/0", "fst")
    connection = fstransport.connection_for_read(app)
    assert connection.transport_cls == "redis"
    connection.release()
