"""Tests of the pty + pyte screen harness itself (tests/terminal.py).

They drive a tiny urwid program written to a temporary directory, so each one would fail
if the harness stopped delivering what a person at an xterm would see or do.
"""

import os
import signal
import sys
import textwrap

import pyte
import pytest

from tests.terminal import KEYS, Terminal, _Screen, normalise_colour

APP = textwrap.dedent("""
    import sys
    import urwid

    palette = [
        ("green", "dark green", ""),
        ("red", "dark red", ""),
        ("yellow", "yellow", ""),
        ("brown", "brown", ""),
        ("cyan", "dark cyan", ""),
        ("magenta", "dark magenta", ""),
        ("lightgreen", "light green", ""),
        ("boldred", "dark red,bold", ""),
        ("onblue", "white", "dark blue"),
        ("h34", "default", "default", None, "h34", "default"),
        ("h196", "default", "default", None, "h196", "h21"),
    ]
    size = urwid.Text("size: ?")
    history = []
    keys = urwid.Text("keys:")

    class Sized(urwid.WidgetWrap):
        def render(self, sz, focus=False):
            size.set_text("size: %dx%d" % sz)
            return super().render(sz, focus)

    def on_key(key):
        if key == "q":
            raise urwid.ExitMainLoop()
        history.append(key.replace(" ", "_"))
        keys.set_text("keys: " + " ".join(history[-6:]))

    body = urwid.Pile([
        urwid.Text([("green", "GREEN"), " ", ("red", "RED"), " ", ("yellow", "YELLOW"), " ",
                    ("brown", "BROWN"), " ", ("cyan", "CYAN"), " ", ("magenta", "MAGENTA")]),
        urwid.Text([("lightgreen", "LIGHTGREEN"), " ", ("boldred", "BOLDRED"), " ",
                    ("onblue", "ONBLUE"), " ", ("h34", "HUE34"), " ", ("h196", "HUE196"), " plain"]),
        size,
        keys,
    ])
    urwid.MainLoop(Sized(urwid.Filler(body, "top")), palette, unhandled_input=on_key).run()
    sys.exit(int(sys.argv[1]))
""")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    path = tmp_path_factory.mktemp("harness") / "app.py"
    path.write_text(APP)
    return path


def start(app, code=0, **kwargs):
    term = Terminal([sys.executable, str(app), str(code)], **kwargs)
    term.wait_for("keys:", timeout=10)
    return term


def test_text_and_colours_16_and_256(app):
    with start(app, cols=70, rows=8) as term:
        assert term.find("GREEN") == (0, 0)
        assert term.find("size: 70x8") == (2, 0)
        assert len(term.lines()) == 8 and all(len(line) == 70 for line in term.lines())
        assert term.text().splitlines()[1].startswith("LIGHTGREEN BOLDRED ONBLUE HUE34")

        # 16 colours: urwid's names -> SGR 3x / 9x -> pyte names (and 'brown') -> ours
        assert term.fg("GREEN") == "green"
        assert term.fg("RED") == "red"
        assert term.fg("YELLOW") == "brightyellow"  # urwid's 'yellow' is the bright one
        assert term.fg("YELLOW", bright=False) == "yellow"
        assert term.fg("BROWN") == "yellow"  # pyte calls it 'brown'
        assert term.fg("CYAN") == "cyan"
        assert term.fg("MAGENTA") == "magenta"
        assert term.fg("LIGHTGREEN") == "brightgreen"
        assert term.fg("LIGHTGREEN", bright=False) == "green"
        assert term.fg("plain") == "default" and term.bg("plain") == "default"
        assert term.is_bold("BOLDRED") and not term.is_bold("RED")
        assert (term.fg("ONBLUE"), term.bg("ONBLUE")) == ("brightwhite", "blue")

        # 256 colours: pyte reports hex, folded to the nearest basic hue
        assert b"38;5;34" in term.raw and b"38;5;196" in term.raw and b"48;5;21" in term.raw
        assert term.fg("HUE34") == "green"
        assert (term.fg("HUE196"), term.bg("HUE196")) == ("red", "blue")

        assert term.fg("not on screen") is None


def test_keys_and_lone_esc(app):
    with start(app) as term:
        # Esc directly followed by 'x' must reach urwid as two keys, not as 'meta x'
        term.press("up", "esc", "x", "shift-tab", "f1", "pgdn")
        term.wait_for("keys: up esc x shift_tab f1 page_down", timeout=5)
        term.press("enter", b"\x1b[B", "é", "space", "backspace", "home")
        term.wait_for("keys: enter down é _ backspace home", timeout=5)
        with pytest.raises(ValueError):
            term.press("dwon")


def test_resize_reaches_program_and_screen(app):
    with start(app) as term:
        term.wait_for("size: 80x24")
        term.resize(50, 10)
        term.wait_for("size: 50x10", timeout=5)
        assert len(term.lines()) == 10 and all(len(line) == 50 for line in term.lines())
        term.resize(90, 30)
        term.wait_for("size: 90x30", timeout=5)


def test_exit_code_and_terminal_restored(app):
    with start(app, code=3) as term:
        # while urwid runs, the tty is in cbreak mode and the screen modes are on,
        # so the checks below are not vacuous
        assert term.tty_attrs() != term.initial_tty_attrs
        on = term.modes_left_on()
        assert {"1049", "1000", "cursor-hidden"} <= on
        assert "2004" in on  # urwid asked with DECRQM, the harness answered as xterm does
        assert term.returncode is None
        term.press("q")
        assert term.wait_exit() == 3
        assert term.returncode == 3
        assert term.modes_left_on() == set()
        assert term.tty_attrs() == term.initial_tty_attrs


def test_ctrl_c_goes_through_the_controlling_terminal(app):
    with start(app) as term:
        term.press("ctrl-c")
        assert term.wait_exit() == -signal.SIGINT
        assert term.modes_left_on() == set()
        assert term.tty_attrs() == term.initial_tty_attrs


def test_sigkill_leaves_terminal_dirty(app):
    with start(app) as term:
        os.kill(term.pid, signal.SIGKILL)
        assert term.wait_exit() == -signal.SIGKILL
        assert {"1049", "1000", "1002", "1006", "2004", "cursor-hidden"} <= term.modes_left_on()
        assert term.tty_attrs() != term.initial_tty_attrs


def test_failures_show_what_was_awaited_and_the_screen(app):
    with start(app, cols=40, rows=6) as term:
        with pytest.raises(AssertionError) as exc:
            term.wait_for("NOT THERE", timeout=0.2)
        message = str(exc.value)
        assert "'NOT THERE'" in message and "still running" in message
        assert "|size: 40x6" in message
        with pytest.raises(AssertionError, match=r"lambda t: t\.fg\('GREEN'\) == 'blue'"):
            term.wait_for(lambda t: t.fg('GREEN') == 'blue', timeout=0.2)
        with pytest.raises(AssertionError, match="'GREEN' to disappear"):
            term.wait_gone("GREEN", timeout=0.2)
        term.press("q")
        # the program is gone: fail at once instead of waiting for the timeout
        with pytest.raises(AssertionError, match="program ended"):
            term.wait_for("NOT THERE", timeout=30)
    # leaving the with block of a program that ignores nothing stops it with SIGTERM
    with start(app) as term:
        pass
    assert term.returncode == -signal.SIGTERM


def test_a_wait_sees_the_whole_frame_not_its_first_piece(tmp_path):
    # The title arrives first and the rows 25 ms later, as when a frame outgrows the pty
    # buffer; a test that waits for the title and then reads the rows must see the new ones.
    script = tmp_path / "frame.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        sys.stdout.write("row old"); sys.stdout.flush(); time.sleep(0.5)
        sys.stdout.write("\\r\\nTITLE"); sys.stdout.flush(); time.sleep(0.025)
        sys.stdout.write("\\r\\nrow new"); sys.stdout.flush(); time.sleep(5)
    """))
    with Terminal([sys.executable, str(script)], cols=20, rows=4) as term:
        term.wait_for("TITLE")
        assert "row new" in term.text()


@pytest.mark.parametrize("pyte_value, name, folded", [
    ("default", "default", "default"),
    ("green", "green", "green"),
    ("brown", "yellow", "yellow"),
    ("brightbrown", "brightyellow", "yellow"),
    ("bfightmagenta", "brightmagenta", "magenta"),  # pyte's spelling of SGR 105
    ("00cd00", "green", "green"),  # palette slot 2 as pyte's hex
    ("ff0000", "red", "red"),  # slot 9 or cube 196: ambiguous, so folded
    ("7f7f7f", "black", "black"),  # slot 8, 'dark gray'
    ("5f0000", "red", "red"),
    ("ff8700", "yellow", "yellow"),
    ("00afaf", "cyan", "cyan"),
    ("5f00d7", "blue", "blue"),
    ("af00af", "magenta", "magenta"),
    ("1c1c1c", "black", "black"),
    ("d0d0d0", "white", "white"),
])
def test_normalise_colour(pyte_value, name, folded):
    assert normalise_colour(pyte_value) == name
    assert normalise_colour(pyte_value, bright=False) == folded


def test_palette_indexes_keep_their_names():
    screen = _Screen(20, 2, None)
    pyte.ByteStream(screen).feed(b"\x1b[38;5;9mA\x1b[38;5;196mB\x1b[38;5;2;48;5;12mC"
                                 b"\x1b[38;2;0;0;200mD")
    row = screen.buffer[0]
    assert [row[x].fg for x in range(4)] == ["brightred", "ff0000", "green", "0000c8"]
    assert row[2].bg == "brightblue"


def test_key_table():
    assert KEYS["esc"] == b"\x1b" and KEYS["ctrl-c"] == b"\x03" and KEYS["enter"] == b"\r"
