"""The model's aggregates as JSON-ready dicts and back, for ``--db``: histories, type stats, failure groups.

:func:`export_aggregates` runs under the model's lock inside
snapshot.export_records: it only copies (arrays and small records, a few
about 10 ms with 1,000 types) and returns a function that builds the dicts
from the copies, which the camera calls after the lock is released;
:func:`restore_aggregates` runs under it inside
snapshot.restore_records, before the first event.  Every bucket is saved by
its number, so its time is kept: a restart two minutes later shows the saved
buckets two minutes further left.  It reads the public-ish fields of
ratehistory.py, typestats.py, sketch.py and failgroups.py without changing
them.  A saved part that is malformed is skipped, field by field where it can
be: a history file never stops the monitor.
"""

from __future__ import annotations

import math
from array import array

from celerytop.model import failhistory, ratehistory, typehistory, typestats
from celerytop.model.failgroups import MAX_WORKERS
from celerytop.model.failgroups import OTHER as OTHER_GROUP
from celerytop.model.failgroups import FailureGroup, group_id
from celerytop.model.sketch import Sketch

#: The parts, each one row of the aggregates table.
PARTS = ("rate_history", "type_stats", "histories", "failure_groups")
_GROUP_FIELDS = ("count", "first_seen", "last_seen", "more_workers", "example_task_id", "example_exception",
                 "example_traceback")


def export_aggregates(model):
    """A function returning {part: JSON-ready dict}; the caller holds the model's lock, the function does not."""
    histories, rate = model.histories, model.rate_history
    rate_copy = (rate.newest, rate._stamps[:], rate._succeeded[:], rate._failed[:])
    types = _type_stats_copy(model.type_stats)
    type_rings = typehistory.copy(model.type_stats)
    worker_rings, group_rings = histories.workers.copy(), failhistory.copy(model._failures)
    groups = _failure_groups(model._failures)

    def build() -> dict:
        return {
            "rate_history": _rate_history(*rate_copy),
            "type_stats": _type_stats(*types),
            "histories": {
                "types": typehistory.to_dicts(type_rings),
                "workers": {host: {"processed": processed.to_dict(), "load": load.to_dict(), "last_processed": last}
                            for host, (processed, load, last) in worker_rings.items()},
                "failures": {group_id: ring.to_dict() for group_id, ring in group_rings.items()}},
            "failure_groups": groups,
        }

    return build


def restore_aggregates(model, saved) -> None:
    """Put saved parts back into ``model`` (the caller holds its lock), added to what it already counted."""
    if not isinstance(saved, dict):
        return
    _restore_rate_history(model.rate_history, saved.get("rate_history"))
    _restore_type_stats(model.type_stats, saved.get("type_stats"))
    _restore_failure_groups(model._failures, saved.get("failure_groups"))
    histories = _mapping(saved.get("histories"))
    typehistory.restore(model.type_stats, histories.get("types"))
    model.histories.workers.restore(histories.get("workers"))
    failhistory.restore(model._failures, histories.get("failures"))  # after the groups


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _count(value) -> int:
    return value if type(value) is int and value >= 0 else 0


def _time(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else None


# -- rate history ----------------------------------------------------------------------------------------------
def _rate_history(newest, stamps, succeeded, failed) -> dict:
    held = []
    for slot, bucket in enumerate(stamps):
        if bucket > newest - ratehistory.BUCKETS and (succeeded[slot] or failed[slot]):
            held.append([bucket, succeeded[slot], failed[slot]])
    held.sort()
    return {"bucket_seconds": ratehistory.BUCKET_SECONDS, "buckets": held}


def _restore_rate_history(history, saved) -> None:
    saved = _mapping(saved)
    if saved.get("bucket_seconds") != ratehistory.BUCKET_SECONDS or not isinstance(saved.get("buckets"), list):
        return
    for entry in sorted(e for e in saved["buckets"] if isinstance(e, list) and len(e) == 3
                        and all(type(v) is int for v in e)):
        bucket, succeeded, failed = entry
        if bucket > history.newest:
            history.newest = bucket
        elif bucket <= history.newest - ratehistory.BUCKETS:
            continue
        slot = bucket % ratehistory.BUCKETS
        if history._stamps[slot] != bucket:
            history._stamps[slot] = bucket
            history._succeeded[slot] = history._failed[slot] = 0
        history._succeeded[slot] += _count(succeeded)
        history._failed[slot] += _count(failed)


# -- type stats --------------------------------------------------------------------------------------------------
def sketch_copy(sketch: Sketch) -> tuple:
    """What :func:`sketch_to_dict` saves, copied (the counters: one array copy)."""
    return (sketch.alpha, sketch.max_bins, sketch.count, sketch.zeros, sketch.min, sketch.max, sketch._offset,
            sketch._bins[:], sketch.collapsed)


def sketch_to_dict(sketch) -> dict:
    """A Sketch (or its :func:`sketch_copy`) as a JSON-ready dict."""
    alpha, max_bins, count, zeros, low, high, offset, bins, collapsed = \
        sketch if isinstance(sketch, tuple) else sketch_copy(sketch)
    return {"alpha": alpha, "max_bins": max_bins, "count": count, "zeros": zeros,
            "min": low if count else None, "max": high if count else None,
            "offset": offset, "bins": bins.tolist(), "collapsed": collapsed}


def sketch_from_dict(saved) -> Sketch | None:
    """The sketch saved, or None when it is not a consistent one (counts that do not add up, odd types)."""
    saved = _mapping(saved)
    try:
        sketch = Sketch(float(saved["alpha"]), int(saved["max_bins"]))
        bins = saved["bins"]
        if not (isinstance(bins, list) and len(bins) <= sketch.max_bins and all(_count(n) == n for n in bins)):
            return None
        count, zeros, offset = saved["count"], saved["zeros"], saved["offset"]
        if _count(count) != count or _count(zeros) != zeros or type(offset) is not int \
                or sum(bins) + zeros != count:
            return None
        if count:
            low, high = _time(saved["min"]), _time(saved["max"])
            if low is None or high is None:
                return None
            sketch.min, sketch.max = low, high
        sketch.count, sketch.zeros, sketch._offset = count, zeros, offset
        sketch._bins = array("I", bins)
        sketch.collapsed = bool(saved.get("collapsed"))
    except (KeyError, TypeError, ValueError, OverflowError, ZeroDivisionError):
        return None
    return sketch


def _type_stats_copy(stats) -> tuple:
    """What :func:`_type_stats` saves, copied under the lock: (window, folded names, {name: (column, counters, last
    failure, runtime copy, wait copy)}, copies of the window's finished and failed rows, the first bucket kept)."""
    stats.fold()
    types = {}
    for name, column in stats.ids.items():
        stats.flush(column)  # the runtimes and waits still waiting to go into the sketches
        types[name] = (column, tuple(getattr(stats, counter)[column] for counter in typestats.COUNTERS),
                       stats.last_failure[column], sketch_copy(stats.runtime[column]), sketch_copy(stats.wait[column]))
    newest = stats.finished.bucket
    first = None if newest is None else newest - typestats.BUCKETS  # the window's, where it shares the history's
    return stats.window, stats.folded_names, types, stats.finished.copy(), stats.failures.copy(), first


def _type_stats(window, folded_names, types, finished, failures, first) -> dict:
    """``recent``: each type's window buckets, [[bucket, finished, failed], ...], oldest first."""
    finished, failures = finished.held(first), failures.held()
    out = {}
    for name, (column, counters, last_failure, runtime, wait) in types.items():
        failed = dict(failures.get(column, ()))
        record = dict(zip(typestats.COUNTERS, counters))
        record.update(last_failure=last_failure, runtime=sketch_to_dict(runtime), wait=sketch_to_dict(wait),
                      recent=[[bucket, count, failed.get(bucket, 0)] for bucket, count in finished.get(column, ())])
        out[name] = record
    return {"window": window, "folded_names": folded_names, "types": out}


def _restore_type_stats(stats, saved) -> None:
    saved = _mapping(saved)
    stats.fold()
    same_window = saved.get("window") == stats.window  # the recent buckets' width follows the window
    for name, record in _mapping(saved.get("types")).items():
        if type(name) is not str or not isinstance(record, dict):
            continue
        column = stats.column(name)
        for field in typestats.COUNTERS:
            getattr(stats, field)[column] += _count(record.get(field))
        last, kept = _time(record.get("last_failure")), stats.last_failure[column]
        if last is not None and (kept is None or last > kept):
            stats.last_failure[column] = last
        for field in ("runtime", "wait"):
            sketch = sketch_from_dict(record.get(field))
            if sketch is not None and sketch.gamma == getattr(stats, field)[column].gamma:
                getattr(stats, field)[column].merge(sketch)
        if same_window and isinstance(record.get("recent"), list):
            for bucket, finished, failed in sorted(  # bucket numbers: floats in files saved before 2026-12-02
                    (int(b[0]), b[1], b[2]) for b in record["recent"] if isinstance(b, list) and len(b) == 3
                    and _time(b[0]) is not None and b[0] % 1 == 0 and _count(b[1]) == b[1] and _count(b[2]) == b[2]):
                if stats.finished is not stats.history:  # else the history's restore brings them back
                    stats.finished.add_bucket(bucket, column, finished)
                stats.failures.add_bucket(bucket, column, failed)
    stats.folded_names += _count(saved.get("folded_names"))


# -- failure groups ----------------------------------------------------------------------------------------------
def _group_dict(group: FailureGroup) -> dict:
    record = {field: getattr(group, field) for field in _GROUP_FIELDS}
    record.update(key=[group.name, group.exception, group.message], workers=list(group.workers))
    return record


def _failure_groups(failures) -> dict:
    return {"total": failures.total, "groups": [_group_dict(g) for g in failures.groups.values()],
            "other": _group_dict(failures.other) if failures.other is not None else None}


def _restore_group(group: FailureGroup, record: dict) -> None:
    group.count += _count(record.get("count"))
    for field, newer in (("first_seen", False), ("last_seen", True)):
        saved, kept = _time(record.get(field)), getattr(group, field)
        if saved is not None and (kept is None or (saved > kept if newer else saved < kept)):
            setattr(group, field, saved)
            if newer:  # the example is the latest failure's
                for example in ("example_task_id", "example_exception", "example_traceback"):
                    if isinstance(record.get(example), str):
                        setattr(group, example, record[example])
    for hostname in record.get("workers") if isinstance(record.get("workers"), list) else ():
        if isinstance(hostname, str) and hostname not in group.workers:
            if len(group.workers) < MAX_WORKERS:
                group.workers.append(hostname)
            else:
                group.more_workers = True
    group.more_workers = group.more_workers or record.get("more_workers") is True


def _restore_failure_groups(failures, saved) -> None:
    saved = _mapping(saved)
    restored = dropped = 0
    for record in saved.get("groups") if isinstance(saved.get("groups"), list) else ():
        key = record.get("key") if isinstance(record, dict) else None
        if not (isinstance(key, list) and len(key) == 3 and all(isinstance(k, str) for k in key)):
            continue
        key = tuple(key)
        group = failures.groups.get(key)
        if group is None:
            if len(failures.groups) >= failures.max_groups:
                dropped += _count(record.get("count"))  # no room: counted in (other) below
                continue
            group = failures.groups[key] = FailureGroup(key, group_id(key))
        _restore_group(group, record)
        restored += _count(record.get("count"))
    other = saved.get("other")
    if isinstance(other, dict) or dropped:
        if failures.other is None:
            failures.other = FailureGroup((OTHER_GROUP, "", f"more than {failures.max_groups} groups: the rest "
                                                           "are counted here"), "other")
        if isinstance(other, dict):
            _restore_group(failures.other, other)
            restored += _count(other.get("count"))
        failures.other.count += dropped
    failures.total += restored + dropped
