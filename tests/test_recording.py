"""Recording events to a file and replaying them: pure, no broker, quick.

Timing tests only assert lower bounds (a slow machine makes a replay late,
never early) and upper bounds of several seconds.
"""

from __future__ import annotations

import datetime
import gzip
import threading
import time

import pytest

from celerytop.events.recording import reader, writer
from celerytop.events.recording.reader import ReadStats, RecordingError, read_events, replay_all
from celerytop.events.recording.replayer import MAX_SPEED, MIN_SPEED, Replayer
from celerytop.events.recording.writer import Recorder


def event(n: int, at: float = 1000.0, **fields) -> dict:
    """A task event shaped as celery's Receiver delivers it."""
    base = {
        "type": "task-received",
        "hostname": "w1@host",
        "timestamp": at - 0.01,
        "clock": n,
        "utcoffset": 0,
        "pid": 42,
        "local_received": at,
        "uuid": f"uuid-{n}",
        "name": "tasks.add",
    }
    base.update(fields)
    return base


def record(path, events) -> None:
    recorder = Recorder(str(path))
    for item in events:
        recorder.record(item)
    recorder.close()
    assert recorder.events_written == len(events)


def collect(path, stats=None) -> list:
    return list(read_events(str(path), stats))


class Opaque:
    def __repr__(self):
        return "<Opaque thing>"


class BrokenRepr:
    def __repr__(self):
        raise RuntimeError("no")


@pytest.fixture(params=["events.jsonl", "events.jsonl.gz"])
def path(request, tmp_path):
    return tmp_path / request.param


# -- recording and reading -------------------------------------------------------------------------------


def test_round_trip(path):
    events = [
        event(1, name="tâches.ünïcode ✓ 中文"),
        event(2, args="('\x1b[31mred\x1b[0m', '\x07')", kwargs="{'line': 'a\u2028b\x85c\nd'}"),
        event(3, result={"nested": {"list": [1, 2.5, None, True], "deep": {"x": "y"}}}),
        event(4, type="worker-heartbeat", loadavg=[0.1, 0.2, 0.3], active=3),
    ]
    record(path, events)
    assert collect(path) == events
    if path.name.endswith(".gz"):
        assert path.read_bytes()[:2] == b"\x1f\x8b"
    else:
        assert path.read_bytes().count(b"\n") == len(events)
        assert b"\x1b" not in path.read_bytes()


def test_values_json_cannot_hold_are_written_not_raised(path):
    when = datetime.datetime(2024, 5, 6, 7, 8, 9)
    cyclic: list = []
    cyclic.append(cyclic)
    events = [
        event(1, when=when, thing=Opaque(), broken=BrokenRepr()),
        event(2, odd_keys={(1, 2): "tuple key", 3: "int key"}),
        event(3, cycle=cyclic),
        event(4, lone="\ud800 surrogate"),
    ]
    record(path, events)
    got = collect(path)
    assert [item["uuid"] for item in got] == ["uuid-1", "uuid-2", "uuid-3", "uuid-4"]
    assert got[0]["when"] == repr(when)
    assert got[0]["thing"] == "<Opaque thing>"
    assert "unrepresentable" in got[0]["broken"]
    assert got[1]["odd_keys"] == {"(1, 2)": "tuple key", "3": "int key"}
    assert isinstance(got[2]["cycle"], list)
    assert got[3]["lone"] == "\ud800 surrogate"


def test_a_second_session_appends(path):
    record(path, [event(1), event(2)])
    record(path, [event(3)])
    assert [item["clock"] for item in collect(path)] == [1, 2, 3]
    if path.name.endswith(".gz"):  # still a gzip file any other tool reads whole
        assert gzip.decompress(path.read_bytes()).count(b"\n") == 3


def test_the_recorder_keeps_no_reference_to_the_event(path):
    item = event(1, result={"value": 1})
    recorder = Recorder(str(path))
    recorder.record(item)
    item["name"] = "changed"
    item["result"]["value"] = 2
    recorder.close()
    assert collect(path) == [event(1, result={"value": 1})]


def test_data_reaches_the_file_without_close(path):
    recorder = Recorder(str(path))
    recorder.record(event(1))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not collect(path):
        time.sleep(0.05)
    assert collect(path) == [event(1)]
    recorder.close()
    recorder.record(event(2))  # after close: dropped, not raised
    assert recorder.events_written == 1


def recording_flushers() -> set:
    return {thread for thread in threading.enumerate() if thread.name == "celerytop-recording-flush"}


def test_one_flusher_thread_writes_out_every_window_and_close_ends_it(path, monkeypatch):
    monkeypatch.setattr(writer, "FLUSH_INTERVAL", 0.01)
    others = recording_flushers()  # of recorders other tests left open
    recorder = Recorder(str(path))
    seen = set()
    for n in range(1, 21):  # each event waits to be written out: a flush window of its own
        recorder.record(event(n))
        assert wait_for(lambda: len(collect(path)) == n)
        alive = recording_flushers() - others
        assert len(alive) == 1, f"window {n}: {len(alive)} flusher threads"
        seen |= alive
    assert len(seen) == 1, "one thread flushed every window"
    recorder.close()
    assert recording_flushers() - others == set()
    assert collect(path) == [event(n) for n in range(1, 21)]


def test_recording_is_thread_safe(path):
    recorder = Recorder(str(path))

    def write(thread):
        for n in range(300):
            recorder.record(event(n, host=f"t{thread}"))

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    stats = ReadStats()
    got = collect(path, stats)
    assert len(got) == 1200 and stats.skipped == 0
    for t in range(4):
        assert [item["clock"] for item in got if item["host"] == f"t{t}"] == list(range(300))


def test_a_cut_last_line_is_ignored(tmp_path):
    path = tmp_path / "cut.jsonl"
    record(path, [event(1), event(2), event(3)])
    data = path.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: last + (len(data) - last) // 2])
    stats = ReadStats()
    assert collect(path, stats) == [event(1), event(2)]
    assert stats.truncated and stats.skipped == 0


def test_appending_after_a_cut_line_keeps_the_new_session(tmp_path):
    path = tmp_path / "cut.jsonl"
    record(path, [event(1), event(2)])
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    record(path, [event(3)])
    stats = ReadStats()
    assert [item["clock"] for item in collect(path, stats)] == [1, 3]
    assert stats.skipped == 1


def test_a_cut_gzip_member_followed_by_a_new_session(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    first = [event(n, padding="x" * n) for n in range(50)]
    record(path, first)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(EOFError):
        gzip.decompress(path.read_bytes())
    record(path, [event(100), event(101)])
    got = collect(path)
    assert got[-2:] == [event(100), event(101)]
    assert got[:-2] == first[: len(got) - 2]


def test_a_gzip_file_is_recognised_whatever_its_name(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(gzip.compress(b'{"type":"a"}\n\n{"type":"b"}\n'))
    assert collect(path) == [{"type": "a"}, {"type": "b"}]


def test_blank_and_garbage_lines_in_the_middle_are_skipped(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'\n{"type":"a"}\n\n  \r\nnot json at all\n[1, 2]\n\xff\xfe\n{"type":"b"}\n')
    stats = ReadStats()
    assert collect(path, stats) == [{"type": "a"}, {"type": "b"}]
    assert stats.skipped == 3 and stats.events == 2 and not stats.truncated


def test_an_empty_file_is_an_empty_recording(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert collect(path) == []


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
SQLITE = b"SQLite format 3\x00" + bytes(100) + b"\n" + bytes(range(256))


@pytest.mark.parametrize(
    "content",
    [PNG, SQLITE, gzip.compress(PNG), b"hello world\n" + b'{"type":"a"}\n', b"\x1f\x8bnot really gzip"],
    ids=["png", "sqlite", "gzipped-png", "text", "bad-gzip"],
)
def test_a_file_that_is_not_a_recording_is_refused_in_one_line(tmp_path, content):
    path = tmp_path / "not-a-recording"
    path.write_bytes(content)
    with pytest.raises(RecordingError) as info:
        collect(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    with pytest.raises(RecordingError):
        Replayer(str(path), lambda item: None)
    with pytest.raises(RecordingError):
        replay_all(str(path), lambda item: None)


def test_a_missing_file_is_refused_in_one_line(tmp_path):
    with pytest.raises(RecordingError) as info:
        collect(tmp_path / "nope\nnewline.jsonl")
    assert "\n" not in str(info.value)
    assert "No such file" in str(info.value)


def test_the_recorder_refuses_a_path_it_cannot_write(tmp_path):
    with pytest.raises(RecordingError) as info:
        Recorder(str(tmp_path))
    assert "\n" not in str(info.value) and "cannot record" in str(info.value)
    with pytest.raises(RecordingError):
        Recorder(str(tmp_path / "missing-dir" / "x.jsonl"))


def test_the_recorder_does_not_append_to_a_file_that_is_not_a_recording(tmp_path):
    image = tmp_path / "picture.png"
    image.write_bytes(PNG)
    with pytest.raises(RecordingError):
        Recorder(str(image))
    assert image.read_bytes() == PNG
    plain = tmp_path / "events.gz"
    plain.write_bytes(b'{"type":"a"}\n')
    with pytest.raises(RecordingError, match="not gzip"):
        Recorder(str(plain))
    packed = tmp_path / "events.jsonl"
    packed.write_bytes(gzip.compress(b'{"type":"a"}\n'))
    with pytest.raises(RecordingError, match="gzip"):
        Recorder(str(packed))


def test_replay_all_counts_and_hands_out_fresh_dicts(path):
    record(path, [event(1), event(2), event(3)])
    seen = []

    def handler(item):
        seen.append(item)
        item.setdefault("added", True)  # as ClusterModel.on_event does
        item["name"] = "mutated"

    assert replay_all(str(path), handler) == 3
    assert len({id(item) for item in seen}) == 3
    assert replay_all(str(path), seen.append) == 3
    assert seen[3:] == [event(1), event(2), event(3)]


# -- replaying -------------------------------------------------------------------------------------------


def paced(tmp_path, gaps, name="paced.jsonl") -> str:
    path = tmp_path / name
    at, events = 1000.0, [event(0, 1000.0)]
    for n, gap in enumerate(gaps, 1):
        at += gap
        events.append(event(n, at))
    record(path, events)
    return str(path)


class Sink:
    """A handler that notes when each event arrived."""

    def __init__(self):
        self.events: list = []
        self.times: list = []
        self.ended = 0
        self.done = threading.Event()

    def __call__(self, item):
        self.times.append(time.monotonic())
        self.events.append(item)

    def on_end(self):
        self.ended += 1
        self.done.set()


def replay(path, **kwargs):
    sink = Sink()
    replayer = Replayer(path, sink, on_end=sink.on_end, **kwargs)
    return replayer, sink


def wait_for(condition, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_speed_zero_delivers_everything_in_order_at_once(tmp_path):
    path = paced(tmp_path, [3600.0] * 50)
    replayer, sink = replay(path, speed=0)
    started = time.monotonic()
    replayer.start()
    assert sink.done.wait(5)
    replayer.join(5)
    assert time.monotonic() - started < 5
    assert [item["clock"] for item in sink.events] == list(range(51))
    assert sink.ended == 1 and replayer.finished and replayer.delivered == 51
    assert replayer.clock == 1000.0 + 50 * 3600.0
    assert replayer.error == ""


def test_an_empty_recording_ends_at_once(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    replayer, sink = replay(str(path))
    replayer.start()
    assert sink.done.wait(5) and sink.ended == 1
    assert replayer.clock is None and replayer.delivered == 0


def test_the_recorded_pace_is_kept(tmp_path):
    path = paced(tmp_path, [0.2, 0.2, 0.2])
    replayer, sink = replay(path)
    replayer.start()
    assert sink.done.wait(10)
    assert len(sink.events) == 4
    assert sink.times[-1] - sink.times[0] >= 0.35
    assert all(later - earlier >= 0.1 for earlier, later in zip(sink.times, sink.times[1:]))


def test_speed_scales_the_pace(tmp_path):
    path = paced(tmp_path, [1.2, 1.2, 1.2])
    replayer, sink = replay(path, speed=4)
    replayer.start()
    assert sink.done.wait(10)
    total = sink.times[-1] - sink.times[0]
    assert 0.7 <= total < 3.0  # 0.9 s at 4x; 3.6 s would mean the speed was ignored


def test_a_long_gap_is_capped_by_max_gap(tmp_path):
    path = paced(tmp_path, [3600.0, 0.0])
    replayer, sink = replay(path, max_gap=0.2)
    replayer.start()
    assert sink.done.wait(5)
    assert sink.times[1] - sink.times[0] >= 0.15
    assert replayer.clock == 1000.0 + 3600.0


def test_pause_step_and_resume(tmp_path):
    path = paced(tmp_path, [0.05] * 9)
    replayer, sink = replay(path)
    replayer.pause()
    assert replayer.paused
    replayer.start()
    time.sleep(0.3)
    assert sink.events == []

    replayer.step()
    assert wait_for(lambda: len(sink.events) == 1)
    time.sleep(0.3)
    assert len(sink.events) == 1 and replayer.paused
    assert replayer.clock == 1000.0

    replayer.step()
    replayer.step()
    assert wait_for(lambda: len(sink.events) == 3)
    time.sleep(0.3)
    assert len(sink.events) == 3
    assert replayer.clock == pytest.approx(1000.1)

    assert replayer.toggle_pause() is False
    assert sink.done.wait(5)
    assert [item["clock"] for item in sink.events] == list(range(10))
    assert sink.ended == 1


def test_pause_while_playing_holds_delivery(tmp_path):
    path = paced(tmp_path, [0.1] * 20)
    replayer, sink = replay(path)
    replayer.start()
    assert wait_for(lambda: len(sink.events) >= 2)
    assert replayer.toggle_pause() is True
    time.sleep(0.05)
    held = len(sink.events)
    time.sleep(0.3)
    assert len(sink.events) == held
    replayer.resume()
    assert wait_for(lambda: len(sink.events) > held)
    replayer.stop()


def test_set_speed_zero_ends_a_long_wait(tmp_path):
    path = paced(tmp_path, [60.0, 60.0])
    replayer, sink = replay(path, max_gap=120.0)
    replayer.start()
    assert wait_for(lambda: len(sink.events) == 1)
    time.sleep(0.1)
    started = time.monotonic()
    replayer.set_speed(0)
    assert sink.done.wait(5)
    assert time.monotonic() - started < 5
    assert len(sink.events) == 3


def test_a_faster_speed_shortens_a_wait_already_begun(tmp_path):
    path = paced(tmp_path, [40.0])
    replayer, sink = replay(path, max_gap=60.0)
    replayer.start()
    assert wait_for(lambda: len(sink.events) == 1)
    replayer.set_speed(MAX_SPEED)
    assert sink.done.wait(5)


def test_stop_ends_a_paused_or_waiting_replay_without_on_end(tmp_path):
    path = paced(tmp_path, [60.0, 60.0])
    for paused in (True, False):
        replayer, sink = replay(path, max_gap=120.0)
        if paused:
            replayer.pause()
        replayer.start()
        time.sleep(0.1)
        started = time.monotonic()
        replayer.stop()
        assert not replayer.is_alive()
        assert time.monotonic() - started < 3
        assert sink.ended == 0 and not replayer.finished


def test_faster_and_slower_stay_in_bounds(tmp_path):
    path = paced(tmp_path, [0.1])
    replayer = Replayer(path, lambda item: None, speed=1.0)
    assert replayer.faster() == 2.0 and replayer.speed == 2.0
    assert replayer.slower() == 1.0
    for _ in range(20):
        replayer.faster()
    assert replayer.speed == MAX_SPEED
    for _ in range(40):
        replayer.slower()
    assert replayer.speed == MIN_SPEED
    replayer.set_speed(0)
    assert replayer.faster() == 0
    assert replayer.slower() == MAX_SPEED
    with pytest.raises(ValueError):
        replayer.set_speed(-1)
    with pytest.raises(ValueError):
        Replayer(path, lambda item: None, speed=float("nan"))


def test_a_handler_error_does_not_end_the_replay(tmp_path):
    path = paced(tmp_path, [0.0, 0.0])
    seen = []
    done = threading.Event()

    def handler(item):
        seen.append(item["clock"])
        if item["clock"] == 1:
            raise KeyError("boom")

    replayer = Replayer(path, handler, speed=0, on_end=done.set)
    replayer.start()
    assert done.wait(5)
    assert seen == [0, 1, 2]


def test_a_read_error_mid_way_is_reported_in_one_line(tmp_path, monkeypatch):
    path = paced(tmp_path, [0.0] * 3)
    real_plain = reader._plain

    def failing(stream, head):
        chunks = real_plain(stream, head)
        yield next(chunks) + next(chunks)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(reader, "_plain", failing)
    replayer, sink = replay(path, speed=0)
    replayer.start()
    assert sink.done.wait(5)
    assert len(sink.events) == 4 and sink.ended == 1 and replayer.finished
    assert replayer.error == f"cannot read recording {path}: Input/output error"


def test_damaged_gzip_data_keeps_what_came_before_and_the_next_session(tmp_path):
    path = tmp_path / "damaged.jsonl.gz"
    record(path, [event(n, padding=str(n) * 50) for n in range(2000)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] + b"\xff" * 64)
    record(path, [event(5000)])
    got = collect(path)
    assert got[-1] == event(5000)
    assert 0 < len(got) - 1 < 2000
