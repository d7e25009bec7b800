"""kombu's filesystem transport, with a reader that never takes a half-written message.

kombu's writer creates a message file, then locks it, then writes it; its
reader moves and reads any file it lists, unlocked.  A reader that lists
the folder between the writer's create and write reads an empty or partial
file, fails to decode it, and the message is lost (seen as events missing
from bursts, and as a consumer that drops its connection).  This reader
skips files that are still empty and takes a shared lock before reading, so
it waits for a writer that has started.  Everything else is kombu's.

celerytop's own event capture uses it for ``filesystem://`` brokers, and the
demo cluster configures it for every process (``broker_transport``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from queue import Empty

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

#: ``broker_transport`` value that selects this transport.
TRANSPORT_PATH = "celerytop.fstransport:Transport"


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


class Transport(filesystem.Transport):
    Channel = Channel


def connection_for_read(app):
    """``app.connection_for_read()``, with this reader for filesystem brokers."""
    connection = app.connection_for_read()
    if connection.transport_cls == "filesystem":
        connection.release()
        connection = app.connection_for_read(transport=Transport)
    return connection
