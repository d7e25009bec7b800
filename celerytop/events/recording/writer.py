"""Appending every event to a recording file as JSON lines, without ever raising into the capture thread."""

from __future__ import annotations

import gzip
import json
import logging
import os
import stat
import threading
import time
from typing import Callable

from celerytop.events.recording.reader import (GZIP_MAGIC, SESSION_MARKER, RecordingError, os_error_reason, read_events,
                                               shown_path)
from celerytop.present.formatting import sanitize

#: Unflushed data is written out after this many seconds at the latest ...
FLUSH_INTERVAL = 0.5
#: ... or once this many events are waiting, whichever comes first.
FLUSH_EVENTS = 1000
#: The one thread per recorder that writes out what waits once it is FLUSH_INTERVAL old.
FLUSHER_NAME = "celerytop-recording-flush"
_SEPARATORS = (",", ":")
#: Nesting kept when an event cannot be serialised as it is (cycles, odd keys).
_MAX_DEPTH = 64

log = logging.getLogger(__name__)


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not lose the event
        return f"<unrepresentable {type(value).__name__}>"


def jsonable(value: object) -> object:
    """``value`` as json can always write it (see :func:`_jsonable`), nested at most ``_MAX_DEPTH`` deep."""
    return _jsonable(value, _MAX_DEPTH)


def _jsonable(value: object, depth: int, seen: frozenset = frozenset()) -> object:
    """``value`` reduced to what json can always write: string keys, no cycles, bounded depth."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (dict, list, tuple)):
        if depth <= 0 or id(value) in seen:
            return _safe_repr(value)[:200]
        inner = seen | {id(value)}
        if isinstance(value, dict):
            return {
                key if isinstance(key, str) else _safe_repr(key): _jsonable(item, depth - 1, inner)
                for key, item in list(value.items())
            }
        return [_jsonable(item, depth - 1, inner) for item in value]
    return _safe_repr(value)


def encode_event(event: dict) -> bytes:
    """One recording line for ``event``; never raises, whatever the event holds.

    Lone surrogates (which UTF-8 cannot hold) are written as JSON ``\\uXXXX``
    escapes, so they read back as the same string.
    """
    try:
        text = json.dumps(event, default=_safe_repr, ensure_ascii=False, separators=_SEPARATORS)
    except Exception:  # noqa: BLE001 - non-string keys, cycles, runaway nesting
        text = json.dumps(_jsonable(event, _MAX_DEPTH), ensure_ascii=False, separators=_SEPARATORS)
    return text.encode("utf-8", "backslashreplace") + b"\n"


def _is_gzip(path) -> bool:
    with open(path, "rb") as stream:
        return stream.read(2) == GZIP_MAGIC


def _ends_mid_line(path) -> bool:
    with open(path, "rb") as stream:
        stream.seek(-1, os.SEEK_END)
        return stream.read(1) != b"\n"


def _check_appendable(path, gz: bool) -> None:
    """Refuse to append to a file that is not a recording of the kind the name promises.

    ``--record`` pointed at the wrong file must not damage it, and plain lines
    after gzip data (or the reverse) would be silently lost on replay.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        return
    if _is_gzip(path) != gz:
        if gz:
            raise RecordingError(f"cannot record to {shown_path(path)}: named .gz but the file is not gzip")
        raise RecordingError(f"cannot record to {shown_path(path)}: it is gzip-compressed but not named .gz")
    try:
        next(read_events(path), None)
    except RecordingError:
        raise RecordingError(
            f"cannot record to {shown_path(path)}: it exists and is not a celerytop recording"
        ) from None


class Recorder:
    """Appends every event to FILE as JSON lines, gzip-compressed when the name ends in .gz.

    :meth:`record` is called from the capture thread for every event, so it
    never raises: a write error (disk full) stops the recording, keeps what
    the file already holds (never truncated), and is kept in :attr:`error`
    for the screen's header and told once to ``on_error(message)`` (batch and
    dump say it on stderr), while monitoring carries on.

    What is written is flushed after FLUSH_EVENTS events or FLUSH_INTERVAL
    seconds, the latter by one flusher thread from the first event to
    :meth:`close`.
    """

    def __init__(self, path: str, on_error: Callable[[str], object] | None = None):
        self.path = os.fspath(path)
        self.gzip = self.path.lower().endswith(".gz")
        self.events_written = 0
        self.error = ""
        self.on_error = on_error
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the flusher waits on it for a flush to fall due
        self._pending = 0
        self._flush_at: float | None = None  # when the oldest event not yet flushed must be written out
        self._flusher: threading.Thread | None = None  # started at the first event, ended by close()
        self._raw = None
        try:
            _check_appendable(self.path, self.gzip)
            if self.gzip:
                self._raw = open(self.path, "ab")
                self._raw.write(SESSION_MARKER)
                self._file = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6)
            else:
                path = self.path
                cut = os.path.isfile(path) and os.path.getsize(path) > 0 and _ends_mid_line(path)
                self._file = open(self.path, "ab")
                if cut:
                    # the last session was killed mid-line: keep its fragment off our first event
                    self._file.write(b"\n")
        except OSError as exc:
            raise RecordingError(f"cannot record to {shown_path(self.path)}: {os_error_reason(exc)}") from None

    @property
    def closed(self) -> bool:
        return self._file is None

    def record(self, event: dict) -> None:
        line = encode_event(event)
        with self._lock:
            if self._file is None:
                return
            try:
                self._file.write(line)
            except (OSError, ValueError) as exc:
                self._fail(exc)
                return
            self.events_written += 1
            self._pending += 1
            if self._pending >= FLUSH_EVENTS:
                self._flush_locked()
            elif self._flush_at is None:
                self._flush_at = time.monotonic() + FLUSH_INTERVAL
                if self._flusher is None:
                    self._flusher = threading.Thread(target=self._flush_when_due, name=FLUSHER_NAME, daemon=True)
                    self._flusher.start()
                self._wake.notify()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        """Write out and close the file, and end the flusher thread."""
        with self._lock:
            if self._file is not None:
                self._flush_locked()
                try:
                    if self._file is not None:
                        self._file.close()
                    if self._raw is not None:
                        self._raw.close()
                except OSError as exc:
                    self._fail(exc)
                self._file = self._raw = None
            self._wake.notify()
            flusher, self._flusher = self._flusher, None
        if flusher is not None and flusher is not threading.current_thread():
            flusher.join()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _flush_when_due(self) -> None:
        """The flusher thread: each flush once it falls due, until the file is closed (or failed)."""
        with self._wake:
            while self._file is not None:
                if self._flush_at is None:
                    self._wake.wait()
                    continue
                remaining = self._flush_at - time.monotonic()
                if remaining > 0:
                    self._wake.wait(remaining)
                    continue
                self._flush_locked()

    def _flush_locked(self) -> None:
        self._flush_at = None
        if self._file is None or not self._pending:
            return
        try:
            self._file.flush()
        except (OSError, ValueError) as exc:
            self._fail(exc)
            return
        self._pending = 0

    def _fail(self, exc: Exception) -> None:
        reason = os_error_reason(exc) if isinstance(exc, OSError) else str(exc)
        stopped = time.strftime("%H:%M:%S")
        self.error = (f"recording to {shown_path(self.path)} stopped at {stopped}: {sanitize(reason, limit=200)}"
                      " (the events before are kept)")
        log.warning("%s", self.error)
        for file in (self._file, self._raw):
            # closing writes out what is still buffered, as far as it fits; the file is never truncated
            try:
                if file is not None:
                    file.close()
            except Exception:  # noqa: BLE001 - already failed; the error above is what matters
                pass
        self._file = self._raw = None
        self._wake.notify()  # the flusher ends with the file
        if self.on_error is not None:
            try:
                self.on_error(self.error)
            except Exception:  # noqa: BLE001 - the capture thread must live on
                log.exception("reporting the recording error failed")

