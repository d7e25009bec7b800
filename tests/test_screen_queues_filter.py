"""The queues view's / filter and Enter, on a filesystem broker read through pyte, with --ascii.

Tasks are sent (task-sent events on, as tests/liveapp.py configures) to
three queues nobody consumes, so the messages wait and the model knows
each task's queue: ``/`` narrows the rows to the matching names, and Enter
closes the view and filters the tasks pane to ``queue:`` the queue under
the cursor, which lists exactly the tasks sent to it.
"""

from tests.screen import monitor
from tests.test_live_queues import queue_line, select_queue


def task_row(term, uuid):
    return next((line for line in term.lines() if line[2:10] == uuid[:8]), "")


def test_slash_filters_the_queues_and_enter_lists_the_queues_tasks(fs):
    eu, us, mail = f"bill-eu-{fs.ns}", f"bill-us-{fs.ns}", f"mail-{fs.ns}"
    with monitor(fs, 170, 40, "--ascii") as term:
        term.wait_for("* connected")  # ASCII for ●
        sent = {queue: [fs.app.send_task("tests.add", args=(n, n), queue=queue).id for n in range(count)]
                for queue, count in ((eu, 2), (us, 1), (mail, 3))}
        term.wait_for("6 in memory")
        term.press("u")
        term.wait_for(lambda t: all(queue_line(t, q) for q in (eu, us, mail)), timeout=30)
        assert "QUEUE^" in term.text() and not any(c in term.text() for c in "▲▼"), term.describe()  # --ascii
        term.press(">")
        term.wait_for("MESSAGESv")
        term.press("<")
        term.wait_for("QUEUE^")

        term.press("/")
        term.send("bill-*")
        term.press("enter")
        term.wait_for("/ bill-*: 2 of ")  # the title says the filter and how many rows it leaves
        assert queue_line(term, eu) and queue_line(term, us), term.describe()
        assert not queue_line(term, mail) and not queue_line(term, f"q-{fs.ns}"), term.describe()

        term.press("/")  # a substring, not a glob: the rows follow the new filter
        term.press("ctrl-u")
        term.send("MAIL")
        term.press("enter")
        term.wait_for(lambda t: queue_line(t, mail) and not queue_line(t, eu))
        assert "/ MAIL: 1 of " in term.text(), term.describe()

        term.press("/")
        term.send("zzz")
        term.press("enter")
        term.wait_for("No queue matches the filter")
        term.press("enter")  # no row: says so, the view stays
        term.wait_for("No queue under the cursor")
        term.press("/")
        term.press("ctrl-u")
        term.press("enter")  # empty clears
        term.wait_for(lambda t: all(queue_line(t, q) for q in (eu, us, mail)))
        assert "/ zzz" not in term.text()
        term.press("/")
        term.send("mail")
        term.press("enter")
        term.wait_for("/ mail: 1 of ")
        term.press("esc")  # Esc clears a filter, and the view stays
        term.wait_for(lambda t: all(queue_line(t, q) for q in (eu, us, mail)))
        assert "/ mail" not in term.text() and "Queues" in term.text()

        term.press("/")
        term.send("bill-*")
        term.press("enter")
        term.wait_for("/ bill-*: 2 of ")
        select_queue(term, eu)
        term.press("enter")
        term.wait_for(f"2 of 6 match 'queue:{eu}'")
        assert "Queues" not in term.text(), term.describe()  # the view closed
        for uuid in sent[eu]:
            assert task_row(term, uuid), term.describe()
        for uuid in sent[us] + sent[mail]:
            assert not task_row(term, uuid), term.describe()
        assert f"filter: queue:{eu}" in term.lines()[-1]
        term.press("u")
        term.wait_for("QUEUE^")
        term.press("esc")  # no filter: Esc leaves the view
        term.wait_gone("QUEUE^")
