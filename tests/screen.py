"""Helpers for screen tests: celerytop in a pty on a filesystem broker, and
events published exactly as workers publish them (celery's Dispatcher)."""

import os
import sys
import time
import uuid as uuidlib

from tests.terminal import Terminal, normalise_colour

BIN = os.path.join(os.path.dirname(sys.executable), "celerytop")


class EventSource:
    """Publishes worker and task events exactly as workers do."""

    def __init__(self, app, hostname="w1@example", pace=True):
        self.app = app
        self.pace = pace
        self.hostname = hostname
        self.conn = app.connection_for_write()
        self.dispatcher = app.events.Dispatcher(self.conn, hostname=hostname, enabled=True)

    def send(self, type_, **fields):
        self.dispatcher.send(type_, **fields)
        if self.pace:
            # The filesystem transport orders messages by millisecond, then at
            # random: keep one event per millisecond, as a real task's are.
            time.sleep(0.002)

    def heartbeat(self, **fields):
        fields.setdefault("freq", 2.0)
        fields.setdefault("active", 1)
        fields.setdefault("processed", 42)
        fields.setdefault("loadavg", [0.5, 0.25, 0.1])
        fields.setdefault("sw_ident", "py-celery")
        fields.setdefault("sw_ver", "5.7.0")
        self.send("worker-heartbeat", **fields)

    def task(self, name="tests.add", final="task-succeeded", args="(1, 2)", kwargs="{}", **final_fields):
        uuid = str(uuidlib.uuid4())
        self.send("task-received", uuid=uuid, name=name, args=args, kwargs=kwargs, retries=0)
        self.send("task-started", uuid=uuid)
        if final:
            self.send(final, uuid=uuid, **final_fields)
        return uuid

    def close(self):
        self.dispatcher.close()
        self.conn.release()


def monitor(broker, cols=100, rows=30, *args):
    return Terminal([BIN, "-A", "tests.liveapp", "--refresh", "0.2", *args], cols=cols, rows=rows,
                    env=broker.env, cwd=str(broker.env["PYTHONPATH"].split(os.pathsep)[0]))


def connected(term):
    term.wait_for("● connected")


def cell_fg(term, row_text, cell_text):
    """Foreground colour of ``cell_text`` in the screen row that contains ``row_text``."""
    for y, line in enumerate(term.lines()):
        if row_text in line and cell_text in line:
            x = line.index(cell_text)
            return normalise_colour(term.screen.buffer[y][x].fg, bright=False)
    raise AssertionError(f"no row with {row_text!r} and {cell_text!r}:\n{term.text()}")
