"""Choosing the cheapest way to read celery's event stream off a broker.

celery's ``EventReceiver`` goes through kombu's whole consumer machinery
for every event (a kombu ``Message``, the decode registry, callbacks, the
event loop), which costs more CPU per event than celerytop's entire model
(issue 7, ``benchmarks/README.rst``).  On the two brokers most clusters run,
celerytop reads the stream itself:

* Redis: kombu publishes events with PUBLISH on ``/{db}.celeryev/<routing
  key>``; :class:`RedisStream` PSUBSCRIBEs with redis-py and decodes each
  message's envelope directly.
* RabbitMQ (py-amqp): :class:`AmqpStream` declares celery's own event queue
  (the same name, bindings, TTL and expiry) through kombu, then consumes it
  with py-amqp's ``basic_consume``, without acknowledgements, as kombu does.

Every other transport uses celery's Receiver (:class:`ReceiverStream`).
All three hand ``on_event`` the dict celery's Receiver would hand its
handler (``EventReceiver.event_from_message``: Lamport clock, timestamp in
local time, ``local_received``), and a list of events in one message (as
prefork workers send them) as one call per event.

Narrowing: ``routing_keys`` are the event exchange's routing keys to bind
(``#`` is everything; ``worker.#`` and ``task.failed`` keep only worker
events and failures).  On RabbitMQ and Redis the broker does the narrowing,
so events not asked for never cross the network.
"""

from __future__ import annotations

from celerytop.events.streams.amqp import AmqpStream
from celerytop.events.streams.receiver import ReceiverStream
from celerytop.events.streams.redis import RedisStream
from celerytop.events.streams.routing import ALL_EVENTS


def for_connection(app, connection, node_id: str, on_event, health, routing_keys=ALL_EVENTS):
    """The cheapest stream that can read ``connection``'s transport."""
    driver = getattr(connection.transport, "driver_type", "")
    name = getattr(connection.transport, "driver_name", "")
    if driver == "redis":
        return RedisStream(app, connection, node_id, on_event, health, routing_keys)
    if driver == "amqp" and name == "py-amqp":
        return AmqpStream(app, connection, node_id, on_event, health, routing_keys)
    return ReceiverStream(app, connection, node_id, on_event, health, routing_keys)
