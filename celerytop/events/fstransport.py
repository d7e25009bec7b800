"""kombu's filesystem transport, without the races of several processes sharing a folder.

kombu (see celery/kombu#1551):

* creates a message file, then locks it, then writes it, while its reader
  moves and reads any file it lists, unlocked: a reader between the create
  and the write reads an empty file, dies on a JSONDecodeError, and the
  message is lost (seen as events missing from bursts, and as a consumer
  that drops its connection);
* creates an exchange table with "wb" before locking it, so workers starting
  together overwrite (even garble) each other's bindings, and a worker
  missing from the pidbox table never answers ping.

Here the reader skips files still empty and takes a shared lock before
reading (it waits for a writer that has started); the writer writes under a
name readers skip and renames into place; exchange tables are created and
updated under their lock.  Everything else is kombu's.

celerytop's event capture reads ``filesystem://`` brokers with it, whatever
transport the workers use; the demo cluster selects it for every process
(``broker_transport``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from queue import Empty

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads

#: ``broker_transport`` value that selects this transport.
TRANSPORT_PATH = "celerytop.events.fstransport:Transport"


class Channel(filesystem.Channel):
    def _get(self, queue):
        wanted = f"{queue}.msg"
        folder = self.data_folder_in
        processed = self.processed_folder if self.store_processed else tempfile.gettempdir()
        for filename in sorted(os.listdir(folder)):
            if filename.partition(".")[2] != wanted:
                continue
            source = os.path.join(folder, filename)
            try:
                if os.path.getsize(source) == 0:
                    continue  # created, not yet locked and written
                # the move claims the message: another reader's move now fails
                shutil.move(source, processed)
            except OSError:
                continue
            claimed = os.path.join(processed, filename)
            try:
                with open(claimed, "rb") as fh:
                    filesystem.lock(fh, filesystem.LOCK_SH)  # waits for a writer still writing
                    try:
                        payload = fh.read()
                    finally:
                        filesystem.unlock(fh)
                if not self.store_processed:
                    os.remove(claimed)
            except OSError as exc:
                raise ChannelError(f"Cannot read file {claimed!r} from queue.") from exc
            return loads(bytes_to_str(payload))
        raise Empty()

    def _put(self, queue, payload, **kwargs):
        name = f"{int(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, name)
        try:
            with open(path + ".part", "wb") as f:
                f.write(dumps(payload).encode())
            os.replace(path + ".part", path)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {path!r}") from exc

    def get_table(self, exchange):
        try:
            return super().get_table(exchange)
        except ValueError:  # created by _queue_bind, not yet written
            return []

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        path = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        entry = filesystem.exchange_queue_t(
            routing_key or "", pattern or "", queue or "")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            with open(fd, "rb+", buffering=0) as f:
                filesystem.lock(f, filesystem.LOCK_EX)
                data = f.read()
                table = [filesystem.exchange_queue_t(*row)
                         for row in (loads(data) if data else [])]
                if entry not in table:
                    table.insert(0, entry)
                    f.seek(0)
                    f.write(dumps(table).encode())
                    f.truncate()
        except OSError as exc:
            raise ChannelError(f"Cannot open {path}") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def connection_for_read(app):
    """``app.connection_for_read()``, with this reader for filesystem brokers."""
    connection = app.connection_for_read()
    if connection.transport_cls == "filesystem":
        connection.release()
        connection = app.connection_for_read(transport=Transport)
    return connection
