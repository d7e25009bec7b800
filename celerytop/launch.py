"""From parsed options to a running celerytop: the screen, batch, dump or a
camera; fed by the broker or a recording; with the history database and the
event recorder around whichever it is."""

from __future__ import annotations

import os
import sys
import time

from celerytop.events.recording.clock import ReplayClock
from celerytop.events.recording.reader import RecordingError
from celerytop.events.recording.replayer import Replayer
from celerytop.events.recording.writer import Recorder
from celerytop.modes import batch
from celerytop.modes.camera import CameraError, run_camera
from celerytop.modes.sources import BrokerUnreachable, recorded
from celerytop.options import Options, UsageError
from celerytop.present.header_text import mode_text
from celerytop.present.sparkline import unicode_terminal

#: Exit status when what the user asked to keep was not all kept: ``--record``
#: stopped (a full disk) or the last ``--db`` save failed.  The reason is said on
#: stderr, and in red in the screen's header while it runs.
EXIT_NOT_SAVED = 4
#: Exit status of ``--batch --exit-on-alert`` when an alert fired (for cron and health checks).
EXIT_ALERT = 3


def display_name(app) -> str:
    return app.main or "default"


def watched(app, options: Options) -> str:
    """What the header says the events come from: the broker URL, or 'file NAME' for a replay."""
    return f"file {os.path.basename(options.replay)}" if options.replay else str(app.conf.broker_url)


def say(message: str) -> None:
    """One line on stderr, where batch, dump and camera modes report what goes wrong while they run."""
    sys.stderr.write(f"celerytop: {message}\n")
    sys.stderr.flush()


def run(app, options: Options) -> int:
    options.check()
    if options.screen and not _is_terminal(sys.stdin):
        raise UsageError("the screen needs a terminal, and stdin is not one: "
                         "use --batch for text snapshots (or --dump for the events)")
    # the screen says it in its header, and on stderr once it is closed
    recorder = _recorder(options.record, on_error=None if options.screen else say)
    not_saved = alerted = False
    try:
        if options.dump:
            from celerytop.modes.dump import dumper, run_dump

            run_dump(app, dumper(options.fmt, sys.stdout), recorder=recorder, replay=options.replay,
                           routing_keys=options.routing_keys,
                           speed=options.speed)
        elif options.camera:
            try:
                run_camera(app, options.camera, options.frequency, options.maxrate, recorder=recorder,
                                 routing_keys=options.routing_keys,
                                 replay=options.replay, speed=options.speed)
            except CameraError as exc:
                raise UsageError(str(exc)) from None
        else:
            not_saved, alerted = _run_monitor(app, options, recorder)
    except BrokerUnreachable as exc:
        raise UsageError(str(exc)) from None
    except RecordingError as exc:
        raise UsageError(str(exc)) from None
    finally:
        if recorder is not None:
            recorder.close()
    if recorder is not None and recorder.error:
        if options.screen:
            say(recorder.error)
        not_saved = True
    if not_saved:
        return EXIT_NOT_SAVED
    return EXIT_ALERT if alerted and options.exit_on_alert else 0


def alert_engine(options: Options):
    """The alert rules the options ask for, in an engine (model/alerts.py)."""
    from celerytop.model.alertrules import build_rules
    from celerytop.model.alerts import AlertEngine

    return AlertEngine(build_rules(failure_rate=options.alert_failure_rate, min_tasks=options.alert_min_tasks,
                                   queue_depth=options.alert_queue_depth,
                                   queue_growing=options.alert_queue_growing, silence=options.alert_silence,
                                   disabled=options.no_alert))


def alert_log_path(options: Options) -> str | None:
    """alerts.log beside the audit log; none with --no-audit-log, nor for a replay unless --audit-log names
    a folder (a recording's alerts must not page anyone)."""
    from celerytop.control.alertlog import beside
    from celerytop.control.audit import default_path as default_audit_path

    if options.no_audit_log or (options.replay and not options.audit_log):
        return None
    return beside(options.audit_log or default_audit_path())


def _is_terminal(stream) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):  # closed, or not a file at all
        return False


def _recorder(path, on_error=None):
    if not path:
        return None
    try:
        return Recorder(path, on_error=on_error)
    except RecordingError as exc:
        raise UsageError(str(exc)) from None


def _history_store(options: Options, model):
    """The --db store, loaded into ``model``; (store or None, a note for the user)."""
    if not options.db:
        return None, ""
    from celerytop.store.sqlite import Store, StoreError

    try:
        store = Store(options.db)
        store.load(model)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    if not store.acquire_writer():
        return store, store.writer_note
    return store, ""


def _run_monitor(app, options: Options, recorder) -> tuple:
    """The screen or batch snapshots: (the last --db save failed (said on stderr), an alert fired in batch)."""
    from celerytop.model import beat
    from celerytop.model.cluster import ClusterModel
    from celerytop.model.stuckness import StuckRules

    clock = ReplayClock() if options.replay else None  # a model fed from a recording lives in its time
    model = ClusterModel(max_tasks=options.max_tasks, max_failures=options.max_failures, window=options.window * 60,
                         **({"clock": clock} if clock is not None else {}))
    model.stuck_rules = StuckRules(options.stuck_after * 60, options.stuck_multiple)
    # live, runs are expected from now on; a replay expects them from its first event
    schedule = beat.plan_from_app(app, watching_since=None if options.replay else time.time())
    beat.watch(model, schedule)
    store, note = _history_store(options, model)
    said = "; ".join(text for text in (note, store.load_note if store is not None else "") if text)
    camera = None
    if store is not None and not note:
        from celerytop.store.sqlite import SnapshotCamera

        camera = SnapshotCamera(store, model, on_error=None if options.screen else _say_once())
        camera.start()
    handler = recorded(model.on_event, recorder)
    alarms = [lambda: recorder.error] if recorder is not None else []
    if camera is not None:
        alarms.append(lambda: camera.last_error)
    alerted = False
    try:
        if options.batch:
            alerted = _run_batch(app, options, model, handler, said, clock, schedule)
        else:
            _run_screen(app, options, model, handler, said, alarms, clock, schedule)
    finally:
        if camera is not None:
            camera.stop()  # the last snapshot, also after Ctrl-C or SIGTERM
        elif store is not None:
            store.close()
    if camera is None or not camera.last_error:
        return False, alerted
    if options.screen:  # batch said it as it happened
        say(camera.last_error)
    return True, alerted


def _say_once():
    """:func:`say`, but not the same message again and again: the camera retries every few seconds."""
    said = []

    def say_new(message: str) -> None:
        if message not in said:
            said.append(message)
            say(message)

    return say_new


def _run_batch(app, options: Options, model, handler, note: str, clock: ReplayClock | None,
               schedule=None) -> bool:
    """Batch snapshots; True when an alert fired in one of them."""
    if note:
        sys.stderr.write(f"celerytop: {note}\n")
    mode = mode_text(replay="REPLAY" if options.replay else "", read_only=options.read_only, scope=options.scope)
    queues = None
    if options.queues and not options.replay:  # Options.check refuses --queues with --replay
        from celerytop.modes.queue_snapshot import QueueSnapshots

        queues = QueueSnapshots(app, model)
    printer = batch.Printer(model, options.fmt, batch.output_width(options.width), display_name(app),
                            watched(app, options), mode=mode, schedule=schedule, queues=queues,
                            alerts=alert_engine(options), stop_on_alert=options.exit_on_alert,
                            queue_window=options.alert_queue_growing * 60 + 2 * options.delay)
    if options.replay:
        batch.run_batch_replay(options.replay, handler, printer, iterations=options.iterations,
                               delay=options.delay, speed=options.speed, clock=clock)
        return printer.alerted
    control = _control(app, options, audit=False)
    try:
        batch.run_batch(app, model, printer, iterations=options.iterations, delay=options.delay,
                        routing_keys=options.routing_keys,
                        handler=handler, seed=lambda: _seed_quietly(model, control, options))
    finally:
        control.close()
        if queues is not None:
            queues.close()
    return printer.alerted


def _seed_quietly(model, control, options: Options) -> None:
    from celerytop.model import seed

    try:
        seed.seed(model, control, enable_events=options.enable_events)
    except Exception as exc:  # noqa: BLE001 - the snapshot still prints, without the seed
        from celerytop.present.errors import one_line_error

        sys.stderr.write(f"celerytop: could not ask the workers for their state: {one_line_error(exc)}\n")


def _control(app, options: Options, audit: bool = True):
    from celerytop.control.audit import AuditLog
    from celerytop.control.audit import default_path as default_audit_path
    from celerytop.control.control import Control

    log = None
    if audit:
        log = AuditLog(None if options.no_audit_log else (options.audit_log or default_audit_path()))
    return Control(app, timeout=options.timeout, read_only=options.read_only, audit=log)


def _screen_alerts(options: Options, schedule=None):
    from celerytop.control.alertlog import AlertLog
    from celerytop.ui.alerting import ScreenAlerts

    return ScreenAlerts(alert_engine(options), AlertLog(alert_log_path(options)), bell=options.bell,
                        growing_span=options.alert_queue_growing * 60,
                        schedule=schedule)


def _run_screen(app, options: Options, model, handler, note: str, alarms=(), clock: ReplayClock | None = None,
                schedule=None) -> None:
    from celerytop.control.history import History
    from celerytop.control.history import default_path as default_history_path
    from celerytop.events.capture import ConnectionStatus, EventCapture
    from celerytop.ui.app import MonitorApp

    status = ConnectionStatus()
    replaying = options.replay is not None
    control = None if replaying else _control(app, options)
    ui = MonitorApp(model, status, control, app_name=display_name(app), broker_url=watched(app, options),
                    refresh=options.refresh, enable_events=options.enable_events, colors=options.colors,
                    history=History(default_history_path()), scope=options.scope,
                    fold_offline_after=options.fold_offline_after * 60,
                    ascii=options.ascii or not unicode_terminal(), schedule=schedule,
                    alerts=_screen_alerts(options, schedule))
    if note:
        ui.notices.standing.append(note)
    ui.notices.alarms.extend(alarms)
    if replaying:
        source = Replayer(options.replay, handler, speed=options.speed, clock=clock)
        ui.replay = source
        status.replaying()
    else:
        source = EventCapture(app, handler, status, on_connected=ui.seeding.on_connected,
                              routing_keys=options.routing_keys)
    try:
        ui.run(on_start=source.start)
    finally:
        source.stop(timeout=1.5)
        if control is not None:
            control.close()
