"""A result backend that accepts connections and never answers.

No real Redis can be made to do this (a stopped one refuses, a busy one still
answers), so this tiny socket server stands in for it, honestly: it speaks no
protocol at all.  It counts the connections it accepted and those still open
(a connection is closed when the client closes its end).
"""
import selectors
import socket
import threading


class SilentServer:
    def __init__(self):
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._lock = threading.Lock()
        self._open: set = set()
        self.accepted = 0
        self.received = 0  # bytes of requests read (and never answered)
        self.closed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="silent-backend")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(2)
        for sock in list(self._open) + [self._listener]:
            sock.close()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def _serve(self):
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        while not self._stop.is_set():
            for key, _events in selector.select(timeout=0.1):
                if key.fileobj is self._listener:
                    client, _address = self._listener.accept()
                    selector.register(client, selectors.EVENT_READ)
                    with self._lock:
                        self._open.add(client)
                        self.accepted += 1
                    continue
                request = self._read(key.fileobj)  # what the client asks is read and never answered
                if request:
                    with self._lock:
                        self.received += len(request)
                else:
                    selector.unregister(key.fileobj)
                    key.fileobj.close()
                    with self._lock:
                        self._open.discard(key.fileobj)
                        self.closed += 1
        selector.close()

    @staticmethod
    def _read(sock) -> bytes:
        try:
            return sock.recv(65536)
        except OSError:
            return b""
