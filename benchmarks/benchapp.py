"""The Celery app every benchmark process uses, on the broker named by $CELERYTOP_BENCH_BROKER.

Its own event and control exchanges (and Redis database 14 in the URLs the
benchmarks use), so a benchmark neither sees nor wakes any other cluster on
the same brokers.  ``celery -A benchapp flower`` and ``celerytop -A benchapp``
load it from this folder.
"""

import os

EVENT_EXCHANGE = "celerytop.bench.ev"
CONTROL_EXCHANGE = "celerytop.bench"


def make_app(broker_url: str):
    """The Celery app every process of the benchmark uses: its own exchanges; on RabbitMQ, a backlog queue."""
    from celery import Celery

    app = Celery("celerytop-bench", broker=broker_url, set_as_current=False)
    app.conf.update(
        event_exchange=EVENT_EXCHANGE,
        control_exchange=CONTROL_EXCHANGE,
        broker_connection_retry_on_startup=False,
    )
    if broker_url.startswith("amqp"):  # why: ingest.py's docstring; Redis keeps celery's defaults
        app.conf.update(event_queue_ttl=None, event_queue_expires=3600.0, event_queue_exclusive=False)
    return app


app = make_app(os.environ["CELERYTOP_BENCH_BROKER"]) if "CELERYTOP_BENCH_BROKER" in os.environ else None
