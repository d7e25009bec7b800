"""Command line: options, loading the app or broker, exit codes, one-line errors.

Two front doors share every option: the ``celerytop`` console script and
``celery -A proj top`` (a ``celery.commands`` plugin that receives the app
celery already loaded).  Errors a user can cause (a wrong ``-A``, a bad
broker URL, an unknown option) print one line to stderr and exit 2;
nothing the user types produces a traceback.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import os
import signal
import sys
import time
import traceback

import click

from celerytop import __version__
from celerytop.model.beat import BROKER_ONLY
from celerytop.options import Options, UsageError
from celerytop.paths import open_private, state_dir
from celerytop.present.errors import one_line_error
from celerytop.present.formatting import mask_secrets, sanitize
from celerytop.transports import BrokerUrlError, check_broker_url, missing_module_hint

try:
    from celerytop import launch
except ModuleNotFoundError as exc:  # kombu or celery without one of their own requirements (amqp)
    if (exc.name or "celerytop").startswith("celerytop"):
        raise  # our own bug: a traceback is the honest report
    BROKEN_INSTALL = exc
else:
    BROKEN_INSTALL = None

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A mistake in what the user asked for: reported in one line, exit 2."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP: leave as cleanly as after 'q'."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


# -- options shared by both front doors -------------------------------------
def _positive_float(ctx, param, value):
    if value is not None and value <= 0:
        raise click.BadParameter("must be greater than 0")
    return value


MONITOR_OPTIONS = (
    click.option("--refresh", type=float, default=Options.refresh, show_default=True, metavar="SECONDS",
                 callback=_positive_float, help="Seconds between screen refreshes."),
    click.option("--max-tasks", type=click.IntRange(min=1), default=Options.max_tasks, show_default=True,
                 metavar="N", help="Tasks kept in memory; the oldest finished tasks are evicted first."),
    click.option("--max-failures", type=click.IntRange(min=0), default=Options.max_failures, show_default=True,
                 metavar="N",
                 help="Failed tasks kept in memory on top of --max-tasks, so a flood of successes "
                      "never evicts the failures."),
    click.option("--fold-offline-after", type=click.FloatRange(min=0), default=Options.fold_offline_after,
                 show_default=True, metavar="MINUTES",
                 help="Workers offline for longer than this fold into one '+N offline' line at the bottom of "
                      "the workers pane ('o' lists them); --batch still lists every worker."),
    click.option("--window", type=float, default=Options.window, show_default=True, metavar="MINUTES",
                 help="Task types view (y): the failure % and the rate per minute are over this many minutes "
                      "(0.1 to 1440)."),
    click.option("--stuck-after", type=float, default=Options.stuck_after, show_default=True, metavar="MINUTES",
                 help="A task STARTED this long is stuck (S lists it) if it also ran past --stuck-multiple times "
                      "its type's p95 runtime; types with no runtime yet use this alone."),
    click.option("--stuck-multiple", type=float, default=Options.stuck_multiple, show_default=True, metavar="X",
                 help="A STARTED task is stuck past X times its type's p95 runtime (and --stuck-after)."),
    click.option("--alert-failure-rate", type=float, default=Options.alert_failure_rate, show_default=True,
                 metavar="PERCENT",
                 help="Alert when a task type fails more than this % of its tasks over --window "
                      "(once --alert-min-tasks of them finished)."),
    click.option("--alert-min-tasks", type=int, default=Options.alert_min_tasks, show_default=True, metavar="N",
                 help="Tasks of a type that must finish within --window before its failure rate can alert, "
                      "so one failure of a rare task is not 100 %."),
    click.option("--alert-queue-depth", type=int, default=Options.alert_queue_depth, show_default=True,
                 metavar="N", help="Alert when a queue holds more than N messages (the screen samples depths)."),
    click.option("--alert-queue-growing", type=float, default=Options.alert_queue_growing, show_default=True,
                 metavar="MINUTES", help="Alert when a queue has grown over the last MINUTES (0.5 to 60)."),
    click.option("--alert-silence", type=float, default=Options.alert_silence, show_default=True,
                 metavar="SECONDS", help="Alert when no event at all arrives for SECONDS while workers are online."),
    click.option("--no-alert", "no_alert", multiple=True, metavar="RULE",
                 help="Turn one alert rule off (repeatable): failure-rate, worker-offline, queue-depth, "
                      "queue-growing, silence, lost, beat-missed."),
    click.option("--no-bell", "bell", flag_value=False, default=Options.bell,
                 help="Do not ring the terminal bell when an alert starts firing."),
    click.option("--exit-on-alert", default=Options.exit_on_alert, is_flag=True,
                 help="Batch: stop after the snapshot in which an alert fires and exit with status 3 "
                      "(for cron and health checks)."),
    click.option("--timeout", type=float, default=Options.timeout, show_default=True, metavar="SECONDS",
                 callback=_positive_float,
                 help="Seconds to wait for worker replies to remote-control and inspect calls."),
    click.option("--no-enable-events", "enable_events", flag_value=False, default=Options.enable_events,
                 help="Do not broadcast enable_events to the workers at start."),
    click.option("--read-only", default=Options.read_only, is_flag=True,
                 help="Disable every command that changes the cluster (revoke, rate limits, shutdown, pools, "
                      "queues, events, retry); the header shows READ-ONLY."),
    click.option("--audit-log", default=Options.audit_log, metavar="PATH",
                 help="Append every command sent, with the replies, to PATH as JSON lines "
                      "[default: $XDG_STATE_HOME/celerytop/audit.log]."),
    click.option("--no-audit-log", default=Options.no_audit_log, is_flag=True,
                 help="Do not write the audit log to a file."),
    click.option("--colors", type=click.Choice(["auto", "256", "16", "mono"]), default=Options.colors,
                 show_default=True,
                 help="Colour mode; auto follows TERM and honours NO_COLOR. mono uses bold and reverse video."),
    click.option("--ascii", "ascii", default=Options.ascii, is_flag=True,
                 help="Draw the header (its rate sparklines and marks) and the views' sparklines in plain "
                      "ASCII; the default when the locale's encoding is not UTF-8."),
    click.option("--batch", default=Options.batch, is_flag=True,
                 help="Print snapshots (header, workers, tasks) as plain text or JSON, without the screen "
                      "and without a single escape code, then exit."),
    click.option("--delay", type=float, default=Options.delay, show_default=True, metavar="SECONDS",
                 callback=_positive_float, help="Batch: seconds between snapshots (and before the first)."),
    click.option("--iterations", type=click.IntRange(min=1), default=Options.iterations, show_default=True,
                 metavar="N", help="Batch: how many snapshots to print."),
    click.option("--width", default=Options.width, type=click.IntRange(min=40), metavar="COLUMNS",
                 help="Batch: line width [default: the terminal's, else 120]."),
    click.option("--queues", default=Options.queues, is_flag=True,
                 help="Batch: add every queue's depth and its oldest waiting message's age (JSON: 'queues'); "
                      "a broker round per snapshot (one pipelined request on Redis)."),
    click.option("--format", "fmt", type=click.Choice(["text", "json"]), default=Options.fmt, show_default=True,
                 help="Batch and dump output: text, or JSON (one document per snapshot; one event per line)."),
    click.option("--dump", default=Options.dump, is_flag=True,
                 help="Print every event as it arrives, one line each, like 'celery events --dump'."),
    click.option("--camera", default=Options.camera, metavar="CLASS",
                 help="Run a celery Polaroid camera (module.Class) over the captured state, as 'celery events -c'."),
    click.option("--frequency", "--freq", type=float, default=Options.frequency, show_default=True,
                 metavar="SECONDS", callback=_positive_float, help="Camera: seconds between snapshots."),
    click.option("--maxrate", default=Options.maxrate, metavar="RATE",
                 help="Camera: at most this many snapshots, e.g. 10/m (as 'celery events -r')."),
    click.option("--record", default=Options.record, metavar="FILE",
                 help="Append every event received to FILE as JSON lines (gzip when FILE ends in .gz), "
                      "with the screen, --batch or --dump."),
    click.option("--replay", default=Options.replay, metavar="FILE",
                 help="Feed a recording instead of a broker, to the screen, --batch, --dump or --camera."),
    click.option("--speed", type=float, default=Options.speed, show_default=True, metavar="X",
                 help="Replay at X times the recorded pace; 0 = as fast as possible."),
    click.option("--only-events", default=Options.only_events, metavar="KEYS",
                 help="Receive only these events: routing keys of celery's event exchange, comma-separated, "
                      "or 'workers' and 'failures' (worker.# and task.failed).  On RabbitMQ and Redis the "
                      "broker leaves the rest out, for clusters too busy to watch whole; the header says ONLY."),
    click.option("--db", default=Options.db, metavar="PATH",
                 help="Keep tasks and workers, rates over time, task type stats and failure groups in an SQLite "
                      "file: shown at start, saved every few seconds and on exit, bounded by --max-tasks and "
                      "--max-failures."),
)


def monitor_options(fn):
    for option in reversed(MONITOR_OPTIONS):
        fn = option(fn)
    return fn


# -- loading -------------------------------------------------------------------
def load_app(app_name: str | None, broker: str | None):
    """The Celery app as ``celery -A app -b broker`` would load it."""
    from celery import Celery
    from celery.app.utils import find_app

    if broker:
        check_broker_url(broker)
    if app_name:
        try:
            app = find_app(app_name)
        except ModuleNotFoundError as exc:
            raise CliError(f"cannot load app {app_name!r}: no module named {exc.name!r}")
        except Exception as exc:  # noqa: BLE001 - the user's module failed to import
            raise CliError(f"cannot load app {app_name!r}: {one_line_error(exc)}")
        if not hasattr(app, "conf") or not hasattr(app, "events"):
            raise CliError(f"cannot load app {app_name!r}: it is a {type(app).__name__}, not a Celery app")
    else:
        app = Celery("celerytop", set_as_current=False)
        setattr(app, BROKER_ONLY, True)  # no schedule to read: the :beat view says so
    if broker:
        app.conf.broker_url = broker
    check_app_broker(app)
    return app


def check_app_broker(app) -> None:
    try:
        url = app.conf.broker_url
    except Exception as exc:  # noqa: BLE001 - a broken config module
        raise CliError(f"cannot read the broker URL from the app: {one_line_error(exc)}")
    check_broker_url(url or "amqp://guest@localhost//")


# -- running -------------------------------------------------------------------
def _raise_terminated(signum, _frame):
    raise Terminated(signum)


def open_crash_log() -> tuple:
    """(path, file) of a new crash file: named to the second and the process, and never
    an earlier crash's, even one in the same second (``-2``, ``-3``, ...); 0600."""
    stem = os.path.join(state_dir(), time.strftime("crash-%Y%m%d-%H%M%S") + f"-{os.getpid()}")
    for attempt in itertools.count(1):
        path = stem + (f"-{attempt}" if attempt > 1 else "") + ".log"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        return path, os.fdopen(fd, "w", encoding="utf-8")


def safe_for_file(text: str) -> str:
    """``text`` as celerytop writes it to a file: every URL's password masked (a library may
    log the URL it failed on), and escapes shown as on screen (celery's clock-drift warning
    names a worker's hostname; the file is read with ``tail -f``)."""
    return mask_secrets(sanitize(text, keep_newlines=True, limit=None))


class SafeLogFormatter(logging.Formatter):
    """Log records through :func:`safe_for_file`."""

    def format(self, record) -> str:
        return safe_for_file(super().format(record))


def log_to_file() -> None:
    """Send every log record and warning to a file: the terminal belongs to the UI.

    Without this, kombu's and celery's warnings would reach stderr through
    logging's last-resort handler and scribble over the screen.
    """
    logging.captureWarnings(True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    try:
        path = os.path.join(state_dir(), "celerytop.log")
        open_private(path, "a").close()  # created 0600 before logging opens it
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(SafeLogFormatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    except OSError:
        handler = logging.NullHandler()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("celerytop").setLevel(logging.INFO)


def report_crash(exc: BaseException) -> None:
    """One line on stderr; the traceback goes to a file, for a bug report."""
    where = ""
    try:
        path, fh = open_crash_log()
        with fh:
            fh.write(safe_for_file("".join(traceback.format_exception(exc))))
        where = f" (traceback in {path})"
    except OSError:
        pass
    click.echo(mask_secrets(f"celerytop: internal error: {one_line_error(exc)}{where}"), err=True)


def execute(app_name, broker, demo, **options) -> int:
    """Everything after option parsing, shared by both front doors."""
    previous = {sig: signal.signal(sig, _raise_terminated) for sig in (signal.SIGTERM, signal.SIGHUP)}
    cluster = None
    try:
        if demo:
            if app_name or broker:
                raise CliError("--demo runs its own cluster; it cannot be combined with -A or -b")
            from celerytop.demo.cluster import DemoCluster

            # Import what the monitor needs before the demo's producer thread
            # starts importing celery.events too: two threads importing the
            # same modules can hit Python's import deadlock detection
            # (_DeadlockError, seen once in CI).
            for module in ("celery.events.dispatcher", "celery.events.state", "celerytop.ui.app"):
                importlib.import_module(module)

            cluster = DemoCluster()
            cluster.start()
            app = cluster.app
        elif not hasattr(app_name, "conf"):
            app = load_app(app_name, broker)
        else:
            app = app_name  # celery already loaded it (celery -A proj top)
            check_app_broker(app)
        log_to_file()
        return launch.run(app, Options(**options))
    except (CliError, BrokerUrlError, UsageError) as exc:
        click.echo(mask_secrets(f"celerytop: error: {exc}"), err=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Terminated as exc:
        return 128 + exc.signum
    except Exception as exc:  # noqa: BLE001 - never show a user a traceback
        report_crash(exc)
        return EXIT_INTERNAL
    finally:
        if cluster is not None:
            # the demo's broker and results go with its folder: nothing to
            # wait for beyond a moment's grace
            cluster.stop(grace=0.5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@click.command(name="celerytop", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-A", "--app", "app_name", metavar="APP",
              help="The Celery app, as for 'celery -A' (module, module:attribute or package).")
@click.option("-b", "--broker", metavar="URL", envvar="CELERY_BROKER_URL",
              help="Broker URL (also read from CELERY_BROKER_URL); overrides the app's broker_url.")
@click.option("--demo", is_flag=True,
              help="Start an embedded demo cluster (filesystem broker, three workers, a producer) and monitor it.")
@monitor_options
@click.version_option(__version__, "-V", "--version", prog_name="celerytop")
def command(app_name, broker, demo, **options):
    """A top-like monitor and control console for Celery clusters."""
    sys.exit(execute(app_name, broker, demo, **options))


@click.command(name="top", context_settings={"help_option_names": ["-h", "--help"]})
@monitor_options
@click.pass_context
def celery_top(ctx, **options):
    """celerytop: a top-like monitor and control console for this cluster."""
    sys.exit(execute(ctx.obj.app, None, False, **options))


def main(argv=None) -> None:
    """Console-script entry point: click's multi-line usage errors become one line."""
    if BROKEN_INSTALL is not None:
        reason = " ".join(str(BROKEN_INSTALL).split())
        hint = missing_module_hint(BROKEN_INSTALL.name.split(".")[0])
        click.echo(f"celerytop: error: celerytop needs packages that are not installed ({reason}): {hint}", err=True)
        sys.exit(EXIT_USAGE)
    try:
        command.main(args=argv, prog_name="celerytop", standalone_mode=False)
    except click.UsageError as exc:
        hint = " (see celerytop --help)"
        click.echo(mask_secrets(f"celerytop: error: {exc.format_message()}{hint}"), err=True)
        sys.exit(EXIT_USAGE)
    except click.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        click.echo(mask_secrets(f"celerytop: error: {exc.format_message()}"), err=True)
        sys.exit(exc.exit_code)
    sys.exit(EXIT_OK)
