"""celerytop against real workers on every selected broker, read off the screen."""

import os
import re
import signal
import sys
import time

from tests.live import REPO_ROOT, wait_until
from tests.terminal import Terminal, normalise_colour

BIN = os.path.join(os.path.dirname(sys.executable), "celerytop")


def monitor(broker, *args, cols=140, rows=40):
    return Terminal([BIN, "-A", "tests.liveapp", "--refresh", "0.25", *args], cols=cols, rows=rows,
                    env=broker.env, cwd=str(REPO_ROOT))


def cell_fg(term, row_text, cell_text):
    for y, line in enumerate(term.lines()):
        if row_text in line and cell_text in line:
            return normalise_colour(term.screen.buffer[y][line.index(cell_text)].fg, bright=False)
    return None


def row_with(term, text):
    return next((line for line in term.lines() if text in line), "")


def short(hostname, width=20):
    return hostname[:width]


def test_tasks_appear_with_their_states(broker, workers):
    worker = workers("w1", concurrency=2)
    with monitor(broker) as term:
        term.wait_for("● connected")
        term.wait_for(lambda t: "online" in row_with(t, short(worker.hostname)))
        results = [broker.app.send_task("tests.add", (i, i)) for i in range(3)]
        failed = broker.app.send_task("tests.fail", ("deliberate failure",))
        for result in results:
            assert result.get(timeout=30) in (0, 2, 4)
        term.wait_for("tests.fail")
        term.wait_for(lambda t: cell_fg(t, failed.id[:8], "FAILURE") == "red")
        term.wait_for(lambda t: len([line for line in t.lines() if "tests.add" in line and "SUCCESS" in line]) == 3)
        assert cell_fg(term, results[0].id[:8], "SUCCESS") == "green"
        assert "(2, 2)" in row_with(term, results[2].id[:8])
        term.wait_for("FAILURE 1")
        term.press("q")
        assert term.wait_exit() == 0


def test_a_killed_worker_turns_offline(broker, workers):
    victim = workers("victim")
    survivor = workers("survivor")
    with monitor(broker) as term:
        for worker in (victim, survivor):
            # its own heartbeat, not only the seeding ping (a worker known from a ping alone
            # stays online for two of celery's default 60 s heartbeat intervals)
            term.wait_for(lambda t, w=worker: "online" in row_with(t, short(w.hostname))
                          and "py-celery" in row_with(t, short(w.hostname)))
        victim.kill(signal.SIGKILL)
        term.wait_for(lambda t: "offline" in row_with(t, short(victim.hostname)), timeout=30)
        assert cell_fg(term, short(victim.hostname), "offline") == "red"
        assert "online" in row_with(term, short(survivor.hostname))
        term.wait_for("Workers 1/2 online")


def test_tasks_in_flight_are_seeded_from_inspect_without_events(broker, workers):
    # The worker sends no task events and celerytop does not turn them on:
    # the running task can only come from 'inspect active'.
    worker = workers("quiet", events=False)
    running = broker.app.send_task("tests.sleep", (25,))
    wait_until(lambda: broker.app.control.inspect(destination=[worker.hostname], timeout=1).active(),
               timeout=20, message="the worker never started the task")
    with monitor(broker, "--no-enable-events") as term:
        term.wait_for(running.id[:8])
        term.wait_for(lambda t: "STARTED" in row_with(t, running.id[:8]))
        assert "tests.sleep" in row_with(term, running.id[:8])
        assert "online" in row_with(term, short(worker.hostname))
        term.wait_for("answer pings and run tasks but send no task events", timeout=30)


def test_enable_events_is_broadcast_at_start(broker, workers):
    workers("late", events=False)
    with monitor(broker) as term:
        term.wait_for("● connected")
        # celerytop broadcast enable_events as it connected; a task sent
        # before the worker acted on it runs without events, so keep sending
        # (at most one a second) until one of them shows SUCCESS.
        sent, last = [], [0.0]

        def shows_success(t):
            if any("SUCCESS" in row_with(t, r.id[:8]) for r in sent):
                return True
            if time.monotonic() - last[0] > 1.0 and all(r.ready() for r in sent):
                sent.append(broker.app.send_task("tests.add", (20, 22)))
                last[0] = time.monotonic()
            return False

        term.wait_for(shows_success, timeout=30)
        assert "send no task events" not in term.text()


def test_broker_down_at_start_then_up_then_restarted(private_redis, tmp_path):
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    with Terminal([BIN, "-b", url, "--refresh", "0.25"], cols=140, rows=30, cwd=str(tmp_path)) as term:
        term.wait_for("disconnected, waiting for the broker")
        assert "Connection refused" in term.lines()[0] or "Error" in term.lines()[0], term.text()
        assert cell_fg(term, "celerytop", "disconnected") == "red"
        private_redis.start()
        term.wait_for("● connected", timeout=40)

        from celery import Celery

        app = Celery("sender", broker=url, set_as_current=False)
        with app.connection_for_write() as conn:
            dispatcher = app.events.Dispatcher(conn, hostname="w1@example", enabled=True)
            dispatcher.send("task-received", uuid="before-restart-0001", name="tests.kept", args="()", kwargs="{}")
            dispatcher.send("task-succeeded", uuid="before-restart-0001", result="1", runtime=0.1)
            dispatcher.close()
        term.wait_for("tests.kept")

        private_redis.stop()
        term.wait_for("disconnected, waiting for the broker", timeout=30)
        assert "tests.kept" in term.text(), "what was shown was lost when the broker went away"
        private_redis.start()
        term.wait_for("● connected", timeout=40)
        assert "tests.kept" in term.text()
        with app.connection_for_write() as conn:
            dispatcher = app.events.Dispatcher(conn, hostname="w1@example", enabled=True)
            dispatcher.send("task-received", uuid="after-restart-0002", name="tests.after", args="()", kwargs="{}")
            dispatcher.close()
        term.wait_for("tests.after")
        assert "tests.kept" in term.text()
        term.press("q")
        assert term.wait_exit() == 0


def test_redis_cutting_off_a_slow_subscriber_shows_events_lost_then_recovers(private_redis, tmp_path):
    """Redis closes a subscriber whose output buffer passes its limit: the events in it are gone.

    The limit is set low (64 KB) and celerytop is stopped (SIGSTOP) while
    25 MB of events are published (more than the sockets' kernel buffers
    hold on loopback), so it is the slow subscriber.
    """
    import redis
    from celery import Celery

    private_redis.start()
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    redis.Redis(port=private_redis.port).config_set("client-output-buffer-limit", "pubsub 64kb 32kb 1")
    app = Celery("sender", broker=url, set_as_current=False)
    with Terminal([BIN, "-b", url, "--refresh", "0.25"], cols=150, rows=30, cwd=str(tmp_path)) as term:
        term.wait_for("● connected", timeout=40)
        os.kill(term.pid, signal.SIGSTOP)
        try:
            with app.connection_for_write() as conn:
                dispatcher = app.events.Dispatcher(conn, hostname="w1@example", enabled=True)
                for i in range(400):
                    dispatcher.send("task-received", uuid=f"flood-{i:04d}", name="tests.flood",
                                    args=repr("x" * 64000), kwargs="{}")
                dispatcher.close()
        finally:
            os.kill(term.pid, signal.SIGCONT)
        term.wait_for("events lost: stream broke once", timeout=30)
        assert cell_fg(term, "celerytop", "events lost") == "red"
        term.wait_for(lambda t: "● connected" in t.lines()[0], timeout=30)
        assert "events lost" in term.lines()[0], "the loss stays on record after the stream recovers"
        with app.connection_for_write() as conn:
            dispatcher = app.events.Dispatcher(conn, hostname="w1@example", enabled=True)
            dispatcher.send("task-received", uuid="after-loss-0001", name="tests.after", args="()", kwargs="{}")
            dispatcher.close()
        term.wait_for("tests.after")
        term.press("q")
        assert term.wait_exit() == 0


def test_only_events_leaves_out_what_was_not_asked_for(broker):
    """--only-events workers,failures: on RabbitMQ and Redis the broker itself leaves the rest out."""
    with monitor(broker, "--only-events", "workers,failures", cols=140) as term:
        term.wait_for("● connected", timeout=40)
        assert "ONLY worker.#,task.failed" in term.lines()[0]
        with broker.app.connection_for_write() as conn:
            dispatcher = broker.app.events.Dispatcher(conn, hostname="w9@example", enabled=True)
            dispatcher.send("task-received", uuid="narrow-ok-0001", name="tests.ok", args="()", kwargs="{}")
            dispatcher.send("task-succeeded", uuid="narrow-ok-0001", result="1", runtime=0.1)
            dispatcher.send("worker-heartbeat", freq=2.0, active=0, processed=1)
            dispatcher.send("task-failed", uuid="narrow-bad-0001", exception="ValueError('x')", traceback="x")
            dispatcher.close()
        term.wait_for("narrow-b")
        term.wait_for("w9@example")
        text = term.text()
        assert "narrow-o" not in text and "tests.ok" not in text, "a task event that was not asked for arrived"
        assert "FAILURE 1" in term.lines()[1] and "SUCCESS" not in term.lines()[1]
        term.press("q")
        assert term.wait_exit() == 0


def test_the_header_says_how_far_behind_it_is_and_clears_once_caught_up(private_redis, tmp_path):
    """Events that waited 3 s to be read show as 'behind' in yellow; the next prompt event clears it."""
    from celery import Celery

    private_redis.start()
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    app = Celery("sender", broker=url, set_as_current=False)

    def send(uuid):
        with app.connection_for_write() as conn:
            dispatcher = app.events.Dispatcher(conn, hostname="w1@example", enabled=True)
            dispatcher.send("task-received", uuid=uuid, name="tests.lag", args="()", kwargs="{}")
            dispatcher.close()

    with Terminal([BIN, "-b", url, "--refresh", "0.25"], cols=150, rows=30, cwd=str(tmp_path)) as term:
        term.wait_for("● connected", timeout=40)
        send("lag-first-0001")  # read at once: w1's usual delay
        term.wait_for("lag-firs")
        assert "behind" not in term.lines()[0]
        os.kill(term.pid, signal.SIGSTOP)
        try:
            send("lag-late-0002")
            time.sleep(3.0)
        finally:
            os.kill(term.pid, signal.SIGCONT)
        term.wait_for(lambda t: "⚠ behind" in t.lines()[0], timeout=10)
        lag = float(re.search(r"⚠ behind (\d+\.\d) s", term.lines()[0]).group(1))
        assert 2.9 <= lag < 30, term.lines()[0]
        assert cell_fg(term, "celerytop", "behind") == "yellow"
        send("lag-prompt-0003")
        term.wait_for(lambda t: "behind" not in t.lines()[0] and "lag-prom" in t.text(), timeout=10)
        term.press("q")
        assert term.wait_exit() == 0
