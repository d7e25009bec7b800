"""Text that fits the terminal, as a person sees it at 80x24, 120 and 200 columns: the
real celerytop in a pty, events from celery's own Dispatcher over a filesystem broker."""

import re
import time
import uuid as uuidlib

import pytest

from celerytop.control import cmdline
from celerytop.ui.keys.keymap import Keymap
from tests.screen import EventSource, cell_fg, connected, monitor


def flowing(lines):
    """The text as one line of words, wrapped lines joined; in a box, only what is inside it."""
    inside = [line[line.index("│") + 1:line.rindex("│")] if line.count("│") >= 2 else line for line in lines]
    return " ".join(" ".join(inside).split())


def settled(term):
    """The screen once two looks 0.2 s apart agree (a frame can arrive in pieces)."""
    lines = None
    while lines != term.lines()[2:-2]:
        lines = term.lines()[2:-2]
        time.sleep(0.2)
    return lines


def read_to_the_end(term, bottom_text):
    """Every screenful a scrollable view shows, a page at a time until ``bottom_text``."""
    seen = [flowing(settled(term))]
    for _ in range(60):
        if bottom_text in seen[-1]:
            return seen
        before = term.lines()[2:-2]  # the view, not the header's ticking figures
        term.press("pgdn")
        term.wait_for(lambda t: t.lines()[2:-2] != before, timeout=5)
        seen.append(flowing(settled(term)))
    raise AssertionError(f"never reached {bottom_text!r}:\n{term.describe()}")


@pytest.mark.parametrize("cols, rows", [(80, 24), (120, 40)])
def test_every_help_description_is_readable_whole(fs, cols, rows):
    with monitor(fs, cols, rows) as term:
        connected(term)
        term.press("?")
        term.wait_for("celerytop keys")
        usage, text = cmdline.reference()[-1][1][-1]  # the last entry
        screens = read_to_the_end(term, " ".join(f"{usage} {text}".split()))
        texts = {text for _title, bindings in Keymap().grouped() for _keys, text in bindings}
        texts |= {text for _title, usages in cmdline.reference() for _usage, text in usages}
        for text in texts:
            assert any(" ".join(text.split()) in screen for screen in screens), text


def test_the_commands_view_wraps_long_lines(fs):
    ids = [str(uuidlib.uuid4()) for _ in range(3)]
    with monitor(fs, 80, 24) as term:
        connected(term)
        term.press(":")
        term.send(f"control revoke {' '.join(ids)} --timeout 0.5")
        term.press("enter")
        term.wait_for("control revoke → all workers?")
        term.press("y")
        term.wait_for("no worker replied")
        term.press("L")
        term.wait_for("Commands sent")
        text = flowing(term.lines())
        for task_id in ids:  # the arguments, three ids long, wrapped rather than cut
            assert task_id in text, term.describe()


def status_line(term):
    return term.lines()[-1]


def test_a_message_goes_once_the_filter_it_counts_is_gone(fs, events):
    with monitor(fs, 100, 24) as term:
        connected(term)
        for _ in range(3):
            events.task()
        term.wait_for("3 in memory")
        for _ in range(5):  # all, FAILURE, STARTED, RETRY, RECEIVED, SUCCESS
            term.press("f")
        term.wait_for(lambda t: "3 tasks match state:SUCCESS" in status_line(t))
        term.press("f")  # back to all
        term.wait_for(lambda t: "filter:" not in status_line(t) and " Tasks  3 in memory" in t.text())
        assert "match state:SUCCESS" not in term.text()


def test_a_result_message_goes_with_the_detail_view(fs, events):
    with monitor(fs, 100, 24) as term:
        connected(term)
        events.task()
        term.wait_for("1 in memory")
        term.press("r")
        term.wait_for(lambda t: "Result backend" in t.text() and "fetching" not in status_line(t))
        said = status_line(term).split("  ")[0].strip()
        assert said and said in status_line(term)  # the fetch said something
        term.press("esc")
        term.wait_for(" Tasks  1 in memory")
        assert said not in status_line(term), term.describe()


@pytest.mark.parametrize("cols", [100, 120])
def test_hostname_and_version_are_as_wide_as_what_they_show(fs, cols):
    source = EventSource(fs.app, hostname="alpha@vm")
    try:
        with monitor(fs, cols, 24) as term:
            connected(term)
            source.heartbeat(sw_ident="py-celery", sw_ver="5.7.0")
            term.wait_for("alpha@vm")
            row = next(line for line in term.lines() if "alpha@vm" in line)
            assert "py-celery 5.7.0" in row
            # HOSTNAME is its minimum 12 columns, not a share of the width
            assert row.index("online") - row.index("alpha@vm") == 13, row
    finally:
        source.close()


def test_a_long_dotted_name_keeps_its_end(fs, events):
    name = "myproject.services.billing.invoices.charge_card"
    with monitor(fs, 80, 24) as term:
        connected(term)
        events.task(name=name, args="('card-1',)")
        term.wait_for(lambda t: any("charge_card" in line and "SUCCESS" in line for line in t.lines()))
        row = next(line for line in term.lines() if "charge_card" in line)
        assert re.search(r" …[a-z_.]*charge_card +SUCCESS", row), row
        assert "myproject" not in row


def test_at_200_columns_name_and_worker_are_as_wide_as_their_text_and_args_get_the_rest(fs, events):
    args = "(" + ", ".join(f"'argument-{i:02d}'" for i in range(8)) + ")"  # 120 characters
    with monitor(fs, 200, 30) as term:
        connected(term)
        events.task(name="tests.add_numbers", args=args)
        term.wait_for(lambda t: any("tests.add_numbers" in line and "SUCCESS" in line for line in t.lines()))
        row = next(line for line in term.lines() if "tests.add_numbers" in line)
        assert re.search(r" tests\.add_numbers SUCCESS +w1@example \d", row), row
        assert args in row, row


def test_the_events_figure_stays_in_the_header_at_80_columns(fs, events):
    with monitor(fs, 80, 24) as term:
        connected(term)
        events.heartbeat()
        events.task(name="t.success")
        events.task(name="t.failure", final="task-failed", exception="ValueError('x')", traceback="tb")
        events.task(name="t.retry", final="task-retried", exception="Retry", traceback="tb")
        events.task(name="t.started", final=None)
        events.task(name="t.revoked", final="task-revoked", terminated=False)
        term.wait_for("t.revoked")
        line = term.lines()[1]
        assert "Workers 1/1 online" in line and "Tasks 5" in line
        assert re.search(r"Events \d+\.\d/s $", line), line
        # what gives way is the tail of the counts: never the failures, counted first and in red
        assert "FAILURE 1" in line, line
        assert cell_fg(term, line, "FAILURE 1") == "red"
