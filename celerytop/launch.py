"""From parsed options to a running celerytop: the screen, batch, dump or a
camera; fed by the broker or a recording; with the history database and the
event recorder around whichever it is."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from celerytop.events import consumers, recording
from celerytop.modes import runners as modes

#: Exit status when what the user asked to keep was not all kept: ``--record``
#: stopped (a full disk) or the last ``--db`` save failed.  The reason is said on
#: stderr, and in red in the screen's header while it runs.
EXIT_NOT_SAVED = 4  # 3 is left for alerts (--exit-on-alert)


class UsageError(Exception):
    """Options that do not go together, or a file that cannot be used: one line, exit 2."""


@dataclass
class Options:
    refresh: float = 1.0
    max_tasks: int = 10000
    max_failures: int = 1000
    timeout: float = 1.0
    fold_offline_after: float = 10.0  # minutes
    enable_events: bool = True
    colors: str = "auto"
    read_only: bool = False
    audit_log: str | None = None
    no_audit_log: bool = False
    batch: bool = False
    delay: float = 2.0
    iterations: int = 1
    width: int | None = None
    fmt: str = "text"
    dump: bool = False
    camera: str | None = None
    frequency: float = 1.0
    maxrate: str | None = None
    record: str | None = None
    replay: str | None = None
    speed: float = 1.0
    db: str | None = None
    only_events: str | None = None

    @property
    def screen(self) -> bool:
        return not (self.batch or self.dump or self.camera)

    @property
    def routing_keys(self) -> tuple:
        return consumers.parse_routing_keys(self.only_events) if self.only_events else consumers.ALL_EVENTS

    @property
    def scope(self) -> str:
        """The header's note that the picture is narrowed ('' when it is not)."""
        return "ONLY " + ",".join(self.routing_keys) if self.only_events else ""

    def check(self) -> None:
        chosen = [name for name, on in (("--batch", self.batch), ("--dump", self.dump),
                                        ("--camera", bool(self.camera))) if on]
        if len(chosen) > 1:
            raise UsageError(f"{' and '.join(chosen)} are different modes: choose one")
        if self.speed < 0:
            raise UsageError("--speed must be 0 (as fast as possible) or more")
        if self.replay is not None and not os.path.isfile(self.replay):
            raise UsageError(f"--replay: no such file: {self.replay}")
        if self.replay and self.record and os.path.abspath(self.replay) == os.path.abspath(self.record):
            raise UsageError("--record and --replay name the same file")
        if self.db and (self.dump or self.camera):
            raise UsageError("--db keeps the monitor's tasks: use it with the screen or --batch")
        if self.only_events is not None:
            try:
                consumers.parse_routing_keys(self.only_events)
            except ValueError as exc:
                raise UsageError(f"--only-events: {exc}") from None
            if self.replay:
                raise UsageError("--only-events narrows what the broker sends: it does not apply to --replay")


def display_name(app) -> str:
    return app.main or "default"


def say(message: str) -> None:
    """One line on stderr, where batch, dump and camera modes report what goes wrong while they run."""
    sys.stderr.write(f"celerytop: {message}\n")
    sys.stderr.flush()


def run(app, options: Options) -> int:
    options.check()
    if not (options.batch or options.dump or options.camera) and not _is_terminal(sys.stdin):
        raise UsageError("the screen needs a terminal, and stdin is not one: "
                         "use --batch for text snapshots (or --dump for the events)")
    # the screen says it in its header, and on stderr once it is closed
    recorder = _recorder(options.record, on_error=None if options.screen else say)
    not_saved = False
    try:
        if options.dump:
            from celerytop.modes.dump import dumper

            modes.run_dump(app, dumper(options.fmt, sys.stdout), recorder=recorder, replay=options.replay,
                           routing_keys=options.routing_keys,
                           speed=options.speed)
        elif options.camera:
            try:
                modes.run_camera(app, options.camera, options.frequency, options.maxrate, recorder=recorder,
                                 routing_keys=options.routing_keys,
                                 replay=options.replay, speed=options.speed)
            except modes.CameraError as exc:
                raise UsageError(str(exc)) from None
        else:
            not_saved = _run_monitor(app, options, recorder)
    except modes.BrokerUnreachable as exc:
        raise UsageError(str(exc)) from None
    except recording.RecordingError as exc:
        raise UsageError(str(exc)) from None
    finally:
        if recorder is not None:
            recorder.close()
    if recorder is not None and recorder.error:
        if options.screen:
            say(recorder.error)
        not_saved = True
    return EXIT_NOT_SAVED if not_saved else 0


def _is_terminal(stream) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):  # closed, or not a file at all
        return False


def _recorder(path, on_error=None):
    if not path:
        return None
    try:
        return recording.Recorder(path, on_error=on_error)
    except recording.RecordingError as exc:
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


def _run_monitor(app, options: Options, recorder) -> bool:
    """The screen or batch snapshots; True when the last --db save failed (said on stderr)."""
    from celerytop.model.cluster import ClusterModel

    clock = modes.ReplayClock()
    model = ClusterModel(max_tasks=options.max_tasks, max_failures=options.max_failures,
                         **({"clock": clock} if options.replay else {}))
    store, note = _history_store(options, model)
    camera = None
    if store is not None and not note:
        from celerytop.store.sqlite import SnapshotCamera

        camera = SnapshotCamera(store, model, on_error=None if options.screen else _say_once())
        camera.start()
    handler = modes.recorded(model.on_event, recorder)
    if options.replay:
        handler = clock.follow(handler)
    alarms = [lambda: recorder.error] if recorder is not None else []
    if camera is not None:
        alarms.append(lambda: camera.last_error)
    try:
        if options.batch:
            _run_batch(app, options, model, handler, note)
        else:
            _run_screen(app, options, model, handler, note, alarms)
    finally:
        if camera is not None:
            camera.stop()  # the last snapshot, also after Ctrl-C or SIGTERM
        elif store is not None:
            store.close()
    if camera is None or not camera.last_error:
        return False
    if options.screen:  # batch said it as it happened
        say(camera.last_error)
    return True


def _say_once():
    """:func:`say`, but not the same message again and again: the camera retries every few seconds."""
    said = []

    def say_new(message: str) -> None:
        if message not in said:
            said.append(message)
            say(message)

    return say_new


def _run_batch(app, options: Options, model, handler, note: str) -> None:
    if note:
        sys.stderr.write(f"celerytop: {note}\n")
    broker = f"file {os.path.basename(options.replay)}" if options.replay else str(app.conf.broker_url)
    printer = modes.Printer(model, options.fmt, modes.output_width(options.width), display_name(app), broker,
                            mode=" ".join(m for m in ("REPLAY" if options.replay else "",
                                                      "READ-ONLY" if options.read_only else "", options.scope) if m))
    if options.replay:
        modes.run_batch_replay(options.replay, handler, printer, iterations=options.iterations,
                               delay=options.delay, speed=options.speed)
        return
    control = _control(app, options, audit=False)
    try:
        modes.run_batch(app, model, printer, iterations=options.iterations, delay=options.delay,
                        routing_keys=options.routing_keys,
                        handler=handler, seed=lambda: _seed_quietly(model, control, options))
    finally:
        control.close()


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


def _run_screen(app, options: Options, model, handler, note: str, alarms=()) -> None:
    from celerytop.control.history import History
    from celerytop.control.history import default_path as default_history_path
    from celerytop.events.capture import ConnectionStatus, EventCapture
    from celerytop.ui.app import MonitorApp

    status = ConnectionStatus()
    replaying = options.replay is not None
    control = None if replaying else _control(app, options)
    broker = f"file {os.path.basename(options.replay)}" if replaying else str(app.conf.broker_url)
    ui = MonitorApp(model, status, control, app_name=display_name(app), broker_url=broker,
                    refresh=options.refresh, enable_events=options.enable_events, colors=options.colors,
                    history=History(default_history_path()), scope=options.scope,
                    fold_offline_after=options.fold_offline_after * 60)
    if note:
        ui.notices.standing.append(note)
    ui.notices.alarms.extend(alarms)
    if replaying:
        source = recording.Replayer(options.replay, handler, speed=options.speed)
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
