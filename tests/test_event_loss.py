"""Task events lost on the way, estimated from the workers' ``processed`` counts (celerytop/eventloss.py).

celery counts a task in ``processed`` when its pool accepts it, the moment the
worker sends its task-started event (celery.worker.state.task_accepted,
celery.worker.request.Request.on_accepted): the sequences below are what a
worker sends, with some of its task-started events taken out.
"""

import json
import random

from celerytop.events import capture
from celerytop.model.cluster import ClusterModel
from celerytop.modes import batch
from celerytop.present.header_text import header_lines
from tests.events import event, heartbeat


def beat(model, processed, at, hostname="w1@host", kind="worker-heartbeat", counted=True):
    e = heartbeat(hostname, timestamp=at, processed=processed)
    e["type"] = kind
    model.on_event(e, counted=counted)


def started(model, uuid, at, hostname="w1@host", counted=True):
    model.on_event(event("task-started", hostname, at, uuid=uuid), counted=counted)


def missed(model):
    return model.summary().missed_task_events


def test_started_events_missing_between_heartbeats_are_counted_once_the_next_heartbeat_confirms():
    model = ClusterModel()
    beat(model, 10, 100.0)  # the first heartbeat heard: where counting starts
    started(model, "a", 100.5)
    beat(model, 14, 102.0)  # 4 accepted, 1 task-started arrived
    assert missed(model) == 0, "3 short, but late events could still make it up"
    started(model, "b", 102.5)
    beat(model, 15, 104.0)  # 1 accepted, 1 arrived: the 3 are still missing
    assert missed(model) == 3
    beat(model, 15, 106.0)
    assert missed(model) == 3, "counted once"


def test_a_task_started_that_arrives_after_the_heartbeat_counting_it_is_not_a_loss():
    # the worker's event loop buffers task events; heartbeats go out at once
    model = ClusterModel()
    beat(model, 0, 100.0)
    beat(model, 2, 102.0)  # counts two tasks whose task-started events are still buffered
    started(model, "a", 101.0)
    started(model, "b", 101.5)
    beat(model, 2, 104.0)
    beat(model, 2, 106.0)
    assert missed(model) == 0


def test_a_task_started_later_than_one_heartbeat_takes_its_task_back_off_the_count():
    model = ClusterModel()
    beat(model, 0, 100.0)
    beat(model, 3, 102.0)
    beat(model, 3, 104.0)
    assert missed(model) == 3
    started(model, "a", 101.0)  # made before the heartbeat at 102, flushed only now
    beat(model, 3, 106.0)
    assert missed(model) == 2


def test_duplicate_and_overtaken_heartbeats_change_nothing():
    model = ClusterModel()
    beat(model, 5, 100.0)
    beat(model, 5, 100.0)  # the same heartbeat twice
    beat(model, 9, 104.0)
    beat(model, 7, 102.0)  # an older one arriving late: not a restart, not a gap
    beat(model, 9, 104.0)
    beat(model, 9, 106.0)
    assert missed(model) == 4
    beat(model, 3, 103.0)  # older still, and lower
    beat(model, 9, 108.0)
    assert missed(model) == 4


def test_a_restarted_worker_starts_counting_again():
    model = ClusterModel()
    beat(model, 500, 100.0)
    beat(model, 0, 110.0, kind="worker-online")  # a new process: its count begins at 0
    started(model, "a", 110.5)
    beat(model, 1, 112.0)
    beat(model, 1, 114.0)
    assert missed(model) == 0
    model = ClusterModel()
    beat(model, 500, 100.0)
    beat(model, 3, 130.0)  # lower than before, newer: restarted without our seeing worker-online
    beat(model, 3, 132.0)
    assert missed(model) == 0


def test_made_up_events_neither_start_the_count_nor_fill_it():
    # seeding and reconcile apply events uncounted: they are not what the stream delivered
    model = ClusterModel()
    beat(model, 50, 90.0, counted=False)
    beat(model, 0, 100.0)
    started(model, "seeded", 100.5, counted=False)
    beat(model, 1, 102.0)
    beat(model, 1, 104.0)
    assert missed(model) == 1


def test_each_worker_is_counted_on_its_own():
    model = ClusterModel()
    for host in ("a@h", "b@h"):
        beat(model, 0, 100.0, hostname=host)
    started(model, "x", 101.0, hostname="a@h")
    started(model, "y", 101.0, hostname="a@h")  # a's events: they do not cover b's
    for at in (102.0, 104.0):
        beat(model, 1, at, hostname="a@h")
        beat(model, 2, at, hostname="b@h")
    assert missed(model) == 2


def test_hostile_counts_and_times_are_ignored():
    model = ClusterModel()
    beat(model, 0, 100.0)
    for processed, at in ((True, 101.0), ("7", 101.5), (-5, 102.0), (3.0, 102.5), (10 ** 6, float("nan")),
                          (10 ** 6, float("inf")), (None, 103.0), ([1], 103.5)):
        beat(model, processed, at)
    beat(model, 0, 104.0)
    beat(model, 0, 106.0)
    assert missed(model) == 0
    assert model.summary().events_total == 11


def test_random_losses_are_counted_exactly_from_what_the_worker_sent():
    """A simulated worker: tasks accepted at random, task-started events delayed past the next
    heartbeat at random (buffered) or dropped at random, heartbeats sometimes sent twice."""
    for seed in range(40):
        rng = random.Random(seed)
        model = ClusterModel()
        processed, dropped, at, buffered = 0, 0, 100.0, []
        beat(model, processed, at)
        for _interval in range(rng.randint(1, 30)):
            for _ in range(rng.randint(0, 6)):
                processed += 1
                roll = rng.random()
                if roll < 0.2:
                    dropped += 1
                elif roll < 0.5:
                    buffered.append(f"t{processed}")  # made now, sent after the next heartbeat
                else:
                    started(model, f"t{processed}", at + 0.5)
            at += 2.0
            beat(model, processed, at)
            if rng.random() < 0.2:
                beat(model, processed, at)
            for uuid in buffered:
                started(model, uuid, at - 1.5)
            buffered = []
        at += 2.0
        beat(model, processed, at)
        assert missed(model) == dropped, f"seed {seed}"


def test_the_header_and_batch_json_say_how_many_were_missed():
    model = ClusterModel()
    for processed, at in ((0, 100.0), (1200, 102.0), (1200, 104.0)):
        beat(model, processed, at)
    status = capture.ConnectionStatus()
    status.connected()
    first_line = header_lines("proj", "redis://x", model.summary(), status.snapshot())[0]
    shown = [(style, text) for style, text in first_line if "missed" in text]
    assert shown == [("header.error", "  ~1,200 task events missed (:reconcile)")]
    doc = json.loads(batch.render_json(model, status.snapshot()))
    assert doc["counts"]["missed_task_events"] == 1200
    nothing = header_lines("proj", "redis://x", ClusterModel().summary(), status.snapshot())[0]
    assert not any("missed" in text for _style, text in nothing)
