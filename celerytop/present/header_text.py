"""The header's text: who we watch, whether we are connected, and the cluster in numbers,
as (style, text) markup that the screen draws and --batch prints."""

from __future__ import annotations

import time

from celerytop.events import capture
from celerytop.model.ratehistory import per_second
from celerytop.present import formatting
from celerytop.present.sparkline import sparkline

#: Order in which task states are counted in the header: failures first, as a narrow
#: terminal clips the end of the line, then the lifecycle.
STATE_ORDER = ("FAILURE", "PENDING", "RECEIVED", "STARTED", "RETRY", "SUCCESS", "REVOKED", "REJECTED")


#: Shown as behind from this lag (seconds) or these broker backlogs on.
LAG_SHOWN = 2.0
MESSAGES_QUEUED_SHOWN = 5000
BYTES_QUEUED_SHOWN = 4 * 1024 * 1024


class Alarm(str):
    """A header notice drawn in red: something the user asked for is failing (data is being lost)."""


def connection_markup(status) -> list:
    if status.state == capture.CONNECTED:
        return [("header.ok", "● connected")] + behind_markup(status) + lost_markup(status)
    if status.state == capture.RETRYING:
        retry = f", retry in {status.retry_in:.0f} s" if status.retry_in is not None else ""
        if status.awaiting_broker:  # it does not listen: reconnecting within a second of it doing so
            retry = ", waiting for the broker"
        return ([("header.error", f"✖ disconnected{retry}"), ("header.dim", f"  {status.error}")]
                + lost_markup(status))
    if status.state == capture.REPLAYING:
        return [("header.ok", "▶ replaying")]
    if status.state == capture.STOPPED:
        return [("header.warn", "■ stopped")]
    return [("header.warn", "… connecting")]


def behind_markup(status) -> list:
    """How far the picture trails the cluster, once that is worth a look."""
    queued = []
    if status.messages_queued:
        queued.append(f"{status.messages_queued:,} queued")
    if status.bytes_queued:
        queued.append(f"{status.bytes_queued / 1048576:.1f} MB queued")
    behind = (status.lag >= LAG_SHOWN or (status.messages_queued or 0) >= MESSAGES_QUEUED_SHOWN
              or (status.bytes_queued or 0) >= BYTES_QUEUED_SHOWN)
    if not behind:
        return []
    parts = [f"behind {status.lag:.1f} s"] + queued
    return [("header.warn", "  ⚠ " + ", ".join(parts))]


def lost_markup(status) -> list:
    """The stream broke while connected: events sent meanwhile never reached us."""
    if not status.drops:
        return []
    times = "once" if status.drops == 1 else f"{status.drops} times"
    when = time.strftime("%H:%M:%S", time.localtime(status.last_drop)) if status.last_drop else "?"
    return [("header.error", f"  events lost: stream broke {times}, last at {when}")]


def missed_markup(summary) -> list:
    """Task events the workers' processed counts say were sent but never arrived (celerytop/model/eventloss.py)."""
    missed = summary.missed_task_events
    if not missed:
        return []
    return [("header.error", f"  ~{missed:,} task events missed (:reconcile)")]


def counts_markup(summary) -> list:
    parts = [("header", f"Tasks {summary.task_count}")]
    counts = dict(summary.state_counts)
    ordered = [s for s in STATE_ORDER if s in counts] + sorted(s for s in counts if s not in STATE_ORDER)
    for state in ordered:
        style = "header.error" if state == "FAILURE" else "header"
        parts.append(("header.dim", "  "))
        parts.append((style, f"{formatting.sanitize(state)} {counts[state]}"))
    return parts


def header_lines(app_name: str, broker: str, summary, status, notices=(), mode: str = "") -> list:
    """The header's lines as markup: [(style, text), ...] each (batch mode prints them as text).

    ``broker`` is the broker URL (its password is masked here) or a replay's 'file NAME'.
    """
    first = [
        ("header.ok", " celerytop "),
        ("header.dim", " app "),
        ("header", formatting.sanitize(app_name)),
        ("header.dim", "  broker "),
        ("header", broker_label(broker)),
        ("header.dim", "  "),
    ]
    first += connection_markup(status) + missed_markup(summary)
    if mode:
        first += [("header.dim", "  "), ("header.warn", mode)]
    second = cluster_markup(summary) + [("header.dim", "   ")] + events_markup(summary)
    notice_lines = [[("header.error" if isinstance(n, Alarm) else "header.warn", " " + formatting.sanitize(n))]
                    for n in notices]
    return [first, second] + notice_lines


def broker_label(broker: str) -> str:
    """The broker as the header names it: the URL with its password masked, every escape shown as text."""
    return formatting.mask_url(broker)


def mode_text(*, replay: str = "", read_only: bool = False, scope: str = "") -> str:
    """The header's note of what the picture is: replayed, READ-ONLY, narrowed to a --only-events scope."""
    return " ".join(part for part in (replay, "READ-ONLY" if read_only else "", scope) if part)


def replay_text(player) -> str:
    """'REPLAY 14:03:07 ×2 paused  (z pause, . step, [ ] speed)': where a replay on screen stands."""
    clock = formatting.format_clock(player.clock) if player.clock is not None else "--:--:--"
    speed = "max" if player.speed == 0 else f"×{player.speed:g}"
    state = speed + (" ended" if player.finished else " paused" if player.paused else "")
    return f"REPLAY {clock} {state}  (z pause, . step, [ ] speed)"


def ignored_events_note(summary) -> str:
    """'Ignored events: 17 malformed, 2 of unknown type (...)'; '' when none were.

    The malformed count first: the unknown types are names a sender chose,
    and long ones must not push the count off the line.
    """
    parts = []
    if summary.malformed_events:
        parts.append(f"{summary.malformed_events} malformed")
    if summary.unknown_events:
        kinds = ", ".join(formatting.sanitize(t, limit=40) for t in summary.unknown_types[:3])
        parts.append(f"{summary.unknown_events} of unknown type ({kinds})")
    return "Ignored events: " + ", ".join(parts) if parts else ""


def cluster_markup(summary) -> list:
    lost = summary.lost_tasks
    return [
        ("header", f" Workers {summary.workers_online}/{summary.workers_total} online"),
        *([("header.dim", "  "), ("header.error", f"lost {lost}")] if lost else []),
        ("header.dim", "   "),
    ] + counts_markup(summary)


def events_markup(summary) -> list:
    return [("header", f"Events {formatting.format_rate(summary.events_per_second)}")]


#: The header's own glyphs, as plain ASCII (``--ascii``, or a locale that is not UTF-8).
ASCII_GLYPHS = str.maketrans({"●": "*", "✖": "x", "■": "#", "…": "...", "⚠": "!", "▶": ">", "×": "x"})


def ascii_markup(markup: list) -> list:
    """``markup`` with every character outside ASCII replaced: the glyphs by their ASCII look-alikes, the rest by '?'."""
    return [(style, text if text.isascii() else text.translate(ASCII_GLYPHS).encode("ascii", "replace").decode())
            for style, text in markup]


def rates_markup(summary, ascii: bool = False, buckets: int = 20) -> list:
    """' ok ▁▂▅▇█▆ 3.2/s  fail ▁▁▃▁ 0.1/s': tasks succeeded and failed per 10 s bucket, newest right.

    ``summary.rate_history`` is (succeeded, failed), oldest first; the last ``buckets`` are drawn,
    each series scaled to its own maximum, with the rate of its newest full bucket
    (one character is BUCKET_SECONDS seconds).
    """
    succeeded, failed = summary.rate_history or ((), ())
    succeeded, failed = list(succeeded)[-buckets:], list(failed)[-buckets:]
    return [
        ("header.dim", " ok "), ("header.ok", sparkline(succeeded, ascii)),
        ("header", " " + formatting.format_rate(per_second(succeeded))),
        ("header.dim", "  fail "), ("header.error", sparkline(failed, ascii)),
        ("header", " " + formatting.format_rate(per_second(failed))),
    ]
