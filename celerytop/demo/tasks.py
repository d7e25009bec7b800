"""Demo task module run by the workers of ``celerytop --demo``.

Workers start it with ``celery -A celerytop.demo.tasks worker`` and find
the cluster's folder in ``$CELERYTOP_DEMO_DIR``; the monitor process builds
its own app on the same folder with :func:`make_app`.
"""

import os
import random
import time

from celery import Celery
from celery.signals import worker_init

from celerytop.events import fstransport

DEMO_DIR_ENV = "CELERYTOP_DEMO_DIR"

# Celery lets these environment variables override the app's configuration.
# The demo must never talk to (or flood) a real broker the user has set up.
CELERY_ENV_OVERRIDES = (
    "CELERY_BROKER_URL", "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL",
    "CELERY_RESULT_BACKEND",
)

#: Seconds between two demo.search.reindex('products'): the demo's one periodic task that runs.
REINDEX_EVERY = 8.0


# --- helpers: they make failure tracebacks a few frames deep ---------------

def _load_record(sku):
    # a warehouse record without the "warehouse" key
    record = {"sku": sku, "on_hand": random.randint(0, 500)}
    return _parse_record(record)


def _parse_record(record):
    return record["warehouse"], record["on_hand"]


def _validate_card(card):
    if card == "expired":
        raise ValueError(f"card {card!r} was declined: expired")
    return card


def _authorize(customer_id, amount, card):
    _validate_card(card)
    return f"auth-{customer_id}-{int(amount * 100)}"


class GatewayTimeout(Exception):
    """The (pretend) payment gateway did not answer in time."""


# --- tasks ----------------------------------------------------------------

def send_email(to, template="welcome"):
    time.sleep(random.uniform(0.05, 0.3))
    return {"to": to, "template": template, "status": "sent"}


def resize_image(image_id, width=640):
    time.sleep(random.uniform(0.1, 0.5))
    return f"/img/{image_id}/{width}w.jpg"


def purge_cdn(path):
    time.sleep(random.uniform(0.02, 0.1))
    return {"purged": path}


def charge(customer_id, amount, card="visa"):
    """Succeeds, unless ``card == "expired"``: ValueError from a helper."""
    time.sleep(random.uniform(0.05, 0.2))
    return {"auth": _authorize(customer_id, amount, card), "amount": amount}


def sync_inventory(sku):
    """Always fails: KeyError raised in ``_parse_record``, two calls deep."""
    time.sleep(random.uniform(0.05, 0.2))
    return _load_record(sku)


def capture_payment(self, order_id, succeed_on_attempt=None):
    """Retries every ~1.5 s; succeeds once ``request.retries`` reaches
    ``succeed_on_attempt``, else fails after ``max_retries`` (2) retries."""
    attempt = self.request.retries
    if succeed_on_attempt is not None and attempt >= succeed_on_attempt:
        return {"order": order_id, "captured": True, "attempts": attempt + 1}
    exc = GatewayTimeout(f"gateway timed out capturing order {order_id}")
    raise self.retry(exc=exc, countdown=1.5)


def generate_report(name, seconds=20.0):
    """The slow task: stays STARTED for ``seconds``."""
    time.sleep(seconds)
    return {"report": name, "pages": random.randint(3, 120)}


def reindex(index):
    """Rate limited to 10 a minute per worker."""
    time.sleep(random.uniform(0.1, 0.4))
    return {"index": index, "documents": random.randint(100, 10000)}


def _register(app):
    opts = {"shared": False}
    app.task(name="demo.email.send", **opts)(send_email)
    app.task(name="demo.images.resize", **opts)(resize_image)
    app.task(name="demo.cdn.purge", **opts)(purge_cdn)
    app.task(name="demo.billing.charge", **opts)(charge)
    app.task(name="demo.inventory.sync", **opts)(sync_inventory)
    app.task(name="demo.payments.capture", bind=True, max_retries=2,
             **opts)(capture_payment)
    app.task(name="demo.reports.generate", **opts)(generate_report)
    app.task(name="demo.search.reindex", rate_limit="10/m", **opts)(reindex)
    return app


def make_app(folder):
    """The demo app on the kombu filesystem broker rooted at ``folder``.

    Removes Celery's broker/backend environment variables from this
    process: they would take precedence over this configuration.
    """
    for var in CELERY_ENV_OVERRIDES:
        os.environ.pop(var, None)
    queue = os.path.join(folder, "queue")
    control = os.path.join(folder, "control")
    results = os.path.join(folder, "results")
    for path in (queue, control, results):
        os.makedirs(path, exist_ok=True)
    # the hostname is meaningless here, but without one kombu logs a
    # warning every time a connection is cloned
    app = Celery("celerytop-demo", broker="filesystem://localhost/",
                 backend="file://" + results)
    app.conf.update(
        broker_transport=fstransport.TRANSPORT_PATH,
        broker_transport_options={
            "data_folder_in": queue,
            "data_folder_out": queue,
            "control_folder": control,
            "polling_interval": 0.1,
        },
        broker_connection_retry_on_startup=True,
        result_extended=True,
        result_expires=600,  # DemoCluster's producer removes older ones
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_track_started=True,
        # A worker busy with two slow reports must not hoard quick tasks:
        # running tasks stay unacked, so they count against the prefetch
        # limit. And on this broker the worker has no event loop: with
        # putlocks a task it cannot run yet blocks its main thread, and
        # with it ping, inspect and heartbeats, until a process is free.
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        worker_pool_putlocks=False,
        # What the periodic tasks view (B) reads. There is no beat process: the
        # producer sends "reindex-products" on this schedule itself, and never
        # sends "inventory-audit", so the view has a missed run to show in red.
        beat_schedule={
            "reindex-products": {"task": "demo.search.reindex", "schedule": REINDEX_EVERY,
                                 "args": ("products",)},
            "inventory-audit": {"task": "demo.inventory.sync", "schedule": 30.0, "args": ("SKU-AUDIT",)},
        },
    )
    return _register(app)


if os.environ.get(DEMO_DIR_ENV):
    app = make_app(os.environ[DEMO_DIR_ENV])
else:
    # Importable without a cluster (to read task names, in tests), but a
    # worker on it would go looking for amqp://localhost: refuse instead.
    app = _register(Celery("celerytop-demo"))

    @worker_init.connect(weak=False)
    def _refuse_unconfigured(sender=None, **kwargs):
        if getattr(sender, "app", None) is app:
            # SystemExit: Celery logs and swallows a signal handler's errors
            raise SystemExit(
                f"celerytop.demo.tasks needs ${DEMO_DIR_ENV} (the demo "
                "cluster's folder); run it with `celerytop --demo`.")
