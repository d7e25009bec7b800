"""Drilling in, read off the screen: detail, traceback, filter, sort, marks."""

from tests.screen import cell_fg, connected, monitor
from tests.terminal import normalise_colour

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "proj/billing.py", line 12, in charge\n'
    "    _authorize(card)\n"
    '  File "proj/billing.py", line 30, in _authorize\n'
    "    raise ValueError('card expired')\n"
    "ValueError: card expired"
)


def failed_task(events, name="proj.billing.charge"):
    return events.task(name=name, final="task-failed", args="(42, 'visa')", kwargs="{'retry': True}",
                       exception="ValueError('card expired')", traceback=TRACEBACK)


def test_enter_opens_the_task_detail_with_its_traceback_and_esc_goes_back(fs, events):
    with monitor(fs, 120, 50) as term:
        connected(term)
        uuid = failed_task(events)
        term.wait_for("proj.billing.charge")
        term.press("enter")
        term.wait_for(f" Task {uuid}")
        for expected in ("Timeline", "received", "started", "failed", "args        (42, 'visa')",
                         "kwargs      {'retry': True}", "ValueError('card expired')", "Traceback",
                         "raise ValueError('card expired')"):
            assert expected in term.text(), expected
        y, x = term.find("ValueError: card expired")
        assert normalise_colour(term.screen.buffer[y][x].fg, bright=False) == "red"
        assert normalise_colour(term.screen.buffer[y - 1][x + 4].fg, bright=False) != "red"
        term.press("esc")
        term.wait_gone(f" Task {uuid}")
        term.wait_for("in memory")


def test_t_jumps_to_the_traceback_and_says_when_there_is_none(fs, events):
    with monitor(fs, 120, 24) as term:
        connected(term)
        failed_task(events)
        ok = events.task(name="proj.ok")
        term.wait_for("proj.ok")
        term.press("t")  # the cursor is on the newest task: proj.ok
        term.wait_for(f"Task {ok[:8]} has no traceback")
        term.press("esc")
        term.wait_gone(f" Task {ok}")
        term.press("j", "t")
        term.wait_for("ValueError: card expired")
        assert "Traceback" in term.text()


def test_filter_prompt_narrows_excludes_and_clears(fs, events):
    with monitor(fs, 120, 40) as term:
        connected(term)
        for i in range(30):
            events.task(name=f"proj.noise{i}")
        failed_task(events, "proj.billing.charge")
        failed_task(events, "proj.email.send")
        term.wait_for("32 in memory")
        term.press("/")
        term.send("state:FAILURE !name:proj.email.*")
        term.press("enter")
        term.wait_for("1 of 32 match 'state:FAILURE !name:proj.email.*'")
        assert "proj.billing.charge" in term.text()
        assert "proj.email.send" not in term.text() and "proj.noise" not in term.text()
        assert "filter: state:FAILURE !name:proj.email.*" in term.lines()[-1]
        term.press("/")
        term.send(" colour:red")
        term.press("enter")
        term.wait_for("Bad filter, kept the previous one: unknown field 'colour'")
        assert "1 of 32 match" in term.text()
        term.press("esc")
        term.wait_for("32 in memory")
        assert "filter:" not in term.lines()[-1]


def test_state_filter_cycle_and_next_failure(fs, events):
    with monitor(fs, 120, 40) as term:
        connected(term)
        first = failed_task(events, "proj.first_failure")
        for i in range(5):
            events.task(name=f"proj.ok{i}")
        second = failed_task(events, "proj.second_failure")
        events.task(name="proj.newest")
        term.wait_for("proj.newest")
        term.press("n")
        term.wait_for(" 2/8")
        term.press("n")
        term.wait_for(" 8/8")
        term.press("n")  # wraps around
        term.wait_for(" 2/8")
        term.press("f")
        term.wait_for("2 of 8 match 'state:FAILURE'")
        assert first[:8] in term.text() and second[:8] in term.text()
        term.press("f")
        term.wait_for("0 of 8 match 'state:STARTED'")
        for _ in range(4):
            term.press("f")
        term.wait_for("8 in memory")


def test_sort_columns_and_inversion(fs, events):
    with monitor(fs, 120, 30) as term:
        connected(term)
        for name in ("proj.bravo", "proj.alpha", "proj.charlie"):
            events.task(name=name)
        term.wait_for("proj.charlie")
        assert "RECEIVED▼" in term.text()

        def names(t):
            return [n for line in t.lines() for n in ("proj.alpha", "proj.bravo", "proj.charlie") if n in line]

        assert names(term) == ["proj.charlie", "proj.alpha", "proj.bravo"]
        term.press(">")  # received -> name
        term.wait_for("NAME▲")
        term.wait_for(lambda t: names(t) == ["proj.alpha", "proj.bravo", "proj.charlie"])
        term.press("I")
        term.wait_for("NAME▼")
        term.wait_for(lambda t: names(t) == ["proj.charlie", "proj.bravo", "proj.alpha"])
        term.press("<")
        term.wait_for("RECEIVED▼")


def test_space_marks_tasks_visibly_and_U_clears(fs, events):
    with monitor(fs, 120, 30) as term:
        connected(term)
        for i in range(3):
            events.task(name=f"proj.t{i}")
        term.wait_for("proj.t2")
        term.press("space", "space")
        term.wait_for("2 marked")
        marked = [line for line in term.lines() if line.startswith("*")]
        assert len(marked) == 2 and "proj.t2" in marked[0] and "proj.t1" in marked[1]
        y = term.lines().index(marked[0])
        assert normalise_colour(term.screen.buffer[y][0].fg, bright=False) == "yellow"
        term.press("U")
        term.wait_gone("marked")
        assert not any(line.startswith("*") for line in term.lines())


def test_failures_survive_a_flood_of_successes(fs, events):
    with monitor(fs, 120, 30, "--max-tasks", "20", "--max-failures", "5") as term:
        connected(term)
        kept = failed_task(events, "proj.precious_failure")
        for i in range(60):
            events.task(name=f"proj.flood{i}")
        term.wait_for("proj.flood59")
        term.wait_for("21 in memory")
        term.press("f")
        term.wait_for("1 of 21 match 'state:FAILURE'")
        assert kept[:8] in term.text()
        assert cell_fg(term, kept[:8], "FAILURE") == "red"


def test_a_filter_narrows_over_10000_tasks_on_screen(make_broker):
    # Redis keeps pub/sub order and takes 10k+ events quickly; the filesystem
    # broker would need one event per millisecond (see EventSource.pace).
    from tests.screen import EventSource

    redis = make_broker("redis")
    sources = [EventSource(redis.app, hostname=f"w{n}@example", pace=False) for n in range(4)]
    try:
        # no failure-rate alert: its header line would name billing.charge above the rows read below
        with monitor(redis, 140, 40, "--max-tasks", "20000", "--max-failures", "5000",
                     "--no-alert", "failure-rate") as term:
            connected(term)
            expected = []
            for i in range(10_500):
                uuid = f"{i:08d}-0000-4000-8000-000000000000"
                name = ("billing.charge", "email.send", "images.resize")[i % 3]
                source = sources[i % 4]
                source.send("task-received", uuid=uuid, name=name, args=f"({i},)", kwargs="{}")
                if i % 7 == 0:
                    source.send("task-failed", uuid=uuid, exception="ValueError()", traceback="tb")
                    if name == "billing.charge" and i % 4 != 2:
                        expected.append(uuid)
            term.wait_for("Tasks 10500 ", timeout=120)
            term.press("/")
            term.send("name:billing.* state:FAILURE -worker:w2@*")
            term.press("enter")
            term.wait_for(f"{len(expected)} of 10500 match", timeout=30)
            rows = [line for line in term.lines() if "billing.charge" in line]
            assert rows and all("FAILURE" in line and "w2@" not in line for line in rows)
            assert expected[-1][:8] in rows[0]  # newest match first
            term.press("G")
            term.wait_for(expected[0][:8])
    finally:
        for source in sources:
            source.close()


def test_a_failed_task_shows_its_runtime_and_the_timeline_marks_clock_skew(fs, events):
    import time
    import uuid as uuidlib

    with monitor(fs, 140, 40) as term:
        connected(term)
        uuid, t = str(uuidlib.uuid4()), time.time()
        events.send("task-received", uuid=uuid, name="proj.crash", args="()", kwargs="{}", retries=0, timestamp=t)
        events.send("task-started", uuid=uuid, timestamp=t + 0.5)
        events.send("task-failed", uuid=uuid, exception="ValueError('x')", traceback="", timestamp=t + 4.0)
        # the client's clock is 0.3 s ahead of the worker's: its task-sent is stamped after the receipt
        events.send("task-sent", uuid=uuid, name="proj.crash", timestamp=t + 0.3)
        term.wait_for("proj.crash")
        term.wait_for(lambda term: "3.50s" in next(line for line in term.lines() if "proj.crash" in line))
        term.press("enter")
        term.wait_for(f" Task {uuid}")
        term.wait_for("(started → failed)")
        lines = term.lines()
        steps = [line.split()[1] for line in lines if line.strip()[:2].isdigit() and len(line.split()) > 1]
        assert steps == ["sent", "received", "started", "failed"], term.text()
        assert "runtime     3.50s  (started → failed)" in term.text()
        assert "clock skew: 300ms before the step above" in term.text()
        assert term.fg("clock skew: 300ms", bright=False) == "yellow"
        assert "waited      200ms  (sent → started)" in term.text()
        assert "-300ms" not in term.text() and "+-" not in term.text()
