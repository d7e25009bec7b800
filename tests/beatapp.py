"""Apps with a beat_schedule, for the periodic tasks tests: ``-A tests.beatapp`` (replays) and ``tests.beatapp:live``.

``app``: a schedule with known answers against tests/test_screen_beat.py's
recording (an interval entry that stops running, one sharing its task with
other args, and a crontab entry running on time).  ``live``: the live tests'
app (tests/liveapp.py, from the same environment variables) plus a
one-second entry, for a real ``celery beat``.
"""

import os

from celery import Celery
from celery.schedules import crontab

from tests.liveapp import app_from_env

SCHEDULE = {
    "tick": {"task": "proj.tick", "schedule": 10.0, "args": (1,)},
    "tick-other": {"task": "proj.tick", "schedule": 10.0, "args": (2,)},
    "report": {"task": "proj.report", "schedule": crontab(minute="*/5")},
}

app = Celery("tests.beatapp", broker="redis://127.0.0.1:6379/0", set_as_current=False)
app.conf.update(beat_schedule=SCHEDULE, timezone="UTC")

#: The live entry: tests.add(2, 3) every second.
LIVE_SCHEDULE = {"every-second": {"task": "tests.add", "schedule": 1.0, "args": (2, 3)}}


def __getattr__(name):
    # Built on first use from the live tests' environment, as tests.liveapp's ``app``.
    if name == "live":
        global live
        live = app_from_env()
        live.conf.beat_schedule = LIVE_SCHEDULE
        if os.environ.get("CELERYTOP_TEST_BEAT_DB"):
            live.conf.beat_schedule_filename = os.environ["CELERYTOP_TEST_BEAT_DB"]
        return live
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
