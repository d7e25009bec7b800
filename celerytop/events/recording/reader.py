"""Reading a recording back: its events in order, forgiving what a killed recorder leaves behind.

A recording is JSON lines, plain or gzip-compressed (decided by the file's
magic bytes, not its name).  Recordings are written by a process that can
be killed at any moment and appended to by the next session, so the reader
forgives what that leaves behind (a cut last line, a cut gzip member
followed by a new one) and only refuses files that were never recordings.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from typing import Callable, Iterator

from celerytop.events.fastjson import loads_json
from celerytop.present.formatting import sanitize

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
#: Bytes that can begin a JSON value; anything else first means "not a recording".
_JSON_START = frozenset(b'{["-0123456789tfnNI')
_NOT_JSON = object()


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


def shown_path(path) -> str:
    """``path`` as an error message may show it: one line, bounded."""
    return sanitize(os.fspath(path), limit=300)


def os_error_reason(exc: OSError) -> str:
    """What went wrong, in the system's words, on one line."""
    return exc.strerror or " ".join(str(exc).split()) or exc.__class__.__name__


def _not_a_recording(path) -> RecordingError:
    return RecordingError(f"{shown_path(path)} is not a celerytop recording (JSON lines, plain or gzip)")


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
                    raise RecordingError(f"{shown_path(path)} is not a readable gzip file ({exc})") from None
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
        raise RecordingError(f"cannot read recording {shown_path(path)}: {os_error_reason(exc)}") from None
    with stream:
        try:
            head = stream.read(2)
            yield from (_gunzip(stream, head, path) if head == GZIP_MAGIC else _plain(stream, head))
        except OSError as exc:
            raise RecordingError(f"cannot read recording {shown_path(path)}: {os_error_reason(exc)}") from None


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

