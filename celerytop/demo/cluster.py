"""A throwaway Celery cluster for ``celerytop --demo``.

:class:`DemoCluster` makes a kombu filesystem broker in a temp dir, starts
real ``celery worker`` processes on :mod:`celerytop.demo.tasks` and a
producer thread feeding them a steady mixed stream of tasks. ``stop()``
(also run from ``atexit``) kills every process it started and removes the
temp dir.
"""

import atexit
import ctypes
import glob
import itertools
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import celery

from celerytop.demo.tasks import CELERY_ENV_OVERRIDES, DEMO_DIR_ENV, REINDEX_EVERY, make_app

log = logging.getLogger(__name__)

NAMES = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")
PREFIX = "celerytop-demo-"
_OWNER_FILE = "owner.pid"
_PR_SET_PDEATHSIG = 1


def _die_with_parent_hook():
    """A preexec_fn: if celerytop is SIGKILLed, the kernel SIGKILLs the
    worker too (its pool processes get SIGKILL when it goes, from Celery).
    Not SIGTERM (a cold shutdown): that takes 5 s or more and nobody would
    be left to follow up with SIGKILL. The signal follows the *thread*
    that forked, so start() must be called from a thread that lives as
    long as the cluster."""
    # resolved here, in the parent: no dlopen between fork and exec
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook():
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)
    return hook


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_folders():
    """Remove demo folders left by a celerytop that was SIGKILLed."""
    pattern = os.path.join(tempfile.gettempdir(), PREFIX + "*")
    for folder in glob.glob(pattern):
        try:
            with open(os.path.join(folder, _OWNER_FILE)) as f:
                owner = int(f.read())
        except (OSError, ValueError):
            continue
        if not _pid_alive(owner):
            shutil.rmtree(folder, ignore_errors=True)


class DemoCluster:
    """Workers plus a producer on a private filesystem broker.

    ``rate`` is the producer's tasks per second; 0 means no producer.
    """

    def __init__(self, workers=3, rate=4.0):
        self.workers = workers
        self.rate = rate
        self.folder = None
        self.app = None
        self.worker_pids = []
        self.hostnames = []
        self._procs = []
        self._producer = None
        self._preexec = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # --- start ------------------------------------------------------------

    def start(self):
        """Start workers and producer; returns at once, without waiting for
        the workers to be ready (they take a few seconds)."""
        if self.folder is not None:
            raise RuntimeError("a DemoCluster can only be started once")
        remove_stale_folders()
        self._preexec = (_die_with_parent_hook() if sys.platform == "linux"
                         else None)
        self.folder = tempfile.mkdtemp(prefix=PREFIX)
        atexit.register(self.stop)
        try:
            with open(os.path.join(self.folder, _OWNER_FILE), "w") as f:
                f.write(str(os.getpid()))
            self.app = make_app(self.folder)
            host = socket.gethostname()
            for i in range(self.workers):
                name = NAMES[i] if i < len(NAMES) else f"worker{i + 1}"
                self._spawn_worker(name)
                self.hostnames.append(f"{name}@{host}")
            if self.rate > 0:
                self._producer = threading.Thread(
                    target=self._produce, name="celerytop-demo-producer",
                    daemon=True)
                self._producer.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _worker_env(self):
        env = dict(os.environ)
        env[DEMO_DIR_ENV] = self.folder
        # Celery's switch making SIGTERM a cold shutdown instead of a warm
        # one, which would wait up to 40 s for a slow report. Unlike
        # SIGQUIT, SIGTERM also ends a worker still importing quietly,
        # without a core dump.
        env["REMAP_SIGTERM"] = "SIGQUIT"
        # billiard's pymp-* dirs (and kombu's consumed messages, briefly)
        # go here: a killed worker leaves nothing behind in /tmp
        env["TMPDIR"] = os.path.join(self.folder, "tmp")
        os.makedirs(env["TMPDIR"], exist_ok=True)
        for var in CELERY_ENV_OVERRIDES + ("CELERY_CONFIG_MODULE",
                                           "CELERY_LOADER"):
            env.pop(var, None)
        # Workers run in the temp dir: make sure they find this celerytop.
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (root, env.get("PYTHONPATH")) if p)
        return env

    def _spawn_worker(self, name):
        argv = [sys.executable, "-m", "celery", "-A", "celerytop.demo.tasks",
                "worker", "-n", f"{name}@%h", "-E", "-l", "warning",
                "-c", "2", "-P", "prefork", "--without-mingle",
                "--without-gossip"]
        logfile = open(os.path.join(self.folder, f"{name}.log"), "wb")
        with logfile:
            proc = subprocess.Popen(
                argv, cwd=self.folder, env=self._worker_env(),
                stdin=subprocess.DEVNULL, stdout=logfile, stderr=logfile,
                # own session: Ctrl-C in the UI's terminal does not reach
                # the workers, and stop() can kill each whole group
                start_new_session=True,
                preexec_fn=self._preexec)
        self._procs.append(proc)
        self.worker_pids.append(proc.pid)

    # --- producer ---------------------------------------------------------

    def _produce(self):
        last = {}  # kind -> monotonic time it was last sent
        counter = itertools.count(1000)
        while not self._stopping.is_set():
            try:
                self._send_one(next(counter), last)
                if self._due(last, "cleanup", 60.0):
                    # ~1 MB of results a minute: drop those past
                    # result_expires, as celery beat would
                    self.app.backend.cleanup()
            except Exception:  # never let the demo stream die
                log.debug("demo producer: send failed", exc_info=True)
            self._stopping.wait(random.expovariate(self.rate))

    def _due(self, last, kind, every):
        now = time.monotonic()
        if now - last.get(kind, now - every) >= every:
            last[kind] = now
            return True
        return False

    def _send_one(self, n, last):
        send = self.app.send_task
        # the slow and the rate limited tasks are time-gated so they do not
        # pile up: ~27 s on average for one report, 10/m for reindex
        if self._due(last, "report", 15.0):
            report = random.choice(["quarterly-sales", "churn", "ledger"])
            send("demo.reports.generate", (report, random.uniform(15, 40)))
            return
        if self._due(last, "reindex", REINDEX_EVERY):  # as beat would: the app's beat_schedule
            send("demo.search.reindex", ("products",))
            return
        roll = random.random()
        if roll < 0.30:
            send("demo.email.send", (f"user{n}@example.com",
                 random.choice(["welcome", "receipt", "password-reset"])))
        elif roll < 0.50:
            card = "expired" if random.random() < 0.15 else "visa"
            send("demo.billing.charge",
                 (n % 97, round(random.uniform(5, 300), 2), card))
        elif roll < 0.65:
            send("demo.images.resize", (n, random.choice([320, 640, 1280])))
        elif roll < 0.75:
            send("demo.inventory.sync", (f"SKU-{n}",))
        elif roll < 0.87:
            send("demo.payments.capture",
                 (n, random.choice([1, 2, None])))
        elif roll < 0.94:
            sig = self.app.signature
            celery.chain(sig("demo.images.resize", (n, 1280)),
                         sig("demo.cdn.purge")).apply_async()
        else:
            sig = self.app.signature
            celery.group(sig("demo.email.send", (f"team{i}@example.com",
                                                 "digest"))
                         for i in range(3)).apply_async()

    # --- stop -------------------------------------------------------------

    def stop(self, grace=3.0):
        """Stop producer and workers, remove the folder. Idempotent.

        Workers get a cold shutdown (a remapped SIGTERM) and ``grace``
        seconds before their process groups are SIGKILLed. On this broker a
        Celery 5.7 cold shutdown takes ~5 s (drain timeout, pool threads'
        joins), so with the default the SIGKILL ends it; nothing is lost
        either way, the broker and results go with the folder.
        """
        # Every step can be repeated, so if a second Ctrl-C interrupts
        # this, the atexit call (unregistered only at the end) finishes it.
        with self._lock:
            self._stopping.set()
            if self._producer is not None:
                self._producer.join(timeout=2)
            self._kill_workers(grace)
            if self.app is not None:
                self.app.close()
            if self.folder:
                shutil.rmtree(self.folder, ignore_errors=True)
            atexit.unregister(self.stop)

    def _kill_workers(self, grace):
        for proc in self._procs:
            # the main process only: it stops its own pool children
            self._signal(os.kill, proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        pending = list(self._procs)
        while pending and time.monotonic() < deadline:
            pending = [p for p in pending if not self._exited(p.pid)]
            if pending:
                time.sleep(0.05)
        # An exited but unreaped leader is a zombie that still holds its
        # pid, so the group id cannot have been reused: SIGKILL whatever is
        # left of each group, then reap (and forget: a reaped pid can be).
        for proc in self._procs:
            self._signal(os.killpg, proc.pid, signal.SIGKILL)
        for proc in list(self._procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                log.warning("demo worker %d did not die", proc.pid)
            else:
                self._procs.remove(proc)

    @staticmethod
    def _signal(kill, pid, sig):
        try:
            kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    @staticmethod
    def _exited(pid):
        try:
            info = os.waitid(os.P_PID, pid,
                             os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None
