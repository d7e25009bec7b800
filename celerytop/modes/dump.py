"""``--dump``: one line per event as it arrives, live or from a recording.

Text is celery's own ``celery events --dump`` format (its Dumper does the
formatting), made safe: a worker's escape sequences are shown as text and a
broken event is reported in a line instead of ending the dump.  JSON is one
event per line exactly as received, for ``jq``.
"""

from __future__ import annotations

import json

from celery.events.dumper import Dumper

from celerytop.events.recording.writer import jsonable
from celerytop.events.streams.routing import ALL_EVENTS
from celerytop.modes.sources import feed_until_done, recorded
from celerytop.present import formatting


class SafeDumper(Dumper):
    """celery's Dumper; every line sanitised, malformed events described, not raised."""

    def say(self, msg):
        super().say(formatting.sanitize(msg, limit=None))

    def on_event(self, ev):
        try:
            super().on_event(dict(ev))  # celery's pops fields: leave the caller's event whole
        except Exception as exc:  # noqa: BLE001 - one broken event must not end the dump
            shown = formatting.sanitize(repr(ev), limit=500)
            self.say(f"-> malformed event ({type(exc).__name__}: {exc}): {shown}")


class JsonDumper:
    """One JSON object per line, the event as received; ``ensure_ascii`` escapes every control character."""

    def __init__(self, out):
        self.out = out

    def on_event(self, event) -> None:
        try:
            line = json.dumps(event, default=repr, ensure_ascii=True)
        except (ValueError, TypeError, RecursionError):  # runaway nesting, keys JSON cannot hold
            line = json.dumps(jsonable(event), ensure_ascii=True)
        self.out.write(line + "\n")
        self.out.flush()


def dumper(fmt: str, out):
    return JsonDumper(out) if fmt == "json" else SafeDumper(out=out)


def run_dump(app, dumper, *, recorder=None, replay: str | None = None, speed: float = 1.0,
             routing_keys=ALL_EVENTS) -> None:
    """Every event, one line each, until Ctrl-C (live) or the recording's end."""
    feed_until_done(app, recorded(dumper.on_event, recorder), replay, speed, routing_keys)
