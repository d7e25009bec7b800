"""Recording the event stream to a file and replaying it later.

A recording is JSON lines: each line is one event dict exactly as celery's
``Receiver`` delivered it (type, hostname, timestamp, clock, utcoffset, pid,
local_received and the event's own fields), so replaying it through
``ClusterModel.on_event`` rebuilds the same picture without a broker.  A name
ending in ``.gz`` is written gzip-compressed; readers decide by the file's
magic bytes, not its name.

Recordings are written by a process that can be killed at any moment and
appended to by the next session, so the reader forgives what that leaves
behind (a cut last line, a cut gzip member followed by a new one) and only
refuses files that were never recordings.  No urwid here.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import stat
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Callable, Iterator

from celerytop.events.fastjson import loads_json
from celerytop.present.formatting import sanitize

#: Unflushed data is written out after this many seconds at the latest ...
FLUSH_INTERVAL = 0.5
#: ... or once this many events are waiting, whichever comes first.
FLUSH_EVENTS = 1000

MIN_SPEED = 1 / 64
MAX_SPEED = 1024.0

GZIP_MAGIC = b"\x1f\x8b"
#: An empty gzip member (so zcat and Python's gzip read the file as usual) that begins every
#: recording session in a .gz file; its comment makes it unmistakable among compressed bytes.
SESSION_MARKER = (
    b"\x1f\x8b\x08\x10\x00\x00\x00\x00\x00\xff"
    b"celerytop recording session 496eb73f8ee5e77fb0887c896d381f9a\x00"
    b"\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00"
)
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_CHUNK = 64 * 1024
_SEPARATORS = (",", ":")
#: Nesting kept when an event cannot be serialised as it is (cycles, odd keys).
_MAX_DEPTH = 64
#: Bytes that can begin a JSON value; anything else first means "not a recording".
_JSON_START = frozenset(b'{["-0123456789tfnNI')
_NOT_JSON = object()

log = logging.getLogger(__name__)


class RecordingError(ValueError):
    """A file that cannot be recorded to or replayed, in one line (no traceback reaches the user)."""


@dataclass
class ReadStats:
    """What :func:`read_events` met besides events, for a status line or a warning."""

    events: int = 0
    #: Lines that were not a JSON object (a damaged line, a cut line followed by more data).
    skipped: int = 0
    #: The file ended in the middle of a line: a recorder killed mid-write.
    truncated: bool = False


def _shown(path) -> str:
    return sanitize(os.fspath(path), limit=300)


def _reason(exc: OSError) -> str:
    return exc.strerror or " ".join(str(exc).split()) or exc.__class__.__name__


def _not_a_recording(path) -> RecordingError:
    return RecordingError(f"{_shown(path)} is not a celerytop recording (JSON lines, plain or gzip)")


# -- writing ---------------------------------------------------------------------------------------------


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
            raise RecordingError(f"cannot record to {_shown(path)}: named .gz but the file is not gzip")
        raise RecordingError(f"cannot record to {_shown(path)}: it is gzip-compressed but not named .gz")
    try:
        next(read_events(path), None)
    except RecordingError:
        raise RecordingError(
            f"cannot record to {_shown(path)}: it exists and is not a celerytop recording"
        ) from None


class Recorder:
    """Appends every event to FILE as JSON lines, gzip-compressed when the name ends in .gz.

    :meth:`record` is called from the capture thread for every event, so it
    never raises: a write error (disk full) stops the recording, keeps what
    the file already holds (never truncated), and is kept in :attr:`error`
    for the screen's header and told once to ``on_error(message)`` (batch and
    dump say it on stderr), while monitoring carries on.
    """

    def __init__(self, path: str, on_error: Callable[[str], object] | None = None):
        self.path = os.fspath(path)
        self.gzip = self.path.lower().endswith(".gz")
        self.events_written = 0
        self.error = ""
        self.on_error = on_error
        self._lock = threading.Lock()
        self._pending = 0
        self._timer: threading.Timer | None = None
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
            raise RecordingError(f"cannot record to {_shown(self.path)}: {_reason(exc)}") from None

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
            elif self._timer is None:
                self._timer = threading.Timer(FLUSH_INTERVAL, self._flush_due)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        with self._lock:
            if self._file is None:
                return
            self._flush_locked()
            try:
                if self._file is not None:
                    self._file.close()
                if self._raw is not None:
                    self._raw.close()
            except OSError as exc:
                self._fail(exc)
            self._file = self._raw = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _flush_due(self) -> None:
        with self._lock:
            self._timer = None
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._file is None or not self._pending:
            return
        try:
            self._file.flush()
        except (OSError, ValueError) as exc:
            self._fail(exc)
            return
        self._pending = 0

    def _fail(self, exc: Exception) -> None:
        reason = _reason(exc) if isinstance(exc, OSError) else str(exc)
        stopped = time.strftime("%H:%M:%S")
        self.error = (f"recording to {_shown(self.path)} stopped at {stopped}: {sanitize(reason, limit=200)}"
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
        if self.on_error is not None:
            try:
                self.on_error(self.error)
            except Exception:  # noqa: BLE001 - the capture thread must live on
                log.exception("reporting the recording error failed")


# -- reading ---------------------------------------------------------------------------------------------


def _plain(stream, head: bytes) -> Iterator[bytes]:
    yield head
    yield from iter(lambda: stream.read(_CHUNK), b"")


def _raw_pieces(stream, head: bytes) -> Iterator[bytes | None]:
    """The raw bytes of a gzip recording in pieces, with None where a session began."""
    keep = len(SESSION_MARKER) - 1
    buf = head
    while True:
        more = stream.read(_CHUNK)
        buf += more
        at = buf.find(SESSION_MARKER)
        while at >= 0:
            if at:
                yield buf[:at]
            yield None
            buf = buf[at + len(SESSION_MARKER):]
            at = buf.find(SESSION_MARKER)
        if not more:
            if buf:
                yield buf
            return
        if len(buf) > keep:
            yield buf[:-keep]
            buf = buf[-keep:]


def _gunzip(stream, head: bytes, path) -> Iterator[bytes]:
    """The decompressed bytes of every gzip member in turn.

    A member cut short by a killed recorder and followed by the next
    session cannot be told apart from its successor by decompressing (the
    next member's bytes decode as garbage), so each session starts with
    :data:`SESSION_MARKER` and decoding starts afresh there.  A newline is
    put in so a cut line does not swallow the next session's first event.
    Damaged data after good events is skipped up to the next session.
    """
    decomp = zlib.decompressobj(_GZIP_WBITS)
    produced = broken = False
    for piece in _raw_pieces(stream, head):
        if piece is None:
            yield b"\n"
            decomp = zlib.decompressobj(_GZIP_WBITS)
            broken = False
            continue
        while piece and not broken:
            try:
                out = decomp.decompress(piece)
            except zlib.error as exc:
                if not produced:
                    raise RecordingError(f"{_shown(path)} is not a readable gzip file ({exc})") from None
                yield b"\n"
                broken = True
                break
            if out:
                produced = True
                yield out
            piece = b""
            if decomp.eof:
                piece = decomp.unused_data
                decomp = zlib.decompressobj(_GZIP_WBITS)


def _chunks(path) -> Iterator[bytes]:
    try:
        stream = open(path, "rb")
    except OSError as exc:
        raise RecordingError(f"cannot read recording {_shown(path)}: {_reason(exc)}") from None
    with stream:
        try:
            head = stream.read(2)
            yield from (_gunzip(stream, head, path) if head == GZIP_MAGIC else _plain(stream, head))
        except OSError as exc:
            raise RecordingError(f"cannot read recording {_shown(path)}: {_reason(exc)}") from None


def _sniffed(chunks: Iterator[bytes], path) -> Iterator[bytes]:
    """``chunks`` unchanged, after making sure the content starts like JSON.

    A binary file may hold no newline for megabytes; this rejects it at its
    first byte instead of after reading it whole as one "line".
    """
    for chunk in chunks:
        text = chunk.lstrip()
        if text:
            if text[0] not in _JSON_START:
                raise _not_a_recording(path)
            yield chunk
            break
    yield from chunks


def _lines(chunks: Iterator[bytes]) -> Iterator[tuple[bytes, bool]]:
    """(line, complete) pairs split on b"\\n" only: U+2028 or NEL inside a value is not a line break."""
    pending: list[bytes] = []
    for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                break
            pending.append(chunk[start:end])
            yield b"".join(pending), True
            pending = []
            start = end + 1
        if start < len(chunk):
            pending.append(chunk[start:])
    if pending:
        yield b"".join(pending), False


def _parse(line: bytes) -> object:
    try:
        return loads_json(line)
    except (ValueError, RecursionError):
        return _NOT_JSON


def read_events(path: str, stats: ReadStats | None = None) -> Iterator[dict]:
    """Yield the recorded events in order. Plain or gzip, decided by the file's magic bytes (not the name).

    Blank lines are skipped; a truncated last line (a recorder killed
    mid-write) is ignored; a line that is not a JSON object is counted in
    ``stats`` and skipped rather than fatal.  A missing/unreadable file, or
    one that is neither JSON lines nor gzip of them (the first non-blank line
    is not JSON at all, like a PNG or a SQLite file), raises
    :class:`RecordingError` with one line saying so.
    """
    stats = stats if stats is not None else ReadStats()
    first = True
    for line, complete in _lines(_sniffed(_chunks(path), path)):
        line = line.strip()
        if not line:
            continue
        value = _parse(line)
        if isinstance(value, dict):
            first = False
            stats.events += 1
            yield value
            continue
        if value is _NOT_JSON and line.startswith(b'{"'):
            # the start of a record: cut by a killed recorder, then maybe followed by the next session
            if complete:
                stats.skipped += 1
            else:
                stats.truncated = True
        elif first and value is _NOT_JSON:
            raise _not_a_recording(path)
        else:
            stats.skipped += 1
        first = False


def replay_all(path: str, handler: Callable[[dict], object], stats: ReadStats | None = None) -> int:
    """Feed every recorded event to ``handler`` at once and return how many: for batch and dump modes.

    Raises :class:`RecordingError` for a file that is not a recording.
    """
    count = 0
    for event in read_events(path, stats):
        handler(event)
        count += 1
    return count


def event_time(event: dict) -> float | None:
    """When the event happened, for pacing: when the receiver got it, else when it was sent."""
    if not isinstance(event, dict):
        return None
    for key in ("local_received", "timestamp"):
        value = event.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def _valid_speed(speed: float) -> float:
    speed = float(speed)
    if not math.isfinite(speed) or speed < 0:
        raise ValueError(f"replay speed must be 0 or more, not {speed!r}")
    return speed


class Replayer(threading.Thread):
    """Feeds a recording to ``handler(event)`` (each event a fresh dict) at the recorded pace times ``speed``.

    ``speed`` 0 means as fast as possible.  Pacing uses each event's
    ``local_received`` (else ``timestamp``); a gap longer than ``max_gap``
    wall seconds (after speed) is shortened to ``max_gap`` so a recording
    with an idle hour does not stall the screen.

    The file is opened and its first event read here, so a file that is not
    a recording raises :class:`RecordingError` in the caller's thread, before
    any screen is up.  The controls are thread-safe and take effect at once,
    even in the middle of a long wait.
    """

    def __init__(
        self,
        path: str,
        handler: Callable[[dict], object],
        speed: float = 1.0,
        on_end: Callable[[], object] | None = None,
        max_gap: float = 5.0,
    ):
        super().__init__(name="celerytop-replay", daemon=True)
        self.path = path
        self.handler = handler
        self.on_end = on_end
        self.max_gap = max(0.0, float(max_gap))
        self.stats = ReadStats()
        self.error = ""
        self._cond = threading.Condition()
        self._speed = _valid_speed(speed)
        self._paused = False
        self._steps = 0
        self._stopped = False
        self._finished = False
        self._delivered = 0
        self._clock: float | None = None
        self._events = read_events(path, self.stats)
        self._first = next(self._events, None)

    # -- controls, from any thread --

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._steps = 0
            self._cond.notify_all()

    def toggle_pause(self) -> bool:
        """Pause or resume; True when now paused."""
        with self._cond:
            self._paused = not self._paused
            self._steps = 0
            self._cond.notify_all()
            return self._paused

    def step(self) -> None:
        """Deliver exactly one more event now, and stay (or become) paused."""
        with self._cond:
            self._paused = True
            self._steps += 1
            self._cond.notify_all()

    def set_speed(self, speed: float) -> float:
        with self._cond:
            self._speed = _valid_speed(speed)
            self._cond.notify_all()
            return self._speed

    def faster(self) -> float:
        """Double the speed, up to MAX_SPEED; 0 (as fast as possible) stays 0."""
        with self._cond:
            return self.set_speed(min(self._speed * 2, MAX_SPEED) if self._speed else 0.0)

    def slower(self) -> float:
        """Halve the speed, down to MIN_SPEED; from 0 (unpaced) to MAX_SPEED."""
        with self._cond:
            return self.set_speed(max(self._speed / 2, MIN_SPEED) if self._speed else MAX_SPEED)

    def stop(self, timeout: float | None = 2.0) -> None:
        """End :meth:`run` promptly, paused or waiting; ``on_end`` is not called."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    @property
    def clock(self) -> float | None:
        """The replayed time: ``local_received`` (or ``timestamp``) of the last event delivered."""
        with self._cond:
            return self._clock

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    @property
    def speed(self) -> float:
        with self._cond:
            return self._speed

    @property
    def delivered(self) -> int:
        with self._cond:
            return self._delivered

    @property
    def finished(self) -> bool:
        """The recording was played to its end (or to a read error); False after :meth:`stop`."""
        with self._cond:
            return self._finished

    # -- the thread --

    def run(self) -> None:
        try:
            if not self._play():
                return
        except RecordingError as exc:
            self.error = str(exc)
        finally:
            self._events.close()
        with self._cond:
            if self._stopped:
                return
            self._finished = True
        if self.on_end is not None:
            try:
                self.on_end()
            except Exception:  # noqa: BLE001 - a traceback on stderr would tear the screen
                log.exception("replay on_end failed")

    def _play(self) -> bool:
        """Deliver every event on time; False when stopped."""
        if self._first is None:
            return not self._stopped
        previous: float | None = None
        late = 0.0
        events = self._events
        event, self._first = self._first, None
        while event is not None:
            at = event_time(event)
            gap = 0.0 if at is None or previous is None else max(0.0, at - previous)
            waited = self._wait(gap - late)
            if waited is None:
                return False
            late, speed = waited
            started = time.monotonic()
            self._deliver(event, at)
            late = min(late + (time.monotonic() - started) * speed, speed)
            if at is not None:
                previous = at if previous is None else max(previous, at)
            event = next(events, None)
        return True

    def _wait(self, remaining: float) -> tuple[float, float] | None:
        """Wait until ``remaining`` replayed seconds have passed at the current speed.

        Returns (replayed seconds we are late by, speed) or None when
        stopped.  Pausing, stepping or unpaced play forgive any lateness.
        """
        budget = self.max_gap
        with self._cond:
            while True:
                if self._stopped:
                    return None
                if self._steps:
                    self._steps -= 1
                    return 0.0, self._speed
                if self._paused:
                    self._cond.wait()
                    continue
                speed = self._speed
                if speed == 0:
                    return 0.0, speed
                if remaining <= 0:
                    return -remaining, speed
                if budget <= 0:
                    return 0.0, speed
                wait = min(remaining / speed, budget)
                started = time.monotonic()
                self._cond.wait(wait)
                elapsed = time.monotonic() - started
                remaining -= elapsed * speed
                budget -= elapsed

    def _deliver(self, event: dict, at: float | None) -> None:
        try:
            self.handler(event)
        except Exception:  # noqa: BLE001 - one bad event must not end the replay
            log.exception("replay handler failed on a %s event", sanitize(event.get("type"), limit=80))
        with self._cond:
            self._delivered += 1
            if at is not None:
                self._clock = at
