"""No broker or backend password in anything celerytop shows or writes.

One run of everything that produces output, against a real Redis broker and
result backend reached with passwords in their URLs and a real worker, then a
grep of every output for every password: the screen's bytes through the pty,
batch text and JSON, the dump, the recording, the --db file, the audit log,
the prompt history, celerytop.log, a crash log and the error lines on stderr.
The URLs typed or given include ones kombu parses and ones it cannot
(``amqp://:pw@h:bad-port/``, a password with an ``@``, several in one line).

Redis only: the shared Redis accepts any password for its default user, so a
password can be made up per test; the shared RabbitMQ's only user is
guest/guest (a password that is also the user name) and the tests may not add
users to it.  The state folder is the test's own, so its files' modes are
checked too.
"""

import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import uuid

import pytest

from celerytop.present import formatting
from tests.live import REPO_ROOT, wait_until
from tests.screen import BIN
from tests.terminal import Terminal

BROKER_PW, BACKEND_PW = "brokerPW4q8", "backendPW7z2"
MIGRATE_PWS = ("m1grpass", "p@ssAT9", "badportPW3", "sentinelA5", "sentinelB6")
SECRETS = (BROKER_PW, BACKEND_PW) + MIGRATE_PWS
MIGRATE_URLS = (
    "redis://:m1grpass@127.0.0.1:1/0",                  # kombu parses it
    "redis://user:p@ssAT9@127.0.0.1:1/0",               # an @ in the password
    "amqp://:badportPW3@127.0.0.1:bad-port/",           # kombu cannot parse it
    "sentinel://:sentinelA5@127.0.0.1:1;sentinel://:sentinelB6@127.0.0.1:2",  # two URLs in one
)


@pytest.mark.parametrize("url, secrets", [
    ("redis://:s3cret@host:6379/0", ["s3cret"]),
    ("redis://user:p@ss@host", ["p@ss", "ss@host"]),
    ("amqp://:pw9@h:bad-port/", ["pw9"]),
    ("sentinel://:pwA@a:1;sentinel://:pwB@b:2", ["pwA", "pwB"]),
    ("migrate redis://:one1@a/0 -Q x and amqp://u:two2@b// 'redis://:three3@c'", ["one1", "two2", "three3"]),
    ("bad broker URL 'amqp://:qq7@h:port/': invalid literal", ["qq7"]),
])
def test_mask_secrets_masks_every_url_parseable_or_not(url, secrets):
    masked = formatting.mask_secrets(url)
    assert not any(secret in masked for secret in secrets), masked
    assert "**@" in masked


def test_mask_secrets_keeps_what_is_not_a_password():
    for text in ("redis://127.0.0.1:6379/0", "amqp://guest@rabbit//", "no url here: a@b", "file:///tmp/x"):
        assert formatting.mask_secrets(text) == text


APP = textwrap.dedent("""
    import os
    from celery import Celery
    from celery.events.snapshot import Polaroid

    ns = os.environ["SECRET_NS"]
    app = Celery("secretapp", broker=os.environ["SECRET_BROKER"], backend=os.environ["SECRET_BACKEND"])
    app.conf.update(event_exchange=f"celeryev.{ns}", control_exchange=f"ctl-{ns}", task_default_queue=f"q-{ns}",
                    worker_send_task_events=True, broker_connection_retry_on_startup=True)

    @app.task(name="secret.fail")
    def fail():
        raise ValueError("the task failed")

    class Crash(Polaroid):
        def install(self):
            raise RuntimeError("camera could not reach " + os.environ["SECRET_BROKER"] + " or amqp://:"
                               + os.environ["SECRET_BACKEND"].split(":")[2].split("@")[0] + "@h:bad-port/")
""")


@pytest.fixture
def secret_app(tmp_path):
    ns = uuid.uuid4().hex[:10]
    (tmp_path / "secretapp.py").write_text(APP)
    state = tmp_path / "state"
    env = {
        "SECRET_NS": ns,
        "SECRET_BROKER": f"redis://:{BROKER_PW}@127.0.0.1:6379/0",
        "SECRET_BACKEND": f"redis://default:{BACKEND_PW}@127.0.0.1:6379/1",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO_ROOT)]),
        "XDG_STATE_HOME": str(state),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "secretapp", "worker", "-E", "-P", "solo", "-n", f"secret-{ns}@%h",
         "--without-mingle", "--without-gossip", "-l", "warning"],
        cwd=str(tmp_path), env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        yield tmp_path, env
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def run(folder, env, *args, timeout=60):
    return subprocess.run([BIN, *map(str, args)], cwd=str(folder), env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


def command(term, line):
    term.press(":")
    term.wait_for(lambda t: t.lines()[-1].startswith(":"))
    term.send(line)
    term.press("enter")


def screen_session(folder, env):
    """The screen, a failed task's result fetched from the backend, and migrate to each URL, confirmed.

    Returns every byte written to the terminal except those that echo the typing at the prompt
    (a shell echoes a typed password too); what is drawn once Enter is pressed is all kept.
    """
    with Terminal([BIN, "-A", "secretapp", "--refresh", "0.2"], cols=160, rows=40, env=env, cwd=str(folder)) as term:
        term.wait_for("● connected")
        term.wait_for("secret-")
        subprocess.run([sys.executable, "-c", "from secretapp import fail; fail.delay()"], cwd=str(folder),
                       env={**os.environ, **env}, check=True, timeout=30)
        term.wait_for("FAILURE")
        term.press("f")  # only failures: the failed task is the selected one
        term.wait_for(lambda t: "secret.fail" in t.text())
        term.press("r")
        term.wait_for("the task failed")
        term.press("esc")
        typing = []  # (start, end) of the bytes that echo what was typed at the prompt: the user's own
        for url in MIGRATE_URLS:
            start = len(term.raw)
            command(term, f"migrate {url}")
            term.wait_for(lambda t: not t.lines()[-1].startswith(":"))
            typing.append((start, len(term.raw)))
            term.wait_for(lambda t: "Migrate " in t.text() or "migrate" in t.lines()[-1])
            assert not any(secret in term.text() for secret in SECRETS), term.text()
            if "Migrate " in term.text():
                term.press("y")
            term.wait_for(lambda t: "migrate" in t.text().lower() and "failed" in t.text().lower(), timeout=20)
        term.press("q")
        assert term.wait_exit() == 0
        raw = bytes(term.raw)
    shown, end = [], 0
    for start, stop in typing:
        shown.append(raw[end:start])
        end = stop
    return b"".join(shown) + raw[end:]


def dump_session(folder, env):
    """--dump until it has printed the failed task, then Ctrl-C."""
    dump = subprocess.Popen([BIN, "-A", "secretapp", "--dump"], cwd=str(folder), env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(dump.stdout.readline, b"")), daemon=True)
    reader.start()
    try:
        wait_until(lambda: lines, timeout=20, message="--dump printed nothing (not even a heartbeat)")
        subprocess.run([sys.executable, "-c", "from secretapp import fail; fail.delay()"], cwd=str(folder),
                       env={**os.environ, **env}, check=True, timeout=30)
        wait_until(lambda: any(b"task failed" in line for line in lines), timeout=20)
    finally:
        dump.send_signal(signal.SIGINT)
        dump.wait(20)
        reader.join(5)
    return b"".join(lines)


def test_no_password_in_any_output(secret_app):
    folder, env = secret_app
    outputs = {}
    outputs["screen"] = screen_session(folder, env)
    for name, args in {
        "batch": ["--batch", "--record", folder / "events.jsonl", "--db", folder / "history.db"],
        "batch json": ["--batch", "--format", "json"],
        "unreachable": ["-b", f"redis://:{BROKER_PW}@127.0.0.1:1/0", "--batch"],
        "unparseable": ["-b", f"amqp://:{BROKER_PW}@127.0.0.1:bad-port/", "--batch"],
        "two urls": ["-b", f"redis://:{BROKER_PW}@127.0.0.1:1/0;amqp://u:{BACKEND_PW}@h:x/", "--batch"],
        "crash": ["--camera", "secretapp.Crash"],
    }.items():
        done = run(folder, env, "-A", "secretapp", *args)
        outputs[name] = (done.stdout + done.stderr).encode()
    assert "internal error" in outputs["crash"].decode() and b"**@" in outputs["unreachable"]
    outputs["dump"] = dump_session(folder, env)

    state = folder / "state" / "celerytop"
    files = [folder / "events.jsonl", folder / "history.db"] + sorted(p for p in state.iterdir() if p.is_file())
    names = {p.name for p in files}
    assert {"audit.log", "prompt_history", "celerytop.log"} <= names and any(n.startswith("crash-") for n in names)
    for path in files:
        outputs[str(path)] = path.read_bytes()
        if path.parent == state:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert b"migrate redis://:**@127.0.0.1:1/0" in outputs[str(state / "prompt_history")]

    leaks = [(where, secret) for where, data in outputs.items() for secret in SECRETS if secret.encode() in data]
    assert not leaks, f"passwords found: {leaks}"
