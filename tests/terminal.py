"""Run a real program in a pseudo-terminal and read its screen as a person would see it.

The program gets a new pty as its stdin/stdout/stderr and controlling terminal, in a
session of its own, so resizing (SIGWINCH) and Ctrl-C work as in a real terminal.
Everything it writes is fed to a pyte screen by a background thread::

    with Terminal([sys.executable, "-m", "celerytop"], cols=100, rows=30) as term:
        term.wait_for("Workers")
        assert term.fg("ONLINE") == "green"
        term.press("down", "enter")
        term.resize(60, 20)
        term.press("q")
        assert term.wait_exit() == 0
        assert term.modes_left_on() == set()
        assert term.tty_attrs() == term.initial_tty_attrs

Colour names (see `normalise_colour`)
-------------------------------------
``fg()``/``bg()`` return one of ``'default'``, the eight base names ``'black'``, ``'red'``,
``'green'``, ``'yellow'``, ``'blue'``, ``'magenta'``, ``'cyan'``, ``'white'``, or the same
prefixed with ``'bright'``.  The bright variants are kept only where they are unambiguous,
i.e. where the program selected a *palette* colour: SGR 90-97/100-107 or the 256-colour
indexes 8-15 (``38;5;8``..``38;5;15``).  Any other 256-colour or 24-bit colour has no palette
slot, so it is folded to the base name of its nearest hue.  Pass ``bright=False`` to fold
bright names to their base name too.  With urwid under TERM=xterm-256color:

    =============  ====================  ===============  ===================
    urwid colour   SGR urwid emits       fg()             fg(bright=False)
    =============  ====================  ===============  ===================
    'dark green'   32                    'green'          'green'
    'light green'  92                    'brightgreen'    'green'
    'brown'        33                    'yellow'         'yellow'
    'yellow'       93                    'brightyellow'   'yellow'
    'light gray'   37                    'white'          'white'
    'white'        97                    'brightwhite'    'white'
    'dark gray'    90                    'brightblack'    'black'
    'h34'          38;5;34 (#00af00)     'green'          'green'
    =============  ====================  ===============  ===================

Terminal queries
----------------
Like xterm, the terminal answers queries by default (``answer_queries=True``): DECRQM
(``CSI ? Ps $ p``, which urwid >= 5 sends at start-up to decide on bracketed paste and
focus reporting) for the private modes xterm supports, and pyte's own answers to DA and
DSR (cursor position).  Without answers urwid leaves bracketed paste off.
"""

from __future__ import annotations

import ast
import colorsys
import errno
import fcntl
import inspect
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import textwrap
import threading
import time
from typing import Callable, Iterable, Union

import pyte
from pyte import graphics
from wcwidth import wcwidth

__all__ = ["Terminal", "KEYS", "normalise_colour"]

#: What an xterm sends for each named key (normal cursor-key mode, which urwid leaves on).
KEYS: dict[str, bytes] = {
    "up": b"\x1b[A",
    "down": b"\x1b[B",
    "right": b"\x1b[C",
    "left": b"\x1b[D",
    "pgup": b"\x1b[5~",
    "pgdn": b"\x1b[6~",
    "home": b"\x1b[H",
    "end": b"\x1b[F",
    "insert": b"\x1b[2~",
    "delete": b"\x1b[3~",
    "tab": b"\t",
    "shift-tab": b"\x1b[Z",
    "enter": b"\r",
    "esc": b"\x1b",
    "backspace": b"\x7f",
    "space": b" ",
    "f1": b"\x1bOP",
    "f2": b"\x1bOQ",
    "f3": b"\x1bOR",
    "f4": b"\x1bOS",
    "f5": b"\x1b[15~",
    "f6": b"\x1b[17~",
    "f7": b"\x1b[18~",
    "f8": b"\x1b[19~",
    "f9": b"\x1b[20~",
    "f10": b"\x1b[21~",
    "f11": b"\x1b[23~",
    "f12": b"\x1b[24~",
}
# ctrl-a .. ctrl-z ('ctrl-c' is \x03: SIGINT while the tty has ISIG on, as urwid leaves it).
KEYS.update({f"ctrl-{c}": bytes([ord(c) - ord("a") + 1]) for c in "abcdefghijklmnopqrstuvwxyz"})

#: urwid needs this long (complete_wait = 0.125 s) to tell a lone Esc from the start of a sequence.
ESC_WAIT = 0.2

#: Private modes `modes_left_on` tracks: name reported when the mode is left *set*.
#: 25 is the other way round: it is reported as 'cursor-hidden' when left *reset*.
TRACKED_MODES = {
    47: "47",  # alternate screen (old form)
    1047: "1047",  # alternate screen
    1049: "1049",  # alternate screen + saved cursor, what urwid uses
    1000: "1000",  # mouse: button press/release
    1002: "1002",  # mouse: button motion
    1003: "1003",  # mouse: any motion
    1006: "1006",  # mouse: SGR coordinates
    1004: "1004",  # focus in/out reports
    2004: "2004",  # bracketed paste
}

#: Private modes the terminal claims to know when asked with DECRQM, with their initial state.
#: 2026 (synchronised output) and 2027 (grapheme clustering) are answered "not recognised":
#: pyte implements neither, and xterm does not either.
DECRQM_MODES = {1: False, 7: True, 25: True, 47: False, 1000: False, 1002: False, 1003: False,
                1004: False, 1005: False, 1006: False, 1015: False, 1047: False, 1049: False,
                2004: False}

_PRIVATE_MODE_RE = re.compile(rb"\x1b\[\?([0-9;]*)([hl])|\x1bc")
_DECRQM_RE = re.compile(rb"\x1b\[\?([0-9]{1,5})\$p")

_BASE = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
_PYTE_NAMES = {
    # pyte calls SGR 33/43 'brown' and misspells SGR 105 'bfightmagenta'.
    "brown": "yellow",
    "brightbrown": "brightyellow",
    "bfightmagenta": "brightmagenta",
}
_PALETTE_HEX = {graphics.FG_BG_256[i]: _BASE[i % 8] for i in range(16)}


def normalise_colour(value: str, bright: bool = True) -> str:
    """Turn a pyte colour ('green', 'brightbrown', '00af00', 'default') into a basic colour name.

    Named colours come from SGR 30-37/40-47 (base) or 90-97/100-107 (bright; kept as
    'bright<name>' unless ``bright`` is False).  Hex colours are the xterm 256-colour cube and
    grey ramp, or 24-bit colours: they are folded to a base name: the 16 palette values map to
    their slot's base name, greys (saturation < 0.25) to 'black' below half brightness and
    'white' above, anything else to the nearest of the six hues (red 0, yellow 60, green 120,
    cyan 180, blue 240, magenta 300 degrees).
    """
    if value == "default":
        return value
    value = _PYTE_NAMES.get(value, value)
    if value in _BASE or (value.startswith("bright") and value[6:] in _BASE):
        return value if bright else value.removeprefix("bright")
    hexval = value.lower().lstrip("#")
    if not re.fullmatch(r"[0-9a-f]{6}", hexval):
        return value  # not something we know how to read: leave it for the test to see
    if hexval in _PALETTE_HEX:
        return _PALETTE_HEX[hexval]
    r, g, b = (int(hexval[i:i + 2], 16) / 255 for i in (0, 2, 4))
    hue, sat, val = colorsys.rgb_to_hsv(r, g, b)
    if sat < 0.25 or val < 0.15:
        return "black" if val < 0.5 else "white"
    sector = int(((hue * 360 + 30) % 360) // 60)
    return ("red", "yellow", "green", "cyan", "blue", "magenta")[sector]


class _Screen(pyte.Screen):
    """pyte.Screen that keeps palette colours 0-15 as names and can answer the program."""

    def __init__(self, columns: int, lines: int, respond: Callable[[str], None] | None) -> None:
        self._respond = respond
        super().__init__(columns, lines)

    def select_graphic_rendition(self, *attrs: int) -> None:
        # 38;5;n / 48;5;n with n < 16 name a palette slot: pass them on as the equivalent
        # 16-colour SGR so pyte reports 'green'/'brightgreen' instead of an ambiguous hex
        # value ('ff0000' is both slot 9 and cube entry 196).
        out: list[int] = []
        i = 0
        while i < len(attrs):
            a = attrs[i]
            if a in (38, 48) and i + 1 < len(attrs):
                if attrs[i + 1] == 5 and i + 2 < len(attrs):
                    n = attrs[i + 2]
                    if n < 16:
                        base = 30 if a == 38 else 40
                        out.append(base + n if n < 8 else base + 60 + n - 8)
                    else:
                        out.extend(attrs[i:i + 3])
                    i += 3
                    continue
                if attrs[i + 1] == 2:
                    out.extend(attrs[i:i + 5])
                    i += 5
                    continue
            out.append(a)
            i += 1
        super().select_graphic_rendition(*out)

    def write_process_input(self, data: str) -> None:
        if self._respond is not None:
            self._respond(data)


def _private_mode_states(raw: bytes) -> dict[int, bool]:
    """Final set (True) / reset (False) state of every DEC private mode mentioned in ``raw``."""
    states: dict[int, bool] = {}
    for m in _PRIVATE_MODE_RE.finditer(raw):
        if m.group(0) == b"\x1bc":  # RIS: full reset
            states.clear()
            continue
        on = m.group(2) == b"h"
        for p in m.group(1).split(b";"):
            if p:
                states[int(p)] = on
    return states


class Terminal:
    """A program running in a pseudo-terminal of ``cols`` x ``rows``, read through pyte."""

    def __init__(self, argv: list[str], cols: int = 80, rows: int = 24,
                 env: dict[str, str] | None = None, cwd: str | os.PathLike | None = None,
                 answer_queries: bool = True) -> None:
        self.argv = list(argv)
        self.cols, self.rows = cols, rows
        self.answer_queries = answer_queries
        self.raw = bytearray()
        #: exceptions raised by pyte while feeding output (the reader carries on regardless)
        self.feed_errors: list[BaseException] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._eof = threading.Event()
        self._closed = False
        self._query_pos = 0
        self._last_output = time.monotonic()

        self.screen = _Screen(cols, rows, self._respond_str if answer_queries else None)
        self.stream = pyte.ByteStream(self.screen)

        child_env = dict(os.environ)
        for name in ("COLUMNS", "LINES",
                     # everything urwid >= 5 reads to pick a colour depth other than TERM's,
                     # so the screen does not depend on the terminal the tests were run from
                     "COLORTERM", "NO_COLOR", "FORCE_COLOR", "CLICOLOR", "CLICOLOR_FORCE",
                     "TERM_PROGRAM", "TERM_PROGRAM_VERSION", "WT_SESSION", "WT_PROFILE_ID",
                     "ConEmuANSI", "ConEmuPID", "TERMINFO", "TERMINFO_DIRS"):
            child_env.pop(name, None)
        child_env.update(TERM="xterm-256color", LANG="C.UTF-8", LC_ALL="C.UTF-8")
        if env:
            child_env.update(env)
        self.env = child_env

        self.master_fd, slave_fd = pty.openpty()
        try:
            self.slave_name = os.ttyname(slave_fd)
            self._set_winsize(self.master_fd, cols, rows)
            self.initial_tty_attrs = termios.tcgetattr(slave_fd)
            self.proc = subprocess.Popen(
                self.argv, stdin=slave_fd, stdout=slave_fd, stderr=slave_fd,
                env=child_env, cwd=cwd, close_fds=True,
                start_new_session=True,  # os.setsid() in the child, before preexec_fn
                preexec_fn=_acquire_controlling_tty,
            )
        except BaseException:
            os.close(slave_fd)
            os.close(self.master_fd)
            raise
        # Only the child holds the slave now, so reading the master ends (EIO) once it is gone.
        os.close(slave_fd)
        self.pid = self.proc.pid
        self._reader = threading.Thread(target=self._read_loop, name=f"pty-reader-{self.pid}",
                                        daemon=True)
        self._reader.start()

    # -- life cycle --------------------------------------------------------------------------

    def __enter__(self) -> "Terminal":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Stop the program if still running (SIGTERM, SIGKILL after 5 s), then release the pty."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.proc.poll() is None:
                self._signal(signal.SIGTERM)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
                    self.proc.wait()
        finally:
            # Let the reader drain to EOF; a leftover grandchild may hold the slave open.
            self._reader.join(2)
            self._stop.set()
            self._reader.join()
            os.close(self.master_fd)

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)  # the program and anything it started in its session
        except (ProcessLookupError, PermissionError):
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    @property
    def returncode(self) -> int | None:
        """The exit status (negative: killed by that signal), None while running."""
        return self.proc.poll()

    def wait_exit(self, timeout: float = 10.0) -> int:
        """Wait for the program to end and return its returncode; also reads its output to EOF."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"program still running after {timeout} s\n{self.describe()}") from None
        self._reader.join(2)
        return rc

    # -- reading the screen --------------------------------------------------------------------

    def _read_loop(self) -> None:
        poller = select.poll()
        poller.register(self.master_fd, select.POLLIN)
        try:
            while not self._stop.is_set():
                if not poller.poll(100):
                    continue
                try:
                    data = os.read(self.master_fd, 65536)
                except OSError as e:
                    if e.errno not in (errno.EIO, errno.EBADF):
                        self.feed_errors.append(e)
                    break  # EIO: the child and every other holder of the slave are gone
                if not data:
                    break
                with self._lock:
                    self._last_output = time.monotonic()
                    self.raw.extend(data)
                    try:
                        self.stream.feed(data)
                    except Exception as e:  # keep reading: a frozen screen is worse
                        self.feed_errors.append(e)
                    if self.answer_queries:
                        self._answer_decrqm()
        finally:
            self._eof.set()

    def _answer_decrqm(self) -> None:
        last_end = self._query_pos
        for m in _DECRQM_RE.finditer(self.raw, self._query_pos):
            mode = int(m.group(1))
            if mode in DECRQM_MODES:
                state = _private_mode_states(bytes(self.raw[:m.start()])).get(
                    mode, DECRQM_MODES[mode])
                value = 1 if state else 2
            else:
                value = 0
            self._respond(b"\x1b[?%d;%d$y" % (mode, value))
            last_end = m.end()
        # a query is at most 11 bytes: anything older than this is complete and was seen
        self._query_pos = max(last_end, len(self.raw) - 16)

    def _respond_str(self, data: str) -> None:
        self._respond(data.encode())

    def _respond(self, data: bytes) -> None:
        try:
            os.write(self.master_fd, data)
        except OSError:
            pass

    def lines(self) -> list[str]:
        """The screen's rows as text (a double-width character takes one string position)."""
        with self._lock:
            return list(self.screen.display)

    def text(self) -> str:
        return "\n".join(self.lines())

    def _row(self, y: int) -> tuple[str, list[int]]:
        """Row ``y`` as text plus the screen column of each code point."""
        line = self.screen.buffer[y]
        chars: list[str] = []
        columns: list[int] = []
        skip = False
        for x in range(self.screen.columns):
            if skip:  # the empty cell after a double-width character
                skip = False
                continue
            data = line[x].data
            chars.append(data)
            columns.extend([x] * len(data))
            skip = bool(data) and wcwidth(data[0]) == 2
        return "".join(chars), columns

    def find(self, text: str) -> tuple[int, int] | None:
        """(row, column) of the first occurrence of ``text`` on screen, or None."""
        with self._lock:
            for y in range(self.screen.lines):
                row, columns = self._row(y)
                i = row.find(text)
                if i >= 0:
                    return y, columns[i]
        return None

    def char(self, text: str):
        """The pyte Char (data, fg, bg, bold, reverse, ...) of the first character of ``text``."""
        with self._lock:
            pos = self.find(text)
            return None if pos is None else self.screen.buffer[pos[0]][pos[1]]

    def fg(self, text: str, bright: bool = True) -> str | None:
        """Foreground colour of the first character of ``text`` (see `normalise_colour`)."""
        c = self.char(text)
        return None if c is None else normalise_colour(c.fg, bright)

    def bg(self, text: str, bright: bool = True) -> str | None:
        """Background colour of the first character of ``text`` (see `normalise_colour`)."""
        c = self.char(text)
        return None if c is None else normalise_colour(c.bg, bright)

    def is_bold(self, text: str) -> bool:
        """Whether the first character of ``text`` is bold; AssertionError if ``text`` is not shown."""
        c = self.char(text)
        if c is None:
            raise AssertionError(f"{text!r} is not on the screen\n{self.describe()}")
        return bool(c.bold)

    # -- waiting ---------------------------------------------------------------------------------

    def wait_for(self, predicate_or_text: Union[str, Callable[["Terminal"], object]],
                 timeout: float = 15.0) -> None:
        """Poll until the text is on screen / ``predicate(self)`` is truthy.

        Raises AssertionError with the whole screen on timeout, or as soon as the program has
        ended and its output is read to the end (the screen can no longer change).
        """
        if isinstance(predicate_or_text, str):
            needle = predicate_or_text
            what = f"{needle!r} to appear"
            predicate = lambda term: needle in term.text()  # noqa: E731
        else:
            predicate = predicate_or_text
            what = f"{_describe_predicate(predicate)} to be true"
        self._wait(predicate, what, timeout)

    def wait_gone(self, text: str, timeout: float = 15.0) -> None:
        """Poll until ``text`` is no longer on screen."""
        self._wait(lambda term: text not in term.text(), f"{text!r} to disappear", timeout)

    #: how long the output must pause before a true predicate counts: a frame larger than
    #: the pty buffer arrives in pieces, and a title drawn before its rows must not let a
    #: test read the rows of the previous frame
    SETTLE = 0.05

    def _wait(self, predicate, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        true_since = None
        while True:
            finished = self._eof.is_set()
            if predicate(self):
                now = time.monotonic()
                true_since = true_since or now
                quiet_for = now - self._last_output
                # a program that never pauses (a busy screen) is taken as it is after 1 s
                if finished or quiet_for >= self.SETTLE or now - true_since > 1.0:
                    return
                time.sleep(self.SETTLE - quiet_for)
                continue  # re-check on the settled screen: the rest of the frame may undo it
            true_since = None
            if finished:
                raise AssertionError(f"program ended while waiting for {what}\n{self.describe()}")
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}\n"
                                     f"{self.describe()}")
            time.sleep(0.01)

    def describe(self) -> str:
        """The program's state and the whole screen, framed, for assertion messages."""
        rc = self.returncode
        state = "still running" if rc is None else f"exited with returncode {rc}"
        with self._lock:
            rows = list(self.screen.display)
            cols = self.screen.columns
            cursor = (self.screen.cursor.y, self.screen.cursor.x)
        width = len(str(len(rows)))
        out = [f"program {self.argv!r} {state}; screen {cols}x{len(rows)}, cursor (row, col) {cursor}:",
               " " * width + " +" + "-" * cols + "+"]
        out += [f"{y:>{width}} |{row}|" for y, row in enumerate(rows)]
        out.append(" " * width + " +" + "-" * cols + "+")
        if self.feed_errors:
            out.append(f"errors while reading the output: {self.feed_errors!r}")
        return "\n".join(out)

    # -- input -----------------------------------------------------------------------------------

    def send(self, data: Union[bytes, str]) -> None:
        """Write raw bytes (or text as UTF-8) to the program's terminal, with no pause."""
        if isinstance(data, str):
            data = data.encode()
        view = memoryview(data)
        while view:
            n = os.write(self.master_fd, view)
            view = view[n:]

    def press(self, *keys: Union[str, bytes], pause: float = 0.05) -> None:
        """Type keys one after another, ``pause`` seconds apart.

        Each key is bytes (sent as is), a name from `KEYS` ('up', 'enter', 'esc', 'ctrl-c', ...)
        or a single character (sent as UTF-8).  Another string raises ValueError so that a
        misspelt key name is not typed as text; use `send` for text.  After Esc the pause is
        at least 0.2 s, so urwid reads it as a lone Esc and not as the start of a sequence.
        """
        for key in keys:
            if isinstance(key, (bytes, bytearray)):
                data = bytes(key)
            elif key in KEYS:
                data = KEYS[key]
            elif isinstance(key, str) and len(key) == 1:
                data = key.encode()
            else:
                raise ValueError(f"unknown key {key!r}: use a name from KEYS, a single "
                                 f"character or bytes (Terminal.send types text)")
            self.send(data)
            time.sleep(max(pause, ESC_WAIT) if data == b"\x1b" else pause)

    def resize(self, cols: int, rows: int) -> None:
        """Resize the terminal, as a person dragging the window would."""
        with self._lock:
            # pyte first, under the lock: output drawn for the new size lands on the new screen
            self.screen.resize(lines=rows, columns=cols)
            self._set_winsize(self.master_fd, cols, rows)  # the kernel sends SIGWINCH
            self.cols, self.rows = cols, rows
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGWINCH)  # in case the kernel did not deliver it
            except ProcessLookupError:
                pass

    @staticmethod
    def _set_winsize(fd: int, cols: int, rows: int) -> None:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    # -- terminal state --------------------------------------------------------------------------

    def tty_attrs(self) -> list:
        """termios.tcgetattr of the slave side now (compare with ``initial_tty_attrs``)."""
        try:
            fd = os.open(self.slave_name, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            # On Linux the master reports the slave's settings.
            return termios.tcgetattr(self.master_fd)
        try:
            return termios.tcgetattr(fd)
        finally:
            os.close(fd)

    def modes_left_on(self, modes: Iterable[int] | None = None) -> set[str]:
        """DEC private modes the program set (``CSI ? n h``) and did not reset later.

        Looks at 1049, 1047, 47 (alternate screen), 1000, 1002, 1003, 1006 (mouse), 1004
        (focus reports), 2004 (bracketed paste) -- or only at ``modes`` -- and reports them
        by number as strings, plus 'cursor-hidden' when ``CSI ? 25 l`` was not followed by
        ``CSI ? 25 h``.  An empty set means the program left the terminal as it found it.
        """
        if self.proc.poll() is not None:
            self._reader.join(2)  # the program is gone: include everything it wrote
        with self._lock:
            states = _private_mode_states(bytes(self.raw))
        wanted = set(TRACKED_MODES) | {25} if modes is None else set(modes)
        left = {TRACKED_MODES.get(m, str(m)) for m, on in states.items()
                if on and m in wanted and m != 25}
        if 25 in wanted and states.get(25) is False:
            left.add("cursor-hidden")
        return left


def _acquire_controlling_tty() -> None:
    # Runs in the child after setsid() and after the slave became fds 0-2.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _describe_predicate(predicate) -> str:
    """The source of a lambda (for failure messages), else the callable's name."""
    name = getattr(predicate, "__qualname__", None) or repr(predicate)
    code = getattr(predicate, "__code__", None)
    if code is None or code.co_name != "<lambda>":
        return name
    try:
        src = textwrap.dedent(inspect.getsource(predicate))
        tree = ast.parse(src)
    except (OSError, TypeError, SyntaxError):
        return name
    for node in ast.walk(tree):
        if isinstance(node, ast.Lambda):
            segment = ast.get_source_segment(src, node)
            try:
                compiled = compile(segment, "<lambda>", "eval")
            except SyntaxError:
                continue
            if any(getattr(c, "co_code", None) == code.co_code for c in compiled.co_consts):
                return segment
    return name
