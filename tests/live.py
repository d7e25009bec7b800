"""Live-test helpers: real brokers, real ``celery worker`` processes.

``CELERYTOP_TEST_BROKERS`` selects the brokers (comma-separated subset of
``filesystem,redis,rabbitmq``; default all three).  A selected broker that
cannot be reached fails its tests; it is never skipped.

Fixtures (re-exported by ``tests/conftest.py``):

``broker``
    A checked :class:`LiveBroker`, parametrized over the selected brokers
    (test ids ``[filesystem]``, ``[redis]``, ``[rabbitmq]``).
``workers``
    :class:`Workers` for ``broker``: ``workers('w1', ...)`` starts a worker,
    waits for it to answer ping and returns a :class:`WorkerProcess`; every
    worker still running is SIGKILLed (whole process group) at teardown.
``make_broker``
    Factory ``make_broker(name)`` for extra brokers/namespaces in one test.

:class:`EventCollector` (a Receiver in a thread) and :func:`wait_until` are
plain helpers.
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from celery.events.receiver import EventReceiver

from celerytop.events import fstransport
from tests.liveapp import BROKER_URL_ENV, FSDIR_ENV, NS_ENV, make_app

__all__ = [
    'ALL_BROKERS', 'BROKERS_ENV', 'EventCollector', 'LiveBroker',
    'REPO_ROOT', 'ControlSpy', 'WorkerProcess', 'Workers', 'broker', 'make_broker',
    'selected_brokers', 'wait_until', 'workers',
]

REPO_ROOT = Path(__file__).resolve().parent.parent
BROKERS_ENV = 'CELERYTOP_TEST_BROKERS'
BROKER_URLS = {
    'filesystem': 'filesystem://localhost//',  # host: no kombu warning
    'redis': 'redis://127.0.0.1:6379/0',
    'rabbitmq': 'amqp://guest:guest@127.0.0.1:5672//',
}
ALL_BROKERS = tuple(BROKER_URLS)
PROBE_EVENT = 'celerytop-probe'


def selected_brokers():
    """Broker names selected by ``CELERYTOP_TEST_BROKERS`` (default: all)."""
    raw = os.environ.get(BROKERS_ENV, '')
    names = [n.strip() for n in raw.split(',') if n.strip()]
    unknown = sorted(set(names) - set(ALL_BROKERS))
    if unknown:
        raise pytest.UsageError(
            f'{BROKERS_ENV}={raw!r}: unknown broker(s) {", ".join(unknown)}; '
            f'choose from {",".join(ALL_BROKERS)}')
    return names or list(ALL_BROKERS)


def wait_until(predicate, timeout=20, interval=0.1, message=''):
    """Poll ``predicate`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                message or f'{predicate!r} still false after {timeout}s')
        time.sleep(interval)


def _one_line(exc):
    text = ' '.join(str(exc).split())
    return f'{type(exc).__name__}: {text}' if text else type(exc).__name__


class LiveBroker:
    """One broker plus a fresh namespace, and the app built for both."""

    def __init__(self, name, fsdir=None, ns=None, url=None):
        self.name = name
        self.url = url or BROKER_URLS[name]  # url: a broker of the test's own (tests/private_brokers.py)
        self.ns = ns or uuid.uuid4().hex[:10]
        self.fsdir = None
        if name == 'filesystem':
            if fsdir is None:
                raise ValueError('the filesystem broker needs an fsdir')
            self.fsdir = str(fsdir)
        self.env = {
            BROKER_URL_ENV: self.url,
            NS_ENV: self.ns,
            'PYTHONPATH': os.pathsep.join(
                p for p in (str(REPO_ROOT), os.environ.get('PYTHONPATH'))
                if p),
            'PYTHONUNBUFFERED': '1',
        }
        if self.fsdir:
            self.env[FSDIR_ENV] = self.fsdir
        self.app = make_app(self.url, self.ns, self.fsdir)

    def __repr__(self):
        return f'<LiveBroker {self.name} ns={self.ns}>'

    def subprocess_env(self, **extra):
        """``os.environ`` plus :attr:`env` plus ``extra``, for Popen."""
        return {**os.environ, **self.env, **extra}

    def check(self):
        """``pytest.fail`` (one line) unless broker and backend answer."""
        url = urlsplit(self.url)
        where = self.fsdir or f'{url.hostname}:{url.port}'
        error = self._try(self._connect_broker)
        if error:
            self._fail(f'{self.name} broker at {where}', error)
        if self.name != 'filesystem':
            backend = self.app.conf.result_backend
            error = self._try(self._ping_backend)
            if error:
                self._fail(f'{self.name} result backend at {backend}', error)

    def _connect_broker(self):
        with self.app.connection_for_write(connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=0)  # one attempt, no sleep
            conn.default_channel

    def _ping_backend(self):
        import redis
        client = redis.Redis.from_url(self.app.conf.result_backend,
                                      socket_connect_timeout=3)
        try:
            client.ping()
        finally:
            client.close()

    @staticmethod
    def _try(action):
        try:
            action()
        except Exception as exc:
            return exc
        return None

    def _fail(self, what, exc):
        # Called outside ``except`` so pytest prints no chained traceback.
        raw = os.environ.get(BROKERS_ENV)
        why = (f'{BROKERS_ENV}={raw} lists it' if raw else
               f'{BROKERS_ENV} is unset, so all brokers are selected')
        pytest.fail(f'{what} unreachable: {_one_line(exc)} ({why})',
                    pytrace=False)

    def cleanup(self):
        """Best effort: remove what this namespace left on a shared broker."""
        try:
            if self.name == 'redis':
                import redis
                client = redis.Redis.from_url(self.url)
                for key in client.scan_iter(match=f'*{self.ns}*'):
                    client.delete(key)
                client.close()
            elif self.name == 'rabbitmq':
                ctl = f'ctl-{self.ns}'
                with self.app.connection_for_write() as conn:
                    channel = conn.channel()
                    channel.queue_delete(f'q-{self.ns}')
                    for exchange in (f'q-{self.ns}', f'celeryev.{self.ns}',
                                     f'{ctl}.pidbox', f'reply.{ctl}.pidbox'):
                        channel.exchange_delete(exchange)
                    channel.close()
        except Exception as exc:
            warnings.warn(f'cleanup of {self!r} failed: {_one_line(exc)}')
        finally:
            self.app.close()


class WorkerProcess:
    """A ``celery worker`` subprocess in its own process group."""

    def __init__(self, proc, hostname, log_path):
        self.proc = proc
        self.hostname = hostname
        self.log_path = Path(log_path)

    def __repr__(self):
        return f'<WorkerProcess {self.hostname} pid={self.pid}>'

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        """Send ``sig`` to the worker's whole process group."""
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout=10):
        """Cold shutdown (SIGQUIT); SIGKILL the group after ``timeout``.

        A filesystem-transport worker needs 4-6 s to exit: celery's synloop
        runs one more 2 s ``drain_events`` after the shutdown flag is seen.
        """
        if self.alive():
            self.kill(signal.SIGQUIT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill(signal.SIGKILL)  # also any pool child left behind
        self.proc.wait()

    def log(self):
        return self.log_path.read_text(errors='replace')

    def log_tail(self, lines=40):
        return '\n'.join(self.log().splitlines()[-lines:])


class Workers:
    """Starts workers for one :class:`LiveBroker`; ``stop_all`` at the end."""

    def __init__(self, broker, log_dir):
        self.broker = broker
        self.log_dir = Path(log_dir)
        self.started = []

    def __call__(self, name='w1', events=True, concurrency=1,
                 pool='prefork', extra_args=(), wait=True, timeout=30):
        hostname = f'{name}-{self.broker.ns}@{socket.gethostname()}'
        cmd = [sys.executable, '-m', 'celery', '-A', 'tests.liveapp',
               'worker', '-n', f'{name}-{self.broker.ns}@%h', '-l', 'info',
               '--without-mingle', '--without-gossip',
               '-c', str(concurrency), '-P', pool]
        if events:
            cmd.append('-E')
        cmd.extend(extra_args)
        log_path = self.log_dir / f'worker-{name}-{len(self.started)}.log'
        with open(log_path, 'wb') as log:
            proc = subprocess.Popen(
                cmd, cwd=REPO_ROOT, env=self.broker.subprocess_env(),
                stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        worker = WorkerProcess(proc, hostname, log_path)
        self.started.append(worker)
        if wait:
            self.wait_ready(worker, timeout)
        return worker

    def ping(self, worker, timeout=0.5):
        replies = self.broker.app.control.ping(
            destination=[worker.hostname], timeout=timeout)
        return any(worker.hostname in reply for reply in replies)

    def wait_ready(self, worker, timeout=30):
        """Wait until ``worker`` answers ping; fail with its log if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not worker.alive():
                pytest.fail(f'worker {worker.hostname} exited with '
                            f'{worker.proc.returncode} before answering ping;'
                            f' log tail:\n{worker.log_tail()}', pytrace=False)
            if self.ping(worker):
                return worker
            time.sleep(0.1)
        pytest.fail(f'worker {worker.hostname} did not answer ping within '
                    f'{timeout}s; log tail:\n{worker.log_tail()}',
                    pytrace=False)

    def stop_all(self):
        """SIGKILL every worker still running (teardown: fast, not polite;
        a test wanting a clean shutdown calls ``worker.stop()`` itself)."""
        for worker in self.started:
            worker.kill()
        for worker in self.started:
            worker.proc.wait()


class _Receiver(EventReceiver):
    def __init__(self, *args, on_ready, **kwargs):
        super().__init__(*args, **kwargs)
        self._on_ready = on_ready

    def on_consume_ready(self, *args, **kwargs):
        super().on_consume_ready(*args, **kwargs)
        self._on_ready()


class EventCollector:
    """An ``app.events.Receiver`` capturing every event in a thread.

    ``start()`` returns once events really flow: it sends probe events from
    this process until the receiver has seen one (probes are not recorded).
    """

    def __init__(self, app):
        self.app = app
        self.events = []
        self.error = None
        self._receiver = None
        self._consuming = threading.Event()
        self._probe_seen = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='EventCollector')

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def _run(self):
        try:
            # celerytop's reader: kombu's own filesystem reader can take a
            # half-written event file and die (see celerytop.events.fstransport).
            with fstransport.connection_for_read(self.app) as conn:
                self._receiver = _Receiver(
                    conn, handlers={'*': self._on_event}, app=self.app,
                    on_ready=self._consuming.set)
                self._receiver.capture(limit=None, timeout=None,
                                       wakeup=False)
        except Exception as exc:
            self.error = exc
            self._consuming.set()

    def _on_event(self, event):
        if event.get('type') == PROBE_EVENT:
            self._probe_seen.set()
        else:
            self.events.append(event)

    def start(self, timeout=20):
        self._thread.start()
        try:
            self._wait_receiving(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_receiving(self, timeout):
        deadline = time.monotonic() + timeout
        self._consuming.wait(timeout)
        with self.app.events.default_dispatcher() as dispatcher:
            while not self._probe_seen.is_set():
                if self.error is not None:
                    raise AssertionError(
                        f'event receiver failed: {_one_line(self.error)}')
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f'event receiver not receiving after {timeout}s')
                dispatcher.send(PROBE_EVENT)
                self._probe_seen.wait(0.3)

    def stop(self):
        if self._receiver is not None:
            self._receiver.should_stop = True
        self._thread.join(5)

    def matching(self, type=None, **fields):
        return [e for e in list(self.events)
                if (type is None or e.get('type') == type)
                and all(e.get(k) == v for k, v in fields.items())]

    def wait_for(self, type, timeout=20, **fields):
        """The first event of ``type`` whose fields equal ``fields``."""
        def found_or_failed():
            if self.error is not None:
                raise AssertionError(f'event receiver failed: {_one_line(self.error)}')
            return self.matching(type, **fields)

        found = wait_until(
            found_or_failed, timeout,
            message=f'no {type} event with {fields} within {timeout}s; got '
                    f'{sorted({e.get("type") for e in self.events})}')
        return found[0]


class ControlSpy:
    """Every remote-control broadcast of the app, seen at the broker.

    A queue of its own bound to the control exchange (``ctl-<ns>.pidbox``,
    fanout, as every worker's pidbox queue is) and consumed in a thread:
    whatever any process broadcasts lands here, whether or not a worker
    listens.  ``start()`` returns once its own probe broadcasts arrive.
    """

    PROBE = 'celerytop_spy_probe'

    def __init__(self, app):
        from kombu import Queue
        self.app = app
        self.messages = []  # (method, arguments, destination), probes left out
        self.error = None
        self._probes_seen = set()
        self._probes_sent = 0
        self._stop = threading.Event()
        self._queue = Queue(f'spy-{uuid.uuid4().hex[:8]}', exchange=app.control.mailbox.exchange,
                            auto_delete=True, durable=False)
        self._thread = threading.Thread(target=self._run, daemon=True, name='ControlSpy')

    def __enter__(self):
        self._thread.start()
        self.mark(timeout=20)
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(5)

    def _run(self):
        try:
            with fstransport.connection_for_read(self.app) as conn:
                with conn.Consumer([self._queue], callbacks=[self._on_message], accept=['json']):
                    while not self._stop.is_set():
                        try:
                            conn.drain_events(timeout=0.2)
                        except socket.timeout:
                            pass
        except Exception as exc:
            self.error = exc

    def _on_message(self, body, message):
        message.ack()
        if body.get('method') == self.PROBE:
            self._probes_seen.add((body.get('arguments') or {}).get('n'))
        else:
            self.messages.append((body.get('method'), body.get('arguments'), body.get('destination')))

    def methods(self):
        return [method for method, _arguments, _destination in self.messages]

    def mark(self, timeout=20):
        """Broadcast a probe and wait until it arrives: everything broadcast
        before this call has arrived too (one exchange, one queue, in order)."""
        self._probes_sent += 1
        wanted = self._probes_sent

        def arrived():
            if self.error is not None:
                raise AssertionError(f'control spy failed: {_one_line(self.error)}')
            if wanted in self._probes_seen:
                return True
            # sent again until seen: the consumer may not be subscribed yet (Redis fanout)
            self.app.control.broadcast(self.PROBE, arguments={'n': wanted}, reply=False)
            return False

        wait_until(arrived, timeout, interval=0.3, message=f'control spy probe not seen within {timeout}s')


def _new_broker(name, tmp_path):
    fsdir = None
    if name == 'filesystem':
        fsdir = tmp_path / f'fsbroker-{uuid.uuid4().hex[:6]}'
    live = LiveBroker(name, fsdir=fsdir)
    try:
        live.check()
    except BaseException:
        live.app.close()
        raise
    return live


@pytest.fixture(params=selected_brokers(), ids=str)
def broker(request, tmp_path):
    live = _new_broker(request.param, tmp_path)
    yield live
    live.cleanup()


@pytest.fixture
def make_broker(tmp_path):
    made = []

    def make(name):
        made.append(_new_broker(name, tmp_path))
        return made[-1]

    yield make
    for live in made:
        live.cleanup()


def workers_on(broker, tmp_path):
    """Workers on ``broker``, for a fixture to yield from; SIGKILLed at teardown."""
    started = Workers(broker, tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture
def workers(broker, tmp_path):
    yield from workers_on(broker, tmp_path)
