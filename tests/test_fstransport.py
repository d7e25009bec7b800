"""The filesystem reader celerytop uses must never take a half-written message.

kombu's own writer creates the file, then locks it, then writes; these tests
stand in for a writer caught between those steps (a real kombu writer is
too quick to catch reliably, which is exactly why the race is rare).
"""

import json
import os
import threading
import time
from queue import Empty

import pytest
from kombu.transport import filesystem
from kombu.utils.json import dumps

from celerytop.events import fstransport
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


def _bind_many(folder, names, start):
    from kombu import Connection

    start.wait()
    with Connection("filesystem://localhost/", transport=fstransport.Transport,
                    transport_options={"data_folder_in": folder, "data_folder_out": folder,
                                       "control_folder": folder + "/control"}) as conn:
        channel = conn.channel()
        for name in names:
            channel._queue_bind("shared", name, "", name)


def test_bindings_from_processes_starting_together_are_all_kept(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    names = [[f"p{p}-q{i}" for i in range(10)] for p in range(6)]
    procs = [ctx.Process(target=_bind_many, args=(str(tmp_path), n, start)) for n in names]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    with open(tmp_path / "control" / "shared.exchange") as fh:
        table = {row[2] for row in json.load(fh)}
    assert table == {name for group in names for name in group}


def test_a_written_message_appears_whole_or_not_at_all(channel):
    chan, folder = channel
    chan._put("events", {"n": 7})
    names = os.listdir(folder)
    assert len(names) == 1 and names[0].endswith(".events.msg")
    assert chan._get("events") == {"n": 7}
