"""The command line, run as a user runs it: as separate processes."""

import os
import subprocess
import sys

import pytest

from celerytop import __version__

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def run(*argv, timeout=60):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env,
                          stdin=subprocess.DEVNULL)


def celerytop(*args):
    return run(os.path.join(BIN, "celerytop"), *args)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("celerytop: error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_option_is_one_line():
    assert_one_line_error(celerytop("--frobnicate"), "--frobnicate")


def test_missing_app_module_is_one_line():
    assert_one_line_error(celerytop("-A", "no_such_module_here"), "no_such_module_here")


def test_app_module_that_raises_on_import_is_one_line(tmp_path):
    (tmp_path / "brokenproj.py").write_text("raise RuntimeError('config exploded')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    result = subprocess.run([os.path.join(BIN, "celerytop"), "-A", "brokenproj"], capture_output=True,
                            text=True, cwd=tmp_path, env=env, timeout=60)
    assert_one_line_error(result, "config exploded")


def test_app_module_is_found_in_the_current_directory_like_celery_does(tmp_path):
    (tmp_path / "notanapp.py").write_text("app = 42\n")
    result = subprocess.run([os.path.join(BIN, "celerytop"), "-A", "notanapp"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=60)
    assert_one_line_error(result, "not a Celery app")


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("localhost:6379", "malformed broker URL"),
        ("nosuchtransport://host/", "unknown transport"),
        ("redis://localhost:notaport/0", "malformed broker URL"),
    ],
)
def test_malformed_broker_url_is_one_line(url, fragment):
    assert_one_line_error(celerytop("-b", url), fragment)


def test_broker_password_is_never_echoed_in_errors():
    result = celerytop("-b", "nosuch://user:hunter2@host/")
    assert_one_line_error(result)
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize("args", [("--refresh", "0"), ("--max-tasks", "0"), ("--colors", "rainbow")])
def test_bad_values_are_one_line(args):
    assert_one_line_error(celerytop(*args), args[0])


def test_demo_cannot_be_combined_with_an_app():
    assert_one_line_error(celerytop("--demo", "-A", "tests.liveapp"), "--demo")


def test_version_and_help():
    assert celerytop("--version").stdout.strip().endswith(__version__)
    help_text = celerytop("--help").stdout
    for option in ("--app", "--broker", "--demo", "--refresh", "--max-tasks", "--timeout",
                   "--no-enable-events", "--colors"):
        assert option in help_text


def test_python_dash_m():
    result = run(sys.executable, "-m", "celerytop", "--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_celery_top_subcommand_is_registered_with_the_same_options():
    result = run(os.path.join(BIN, "celery"), "top", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--refresh", "--max-tasks", "--timeout", "--no-enable-events", "--colors"):
        assert option in result.stdout


@pytest.mark.parametrize("args, fragment", [
    (("--batch", "--dump"), "--batch and --dump are different modes"),
    (("--dump", "--camera", "x.Y"), "--dump and --camera are different modes"),
    (("--replay", "no/such/recording.jsonl", "--batch"), "--replay: no such file"),
    (("--speed", "-1", "--replay", "README.rst", "--batch"), "--speed must be 0"),
    (("--window", "0", "--batch"), "--window must be between"),
    (("--stuck-after", "0", "--batch"), "--stuck-after must be more than 0"),
    (("--stuck-after", "nan", "--batch"), "--stuck-after must be more than 0"),
    (("--stuck-multiple", "0.5", "--batch"), "--stuck-multiple must be between 1 and 1000"),
    (("--format", "yaml", "--batch"), "--format"),
    (("--iterations", "0", "--batch"), "--iterations"),
    (("--db", "x.db", "--dump"), "--db keeps the monitor's tasks"),
    (("--queues",), "--queues adds the queues to --batch snapshots"),
    (("--queues", "--batch", "--replay", "README.rst"), "--queues measures the broker's queues"),
])
def test_mode_options_that_do_not_go_together_are_one_line(args, fragment):
    assert_one_line_error(celerytop(*args), fragment)


def test_batch_with_an_unreachable_broker_is_one_line_and_exit_2():
    result = celerytop("-b", "redis://127.0.0.1:1/0", "--batch")
    assert_one_line_error(result, "cannot reach the broker at redis://127.0.0.1:1/0")


def test_replaying_a_file_that_is_no_recording_is_one_line(tmp_path):
    junk = tmp_path / "picture.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    assert_one_line_error(celerytop("--replay", str(junk), "--batch", "--speed", "0"), str(junk))


def test_a_camera_that_does_not_load_is_one_line(tmp_path):
    recording = tmp_path / "empty.jsonl"
    recording.write_text("")
    assert_one_line_error(celerytop("--replay", str(recording), "--camera", "no_such_module.Cam", "--speed", "0"),
                          "cannot load camera 'no_such_module.Cam'")


def test_a_foreign_history_database_is_one_line(tmp_path):
    import sqlite3

    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as db:
        db.execute("create table invoices (id integer)")
    recording = tmp_path / "empty.jsonl"
    recording.write_text("")
    assert_one_line_error(celerytop("--db", str(foreign), "--replay", str(recording), "--batch", "--speed", "0"),
                          str(foreign))


def test_the_screen_without_a_terminal_says_so_in_one_line(tmp_path):
    recording = tmp_path / "events.jsonl"
    recording.write_text('{"type": "worker-heartbeat", "hostname": "w1@host", "timestamp": 1700000000.0}\n')
    result = celerytop("--replay", str(recording))  # stdin is /dev/null: no terminal
    assert_one_line_error(result, "needs a terminal", "--batch")
    assert celerytop("--replay", str(recording), "--batch").returncode == 0  # the way out it names works
