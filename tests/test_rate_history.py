"""Rates over time (issue 15): the ring of 10 s buckets, the sparklines, the header on screen and batch JSON."""

import json
import locale
import subprocess

import pytest

from celerytop.model.cluster import ClusterModel
from celerytop.model.ratehistory import BUCKETS, RateHistory, per_second
from celerytop.present.sparkline import ASCII_LEVELS, UNICODE_LEVELS, sparkline, unicode_terminal
from tests.events import heartbeat, task_lifecycle
from tests.screen import BIN
from tests.terminal import Terminal, normalise_colour

T0 = 1_700_000_000.0  # a multiple of 10: bucket boundaries fall on T0 + 10 k


# -- the ring ------------------------------------------------------------------------------------------------
def test_events_land_in_their_10_second_bucket_and_gaps_are_zero():
    history = RateHistory()
    for t in (T0, T0 + 9.99, T0 + 30.0):
        history.add(False, t)
    history.add(True, T0 + 5)
    succeeded, failed = history.series(T0 + 35, 5)
    assert succeeded == [0, 2, 0, 0, 1]  # buckets T0-10, T0, T0+10, T0+20, T0+30
    assert failed == [0, 1, 0, 0, 0]


def test_the_ring_is_bounded_to_an_hour_and_forgets_what_fell_out():
    history = RateHistory()
    for k in range(2 * BUCKETS):
        history.add(k % 2 == 1, T0 + 10 * k)
    assert len(history._succeeded) == len(history._failed) == BUCKETS
    now = T0 + 10 * (2 * BUCKETS - 1)
    succeeded, failed = history.series(now, 10 * BUCKETS)  # asked for more than an hour: an hour
    assert len(succeeded) == len(failed) == BUCKETS
    assert sum(succeeded) + sum(failed) == BUCKETS
    assert history.series(now + 10 * BUCKETS, BUCKETS) == ([0] * BUCKETS, [0] * BUCKETS)  # an hour later: all gone


def test_out_of_order_events_count_where_they_belong_and_too_old_ones_are_dropped():
    history = RateHistory()
    history.add(False, T0 + 100)
    history.add(False, T0 + 75)  # late, but within the hour
    history.add(True, T0 + 100 - 10 * BUCKETS)  # exactly an hour behind the newest: its slot is the newest's
    succeeded, failed = history.series(T0 + 100, 4)
    assert succeeded == [1, 0, 0, 1] and failed == [0, 0, 0, 0]  # T0+70 .. T0+100
    assert history.series(T0 + 100, BUCKETS)[1] == [0] * BUCKETS


def test_events_after_now_and_odd_times_are_not_shown_and_do_not_raise():
    history = RateHistory()
    history.add(False, T0 + 60)
    history.add(False, float("nan"))
    history.add(False, None)
    assert history.series(T0, 3) == ([0, 0, 0], [0, 0, 0])


def test_the_rate_is_the_newest_full_bucket_per_second():
    assert per_second([0, 30, 7]) == 3.0
    assert per_second([5]) == 0.0


def test_the_model_feeds_the_ring_on_success_and_failure_by_local_received():
    model = ClusterModel(clock=lambda: T0 + 25)
    for n in range(3):
        for e in task_lifecycle(t0=T0 + n)[1]:
            model.on_event(e)
    for e in task_lifecycle(final="task-failed", t0=T0 + 21)[1]:
        model.on_event(e)
    for e in task_lifecycle(final="task-retried", t0=T0 + 22)[1]:
        model.on_event(e)
    assert model.rate_series(3) == ([3, 0, 0], [0, 0, 1])
    assert model.summary().rate_history[0][-3:] == [3, 0, 0]


# -- sparklines ------------------------------------------------------------------------------------------------
def test_sparklines_scale_each_series_to_its_own_maximum():
    assert sparkline([0, 1, 4, 8]) == " ▁▄█"
    assert sparkline([0, 100, 400, 800]) == " ▁▄█"  # the same shape at any scale
    assert sparkline([1, 1, 1]) == "███"
    assert sparkline([0, 1, 9], ascii=True) == " .@"
    assert sparkline([0, 5, 9], ascii=True) == " +@"


def test_an_all_zero_or_empty_series_is_blank():
    assert sparkline([0, 0, 0]) == "   " and sparkline([0, 0], ascii=True) == "  "
    assert sparkline([]) == ""


def test_ascii_sparklines_are_ascii_and_unicode_ones_are_blocks():
    values = list(range(12))
    assert sparkline(values, ascii=True).isascii()
    assert set(sparkline(values)) <= set(UNICODE_LEVELS) and set(sparkline(values, ascii=True)) <= set(ASCII_LEVELS)


def test_the_locale_decides_unless_told():
    assert unicode_terminal("UTF-8") and unicode_terminal("utf8")
    assert not unicode_terminal("ANSI_X3.4-1968") and not unicode_terminal("ISO-8859-1")
    assert unicode_terminal() == unicode_terminal(locale.getpreferredencoding(False))


# -- the screen and batch ----------------------------------------------------------------------------------------
def write_recording(path):
    """60 s of history: a heartbeat, 1 success per second, and failures only in the 20 s from T0 + 30."""
    events = []
    for n in range(60):
        when = T0 + n
        events.append(heartbeat("w1@replayed", timestamp=when, local_received=when))
        final = "task-failed" if 30 <= n < 50 and n % 2 else "task-succeeded"
        for e in task_lifecycle(name="proj.tick", hostname="w1@replayed", t0=when, final=final)[1]:
            e["local_received"] = e["timestamp"]
            events.append(e)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "rates.jsonl"
    write_recording(path)
    return path


def rates_line(term):
    return next(line for line in term.lines() if line.startswith(" ok "))


def test_the_header_draws_succeeded_and_failed_sparklines_with_failures_in_red(recording):
    with Terminal([BIN, "--replay", str(recording), "--speed", "0", "--refresh", "0.1"], cols=120, rows=30) as term:
        term.wait_for("Tasks 60 ")
        term.wait_for(lambda t: "█" in rates_line(t))
        line = rates_line(term)
        ok, fail = line.split(" fail ")
        # 20 buckets up to the one of the last event (T0 + 59.03), oldest left: the last 6 hold tasks
        assert ok.split()[1:] == ["███▄▄█", "0.5/s"]  # 10, 10, 10, 5, 5, 10 succeeded; the rate: the last full bucket
        assert fail.rstrip() == " " * 17 + "██  0.5/s"  # 5, 5 failed, then none in the last bucket
        assert term.fg("███▄▄█") != "red"
        row, column = term.find(" fail " + " " * 17 + "██")
        failed_block = term.screen.buffer[row][column + 6 + 17]
        assert failed_block.data == "█" and normalise_colour(failed_block.fg, bright=False) == "red"
        term.press("q")
        assert term.wait_exit() == 0


def test_ascii_keeps_the_whole_header_ascii(recording):
    with Terminal([BIN, "--replay", str(recording), "--speed", "0", "--refresh", "0.1", "--ascii"],
                  cols=120, rows=30) as term:
        term.wait_for("Tasks 60 ")
        term.wait_for(lambda t: "@" in rates_line(t))
        lines = term.lines()
        header = lines[:lines.index(rates_line(term)) + 1]
        assert len(header) >= 3 and all(line.isascii() for line in header), header
        assert "> replaying" in header[0]
        assert rates_line(term).split(" fail ")[1].split() == ["@@", "0.5/s"]
        term.press("q")
        assert term.wait_exit() == 0


def test_batch_json_has_the_last_hour_oldest_first_aligned_to_now(recording):
    done = subprocess.run([BIN, "--replay", str(recording), "--speed", "0", "--batch", "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    history = json.loads(done.stdout.splitlines()[-1])["rate_history"]
    assert history["bucket_seconds"] == 10
    assert len(history["succeeded"]) == len(history["failed"]) == BUCKETS  # an hour, the last bucket holding now
    assert history["succeeded"][-6:] == [10, 10, 10, 5, 5, 10] and sum(history["succeeded"][:-6]) == 0
    assert history["failed"][-6:] == [0, 0, 0, 5, 5, 0] and sum(history["failed"]) == 10
