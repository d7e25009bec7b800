"""Rates over time from real workers on each broker: the per-type, per-worker and per-group histories in batch JSON."""

import json

from tests.test_live_modes import Producer, run


def test_real_work_fills_each_history(broker, workers):
    worker = workers("w1", concurrency=2)
    producer = Producer(broker.app)
    producer.start()
    try:  # 8 s: several heartbeats (every 2 s) while tasks run, so processed rises between two of them
        result = run(broker, "--batch", "--format", "json", "--delay", "8", "--iterations", "1")
    finally:
        producer.stop()
    assert result.returncode == 0, result.stderr
    snapshot = json.loads(result.stdout.decode().splitlines()[-1])
    types = {row["name"]: row for row in snapshot["types"]}
    add, fail = types["tests.add"], types["tests.fail"]
    # every task this session saw finish is in its type's history (all within the 5 minutes shown)
    assert add["succeeded"] > 0 and sum(add["history"]["finished"]) == add["succeeded"] + add["failed"]
    assert fail["failed"] > 0 and sum(fail["history"]["finished"]) == fail["succeeded"] + fail["failed"]
    [row] = [w for w in snapshot["workers"] if w["hostname"] == worker.hostname]
    history = row["history"]
    assert history["bucket_seconds"] == 10 and sum(history["processed"]) > 0
    assert any(load is not None and load >= 0 for load in history["load"])
    [group] = [g for g in snapshot["failure_groups"] if g["name"] == "tests.fail"]
    assert sum(group["history"]["failed"]) == group["count"] > 0
