"""Brokers of a test's own, to take down and bring back.

Tests that stop a broker never touch the shared Redis on 6379 or RabbitMQ on
5672 (CI and the other live tests use them): they start one of these on a
spare port instead.

:class:`PrivateRedis`
    ``redis-server --port N --save '' --appendonly no``, optionally with
    ``--requirepass``.
:class:`PrivateRabbit`
    A RabbitMQ node of its own: its own node name, AMQP and distribution
    ports, data and log folders, config file (the system one pins port 5672),
    no plugins and its own Erlang cookie, run as the ``rabbitmq`` user when
    the tests run as root.  ``stop()`` is ``rabbitmqctl -n NODE stop``, and
    the fixture stops it whatever the test did.

Fixtures: ``private_redis`` and ``private_rabbit`` (not started: the test
calls ``start()``, so it can also show a broker that is not there yet).
"""
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.live import wait_until

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
RABBIT_USER = "chaos"
RABBIT_PASSWORD = "chaos-pass-1"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_answers(port, timeout=0.2):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class PrivateRedis:
    """A redis-server of our own on a free port, to take down and bring back."""

    def __init__(self, tmp_path, password=None):
        self.port = free_port()
        self.dir = tmp_path
        self.password = password
        self.proc = None

    @property
    def url(self):
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self):
        args = [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.dir)]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.answers, timeout=10, message="redis-server did not start")

    def answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                reply = sock.recv(64)
                return reply.startswith(b"+PONG") or b"NOAUTH" in reply
        except OSError:
            return False

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


class PrivateRabbit:
    """A RabbitMQ node of our own: ``start()``, ``stop()``, ``url(password=...)``."""

    def __init__(self):
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"celerytop-chaos-{os.getpid()}-{self.port}@localhost"
        self.base = Path(tempfile.mkdtemp(prefix="celerytop-rabbit-"))  # not under pytest's 0700 tmp: the node's user reads it
        self.proc = None
        self._write_files()

    def url(self, user=RABBIT_USER, password=RABBIT_PASSWORD):
        return f"amqp://{user}:{password}@127.0.0.1:{self.port}//"

    def _write_files(self):
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            f"default_user = {RABBIT_USER}\n"
            f"default_pass = {RABBIT_PASSWORD}\n")
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq-env.conf").write_text("")  # instead of /etc/rabbitmq's, which names the shared node
        cookie = self.base / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16))
        cookie.chmod(0o400)
        if os.geteuid() == 0:
            account = pwd.getpwnam("rabbitmq")
            for path in [self.base, *self.base.iterdir()]:
                os.chown(path, account.pw_uid, account.pw_gid)

    def _env(self):
        base = self.base
        return {
            "PATH": "/usr/sbin:/usr/bin:/bin", "HOME": str(base), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"), "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def _as_rabbitmq(self):
        if os.geteuid() != 0:
            return {}
        return {"user": "rabbitmq", "group": "rabbitmq", "extra_groups": []}

    def start(self, timeout=60):
        log = open(self.base / "server.out", "ab")
        with log:
            self.proc = subprocess.Popen(
                [str(RABBIT_BIN / "rabbitmq-server")], env=self._env(), cwd=str(self.base),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, **self._as_rabbitmq())
        wait_until(lambda: self.proc.poll() is not None or port_answers(self.port), timeout=timeout,
                   message=f"RabbitMQ node {self.node} did not listen on {self.port} within {timeout} s")
        if self.proc.poll() is not None:
            raise AssertionError(f"RabbitMQ node {self.node} exited:\n{self.server_log()}")

    def ctl(self, *args, timeout=60):
        return subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args], env=self._env(),
                              cwd=str(self.base), capture_output=True, text=True, timeout=timeout,
                              **self._as_rabbitmq())

    def stop(self):
        """``rabbitmqctl -n NODE stop``; the node's processes are killed should that fail."""
        if self.proc is None:
            return
        try:
            self.ctl("stop")
            self.proc.wait(30)
        except (subprocess.TimeoutExpired, OSError):
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)  # its own session: beam, epmd's client, inet_gethost
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.proc = None
        wait_until(lambda: not port_answers(self.port), timeout=10, message="RabbitMQ still listening after stop")

    def server_log(self):
        try:
            return (self.base / "server.out").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def remove(self):
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def private_redis(tmp_path):
    """Taking a broker down and up again needs one of our own: a private
    redis-server (the shared ones on 6379 and 5672 must stay up)."""
    assert shutil.which("redis-server"), "redis-server is not installed"
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def private_rabbit():
    """A RabbitMQ node of this test's own, not started yet; always stopped and removed at the end."""
    assert (RABBIT_BIN / "rabbitmq-server").exists(), "rabbitmq-server is not installed"
    node = PrivateRabbit()
    try:
        yield node
    finally:
        try:
            node.stop()
        finally:
            node.remove()
