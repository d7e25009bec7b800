"""Moving the messages waiting in queues to another broker (celery's ``migrate_tasks``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from kombu import Connection

from celerytop.control.queues.names import queue_names
from celerytop.present.errors import one_line_error
from celerytop.present.formatting import mask_secrets

#: Seconds ``migrate`` waits for one more message before it is done.
MIGRATE_IDLE_TIMEOUT = 1.0


def destination_connection(app, destination_url: str) -> Connection:
    """A connection to ``destination_url``; ValueError (one line) if it is no broker URL.

    The transport is the URL's own (never the app's ``broker_transport``,
    which names the source's); the app's transport options come along, as
    the app's workers will read the destination with them.
    """
    url = (destination_url or "").strip()
    scheme = urlsplit(url).scheme if "://" in url else ""
    if not scheme:
        raise ValueError(mask_secrets(f"not a broker URL: {destination_url!r} (expected e.g. redis://host:6379/0)"))
    transport = None
    if scheme == "filesystem":
        from celerytop.events.fstransport import Transport as transport  # its writer: no half-written files
    try:
        connection = Connection(
            url, transport=transport,
            transport_options=dict(app.conf.broker_transport_options or {}),
            connect_timeout=app.conf.broker_connection_timeout)
        connection.transport  # loads the transport: an unknown scheme fails here, not mid-move
    except Exception as exc:
        reason = one_line_error(exc, with_type=False, limit=None)  # uncut: masked next
        raise ValueError(mask_secrets(f"bad broker URL {destination_url!r}: {reason}")) from None
    return connection


def _same_broker(one: Connection, other: Connection) -> bool:
    """Same kind of broker, same address, same options (a filesystem broker's folders are options)."""
    def identity(conn):
        transport = conn.transport
        return (transport.driver_type, conn.hostname or "", conn.port or transport.default_port,
                conn.virtual_host or "", conn.transport_options)
    return identity(one) == identity(other)


def migrate(app, destination_url: str, queues=None, progress=None) -> int:
    """Move the messages waiting in ``queues`` to the broker at ``destination_url``.

    ``queues`` defaults to those the app's configuration names (:func:`queue_names`).  Each message
    is republished to the same exchange and routing key there (the queues are
    declared there first), then acknowledged at the source, by celery's
    ``migrate_tasks``; ``progress(count_so_far)`` is called after each.  Done
    when no message came for :data:`MIGRATE_IDLE_TIMEOUT`.  Returns how many
    moved.  ValueError for a bad URL or for the source broker itself (which
    would move the messages in circles); a broker that cannot be reached
    raises before anything is taken.
    """
    from celery.contrib.migrate import migrate_tasks

    from celerytop.events.fstransport import connection_for_read

    names = sorted(set(queues)) if queues is not None else queue_names(app, {})
    if not names:
        return 0
    destination = destination_connection(app, destination_url)
    source = connection_for_read(app)  # celerytop's reader for a filesystem source
    try:
        if _same_broker(source, destination):
            raise ValueError(mask_secrets(f"{destination_url} is the source broker: nothing to move"))
        destination.ensure_connection(max_retries=0)
        source.ensure_connection(max_retries=0)

        def on_message(state, body, message):
            if progress is not None:
                progress(state.count)

        # {name: name}, not a list: migrate_tasks reads 'a:b' in a list as a rename
        state = migrate_tasks(
            source, destination, app=app, queues={name: name for name in names},
            ack_messages=True, timeout=MIGRATE_IDLE_TIMEOUT, callback=on_message)
        return state.count
    finally:
        destination.release()
        source.release()
