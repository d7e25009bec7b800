"""Write man/celerytop.1 from the code: OPTIONS from the click command, KEYS
from the keymap, so the man page cannot drift from what the program does.

    python -m celerytop.manpage > man/celerytop.1
"""

from __future__ import annotations

import sys

import click

from celerytop import __version__
from celerytop.cli import command
from celerytop.control import cmdline
from celerytop.ui.keys.keymap import Keymap

DESCRIPTION = r"""
.B celerytop
is a top\-like terminal monitor and control console for Celery clusters.
It listens to the cluster's event stream (the same events
.B celery events
and Flower use), keeps the picture in celery's
.I State
and shows it live: a header with the connection and the cluster in numbers,
a workers pane and a tasks pane.
.PP
It loads the Celery app exactly as
.B celery \-A
does, or talks to a broker given by URL alone.
It is also installed as a
.B celery
subcommand:
.B celery \-A proj top
takes the same options.
.PP
At start it broadcasts
.B enable_events
to the workers (unless
.B \-\-no\-enable\-events
is given), asks them for a heartbeat, and seeds the screen from remote
control (ping, inspect stats, inspect active and reserved) so that tasks
already running show before their next event.
If the broker is down it says so in the header; while nothing listens on
the broker's port it checks every second and reconnects within about a second
of the broker's return, however long the outage; a broker that answers but
refuses (a wrong password) is retried with backoff (1, 2, 4, 8, 16, then
every 30 seconds), which starts again after each connection. What is shown
survives the outage; commands are refused at once while the broker is down.
""".strip()

SCREEN = r"""
.TP
.B Header
App name, broker URL (password masked), connection state
(connected; disconnected, retry in N s or waiting for the broker, with the error; connecting),
workers online/known, task counts by state, events per second, and
notices: events ignored as unknown or malformed, workers that answer pings and run tasks
but send no task events.
.TP
.B Workers pane
Hostname, online/offline (offline once heartbeats stop: two heartbeat
intervals without one), active tasks, tasks processed, load average, age of
the last heartbeat, software version.
.TP
.B Tasks pane
Newest first: short uuid, name, state in colour (SUCCESS green, FAILURE
red, RETRY yellow, STARTED cyan, REVOKED magenta, RECEIVED blue), worker,
received time, runtime (still counting for STARTED tasks), args and kwargs.
It scrolls through every task in memory and follows new tasks while the
cursor is on the first row.
.TP
.B Status line
Key hints for the focused pane, messages, and the cursor position.
""".strip()

COMMANDS_INTRO = r"""
.B :
opens a command prompt (as in k9s and vim) for everything the Celery
management guide does from the shell.
.BR inspect ", " control " and " status
take
.B \-d/\-\-destination
(workers, comma\-separated) and
.B \-\-timeout
seconds as
.B celery inspect
does;
.B purge
takes
.B \-Q
and
.B \-X
as
.B celery purge
does.
Commands that change the cluster go through the same read\-only guard,
confirmation and audit log as the control keys.
Task ids may be typed as the screen shows them: any prefix of at least 4
characters that only one task in memory starts with is used as that task's
full id, and the status line says which; an ambiguous, too short or unknown
prefix is refused and nothing is sent (a full uuid is used as typed).
Tab completes command, worker, queue and task names and task ids; Up and Down recall
earlier commands, kept across runs in
.IR $XDG_STATE_HOME/celerytop/prompt_history .
Inspect replies open as views grouped by worker, naming the workers that did
not answer; tasks in them open with Enter.
.PP
The queues view
.RB ( u " or " :queues )
shows every queue workers consume or the app configures, with its depth
(Redis: LLEN over the priority sub\-queues, honouring
.IR global_keyprefix ;
RabbitMQ: a passive queue_declare; the filesystem transport: the files
waiting), consumers, a sparkline and a trend, sampled every 3 seconds.
.B p
purges the queue under the cursor after a confirmation that names it and
counts its messages.
""".strip()

FILES_AND_ENV = r"""
.SH ENVIRONMENT
.TP
.B CELERY_BROKER_URL
Broker URL when
.B \-b
is not given.
.TP
.B NO_COLOR
When set, colours are off (as with
.BR "\-\-colors mono" ).
.TP
.B TERM
Decides the colour mode when
.B \-\-colors
is auto.
.TP
.B XDG_STATE_HOME
Where an internal error's traceback is written
.RI ( celerytop/crash\-*.log ;
default
.IR ~/.local/state ).
.SH EXIT STATUS
.TP
.B 0
Quit with q.
.TP
.B 1
Internal error; one line on standard error, the traceback in a file.
.TP
.B 2
Bad usage: unknown option, bad value, an app that does not load, a malformed broker URL,
a broker transport whose packages are not installed (the line says what to pip install).
.TP
.B 4
Not all was kept: \-\-record stopped (a full disk) or the last \-\-db save failed;
the reason on standard error.
.TP
.B 130
Interrupted with Ctrl\-C.
.TP
.B 129, 143
Hung up, or terminated with SIGTERM; the terminal is restored first.
.SH EXAMPLES
.TP
.B celerytop \-\-demo
Watch an embedded demo cluster: no broker or app needed.
.TP
.B celerytop \-A proj
Monitor the cluster of the Celery app in module
.IR proj .
.TP
.B celerytop \-b redis://localhost:6379/0
Monitor by broker URL alone.
.TP
.B celery \-A proj top \-\-refresh 0.5
The same, as a celery subcommand.
.TP
.B celerytop \-A proj \-\-batch \-\-format json | jq .counts.states
One snapshot as JSON, for a script or a health check.
.TP
.B celerytop \-A proj \-\-dump \-\-format json
Every event as one JSON line, as received.
.TP
.B celerytop \-A proj \-\-camera myapp.DumpCam \-\-frequency 2
A celery Polaroid camera, as with celery events \-c.
.TP
.B celerytop \-A proj \-\-record incident.jsonl.gz
Watch, and keep every event for later.
.TP
.B celerytop \-\-replay incident.jsonl.gz \-\-speed 10
Replay it on the screen ten times faster (z pauses, . steps, [ and ] change the speed).
.TP
.B celerytop \-\-replay incident.jsonl.gz \-\-batch \-\-speed 0
The final picture of the recording, printed.
.TP
.B celerytop \-A proj \-\-db proj.db
Keep tasks and workers across restarts.
.SH SEE ALSO
.BR celery (1),
.B celery events
""".strip()


def roff(text: str) -> str:
    """Escape text for roff: backslashes, hyphens, and leading dots or quotes."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def option_lines() -> list:
    ctx = click.Context(command, **command.context_settings)
    lines = []
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option):
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        lines += [".TP", f".B {roff(names)}", roff(help_text)]
    return lines


def section_lines(sections) -> list:
    """[(title, [(term, help)])] as .SS sections of .TP entries: the keymap's and the prompt's."""
    lines = []
    for title, rows in sections:
        lines += [".SS " + roff(title)]
        for term, help_text in rows:
            lines += [".TP", f".B {roff(term)}", roff(help_text)]
    return lines


def render(keymap: Keymap | None = None) -> str:
    keymap = keymap or Keymap()
    lines = [
        f'.TH CELERYTOP 1 "" "celerytop {__version__}" "User Commands"',
        ".SH NAME",
        "celerytop \\- top\\-like monitor and control console for Celery clusters",
        ".SH SYNOPSIS",
        ".B celerytop",
        "[\\fB\\-A\\fR \\fIAPP\\fR | \\fB\\-b\\fR \\fIURL\\fR | \\fB\\-\\-demo\\fR] [\\fIOPTIONS\\fR]",
        ".br",
        ".B celery",
        "\\fB\\-A\\fR \\fIAPP\\fR \\fBtop\\fR [\\fIOPTIONS\\fR]",
        ".br",
        ".B python \\-m celerytop",
        "[\\fIOPTIONS\\fR]",
        ".SH DESCRIPTION",
        DESCRIPTION,
        ".SH SCREEN",
        SCREEN,
        ".SH OPTIONS",
        *option_lines(),
        ".SH KEYS",
        "Every key, generated from the keymap that also drives the help overlay (? or F1).",
        *section_lines(keymap.grouped()),
        ".SH COMMANDS",
        COMMANDS_INTRO,
        *section_lines(cmdline.reference()),
        FILES_AND_ENV,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
