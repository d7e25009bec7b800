"""Task and worker history in an SQLite file (``--db PATH``).

A :class:`SnapshotCamera` saves the model every few seconds and once more on
exit; the next celerytop loads the file before the first event arrives, so
the screen starts with the history.  One table row per task (a JSON record
from :meth:`ClusterModel.export_changes`, its ``seq`` for order and its state
for bounding failures apart), one per worker, and one per part of the
model's aggregates (rate and other histories, type stats, failure groups:
model/aggregates_store.py) in the ``aggregates`` table.  That table came
later: a file without it opens as before (the first save adds it), and an
older celerytop reads a file with it and ignores it.

The file is in WAL mode, so a second celerytop can read it while the first
writes; only one may write at a time (an ``flock`` on ``PATH.lock``, which
the kernel drops when the holder dies, so a killed celerytop never leaves a
stale lock).  Every save is one transaction: a process killed mid-save leaves
the file as the last completed save had it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
from decimal import Decimal
from typing import NamedTuple

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer at a time is not enforced there
    fcntl = None

from celerytop.present.errors import one_line_error

#: meta(application) and PRAGMA application_id ("ctop") mark our files.
APPLICATION = "celerytop"
APPLICATION_ID = 0x63746F70
#: Bumped when a new celerytop writes what an older one cannot read.
SCHEMA_VERSION = 1
SQLITE_HEADER = b"SQLite format 3\x00"
#: Seconds to wait for a lock another program holds before reporting it, never hanging.
BUSY_TIMEOUT = 2.0
FAILURE = "FAILURE"

_AGGREGATES_TABLE = "CREATE TABLE IF NOT EXISTS aggregates (part TEXT PRIMARY KEY, data TEXT NOT NULL)"
_UPSERT_AGGREGATE = ("INSERT INTO aggregates (part, data) VALUES (?, ?) ON CONFLICT (part) DO UPDATE"
                     " SET data = excluded.data")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tasks (uuid TEXT PRIMARY KEY, seq INTEGER NOT NULL, state TEXT NOT NULL,"
    " data TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS tasks_state_seq ON tasks (state, seq)",
    "CREATE INDEX IF NOT EXISTS tasks_seq ON tasks (seq)",
    "CREATE TABLE IF NOT EXISTS workers (hostname TEXT PRIMARY KEY, data TEXT NOT NULL)",
    _AGGREGATES_TABLE,
)
_UPSERT_TASK = ("INSERT INTO tasks (uuid, seq, state, data) VALUES (?, ?, ?, ?) ON CONFLICT (uuid) DO UPDATE"
                " SET seq = excluded.seq, state = excluded.state, data = excluded.data")
_UPSERT_WORKER = ("INSERT INTO workers (hostname, data) VALUES (?, ?) ON CONFLICT (hostname) DO UPDATE"
                  " SET data = excluded.data")
#: The oldest rows beyond a bound: failures (state = ?) and the rest (state != ?) apart.
_TRIM = ("DELETE FROM tasks WHERE uuid IN"
         " (SELECT uuid FROM tasks WHERE state {} ? ORDER BY seq DESC LIMIT -1 OFFSET ?)")


class FileKind(NamedTuple):
    """What :meth:`Store._inspect` found in the file."""

    kind: str  # "empty", "ours", "foreign" (another program's) or "newer" (a newer celerytop's)
    detail: str = ""  # why, for the error message


class StoreError(RuntimeError):
    """One line for the user."""


class Store:
    """One history file: open or create it, load it into a model, save a model into it."""

    def __init__(self, path: str, timeout: float = BUSY_TIMEOUT):
        self.path = os.fspath(path)
        self.lock_path = self.path + ".lock"
        self.writer_note = ""
        self.load_note = ""  # what load could not restore, for the user (data loss is said)
        self._lock = threading.RLock()
        self._lock_fd: int | None = None
        self._writer = False
        self._full_save_due = True  # the first save (and one after a failed save) writes everything
        self._aggregates_saved: dict = {}  # part -> the text the last save wrote (unchanged parts are not rewritten)
        _check_file(self.path)
        try:
            # used by the camera thread after this one creates it; self._lock serialises
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the history file ({one_line_error(exc)})") from None
        try:
            self._open_schema()
        except BaseException as exc:
            self._db.close()
            self._db = None
            if isinstance(exc, sqlite3.Error):
                raise self._error("cannot open the history file", exc) from None
            raise

    # -- opening -------------------------------------------------------------
    def _open_schema(self) -> None:
        found = self._inspect()
        if found.kind == "empty":
            self._create()
            found = self._inspect()
        if found.kind == "foreign":
            raise StoreError(f"{self.path} is not a celerytop database ({found.detail})")
        if found.kind == "newer":
            raise StoreError(f"{self.path} was written by a newer celerytop ({found.detail}); upgrade to read it")
        # only now, on a file known to be ours: WAL changes the file
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # one fsync per snapshot: cheap every few seconds

    def _inspect(self) -> FileKind:
        """What the open file is: empty, ours, another program's, or ours from a newer celerytop."""
        db = self._db
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = sorted(row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"))
        if not tables and app_id in (0, APPLICATION_ID):
            return FileKind("empty")
        meta = {}
        if "meta" in tables:
            try:
                meta = dict(db.execute("SELECT key, value FROM meta"))
            except sqlite3.Error:  # a table of that name but not ours
                meta = {}
        if meta.get("application") != APPLICATION or app_id not in (0, APPLICATION_ID):
            shown = ", ".join(tables[:3]) + (", ..." if len(tables) > 3 else "")
            return FileKind("foreign", f"an SQLite database of another program, tables: {shown or 'none'}")
        try:
            version = int(meta.get("schema", ""))
        except ValueError:
            return FileKind("foreign", f"unreadable schema version {meta.get('schema')!r}")
        if version > SCHEMA_VERSION:
            return FileKind("newer", f"history schema {version}; this one reads up to {SCHEMA_VERSION}")
        return FileKind("ours")

    def _create(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            # IF NOT EXISTS / OR IGNORE: another celerytop may have created it since we looked
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('application', ?), ('schema', ?)",
                       (APPLICATION, str(SCHEMA_VERSION)))
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute("COMMIT")
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")

    # -- reading -------------------------------------------------------------
    def load(self, model) -> int:
        """Restore every stored task and worker into ``model``, oldest first; returns tasks read."""
        with self._lock:
            db = self._connection()
            try:
                db.execute("BEGIN")  # one read snapshot: tasks and workers of the same save
                try:
                    task_rows = db.execute("SELECT data FROM tasks ORDER BY seq").fetchall()
                    worker_rows = db.execute("SELECT data FROM workers ORDER BY hostname").fetchall()
                    aggregate_rows = db.execute("SELECT part, data FROM aggregates").fetchall() if db.execute(
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'aggregates'").fetchone() else []
                finally:
                    db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._error("cannot read the history", exc) from None
        tasks, workers = _decode(task_rows), _decode(worker_rows)
        decoded = {part: _decode_one(text) for part, text in aggregate_rows}
        aggregates = {part: record for part, record in decoded.items() if record is not None}
        lost = sorted(str(part) for part, record in decoded.items() if record is None)
        self.load_note = (f"history: the saved {', '.join(lost)} in {self.path} could not be read and start"
                          " empty" if lost else "")
        model.restore(tasks, workers, aggregates)
        return len(tasks)

    # -- writing -------------------------------------------------------------
    @property
    def is_writer(self) -> bool:
        return self._writer

    def acquire_writer(self) -> bool:
        """Become the one process that writes the file; False (never waiting) if another has it."""
        with self._lock:
            if self._writer:
                return True
            if fcntl is None:  # pragma: no cover
                self._writer = True
                return True
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                self.writer_note = (f"history: cannot write {self.path} ({one_line_error(exc)});"
                                    " this one only reads it")
                return False
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read_pid(fd)
                os.close(fd)
                who = f"another celerytop (pid {holder})" if holder else "another celerytop"
                self.writer_note = f"history: {who} is writing {self.path}; this one only reads it"
                return False
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._lock_fd, self._writer, self.writer_note = fd, True, ""
            return True

    def save(self, model) -> int:
        """Write what changed in ``model`` since the last save, in one transaction.

        Returns the task and worker rows written.  The first save writes
        everything and drops what the model no longer has; so does the save
        after a failed one, since the failed one's changes are no longer in
        :meth:`ClusterModel.export_changes`.
        """
        with self._lock:
            if not self._writer:
                raise StoreError(self.writer_note or f"{self.path}: not the writer of this history file")
            db = self._connection()
            full = self._full_save_due
            changes = model.export_all() if full else model.export_changes()
            task_rows = [(r["uuid"], r["seq"], r["state"], _encode(r)) for r in changes.tasks]
            worker_rows = [(r["hostname"], _encode(r)) for r in changes.workers]
            parts = changes.aggregates() if changes.aggregates is not None else {}  # built outside the model's lock
            aggregates = {part: _encode(record) for part, record in parts.items()}
            aggregate_rows = [(part, text) for part, text in aggregates.items()
                              if full or self._aggregates_saved.get(part) != text]
            self._full_save_due = True  # until this one commits
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    if full:
                        db.execute("DELETE FROM tasks")
                        db.execute("DELETE FROM workers")
                    db.executemany(_UPSERT_TASK, task_rows)
                    db.executemany(_UPSERT_WORKER, worker_rows)
                    db.executemany("DELETE FROM tasks WHERE uuid = ?", [(uuid,) for uuid in changes.evicted])
                    if aggregate_rows:
                        db.execute(_AGGREGATES_TABLE)  # a file from before the table: added now
                        db.executemany(_UPSERT_AGGREGATE, aggregate_rows)
                    # the model keeps itself within these; this keeps the file so whatever happens
                    db.execute(_TRIM.format("="), (FAILURE, model.max_failures))
                    db.execute(_TRIM.format("!="), (FAILURE, model.max_tasks))
                    db.execute("COMMIT")
                finally:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                raise self._error("saving the history failed", exc) from None
            self._full_save_due = False
            self._aggregates_saved = aggregates
            return len(task_rows) + len(worker_rows)

    def close(self) -> None:
        """Close the file and give up writing; safe to call twice."""
        with self._lock:
            db, self._db = self._db, None
            if db is not None:
                try:
                    db.close()  # the last connection checkpoints the WAL into the file
                except sqlite3.Error:
                    pass
            fd, self._lock_fd = self._lock_fd, None
            if fd is not None:
                os.close(fd)  # releases the flock; the lock file stays, unlinking it would race
            self._writer = False

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"{self.path}: the history file is closed")
        return self._db

    def _error(self, what: str, exc: BaseException) -> StoreError:
        return StoreError(f"{self.path}: {what} ({one_line_error(exc)})")


class SnapshotCamera(threading.Thread):
    """Saves the model every ``interval`` seconds (default 5) while running; stop() saves once more.

    ``on_error(message)`` hears of a failed save, from this thread; the next
    save tries again (and writes everything).
    """

    def __init__(self, store: Store, model, interval: float = 5.0, on_error=None):
        super().__init__(name="celerytop-snapshots", daemon=True)
        self.store = store
        self.model = model
        self.interval = interval
        self.on_error = on_error
        self.saves = 0
        self.last_error = ""
        self._halt = threading.Event()
        self._stop_lock = threading.Lock()
        self._stopped = False

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.snapshot()

    def snapshot(self) -> bool:
        """Save now (if this process is the writer); True when a save completed."""
        if not self.store.is_writer:
            return False
        try:
            self.store.save(self.model)
        except Exception as exc:  # noqa: BLE001 - reported; the camera must keep running
            self.last_error = str(exc) if isinstance(exc, StoreError) else one_line_error(exc)
            if self.on_error is not None:
                self.on_error(self.last_error)
            return False
        self.saves += 1
        self.last_error = ""
        return True

    def stop(self) -> None:
        """The final save, then close the store; safe to call twice."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self._halt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=BUSY_TIMEOUT * 2 + 1)
        self.snapshot()
        self.store.close()


def _check_file(path: str) -> None:
    """Refuse early, with a clear line, what SQLite would only fail on at the first query."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"{path}: {one_line_error(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise StoreError(f"{path} is a directory, not a celerytop database")
    if info.st_size == 0:  # new (touch'ed, or created by a celerytop killed at once)
        return
    try:
        with open(path, "rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"{path}: {one_line_error(exc)}") from None
    if header != SQLITE_HEADER:
        raise StoreError(f"{path} is not a celerytop database (not an SQLite file)")


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _json_default(value):
    """Event fields JSON cannot hold as they are (events may come pickled or msgpacked)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (set, frozenset)):
        return list(value)
    return str(value)


def _encode(record: dict) -> str:
    try:
        return json.dumps(record, default=_json_default, skipkeys=True, separators=(",", ":"))
    except (TypeError, ValueError):  # e.g. a self-referencing extra field: keep the rest
        return json.dumps(dict(record, extra={}), default=_json_default, skipkeys=True, separators=(",", ":"))


def _decode(rows) -> list:
    """JSON rows as dicts; a row that does not decode is skipped, never fatal."""
    return [record for record in (_decode_one(text) for (text,) in rows) if record is not None]


def _decode_one(text) -> dict | None:
    """One JSON record as a dict; None when it is not one."""
    try:
        record = json.loads(text)
    except (TypeError, ValueError):
        return None
    return record if isinstance(record, dict) else None
