"""Remote control and inspect calls, run off the UI thread, replies normalised.

Every call blocks for up to ``timeout`` seconds waiting for worker replies,
so the UI submits them to :attr:`Control.executor` and gets the result
back through a callback.  Replies come back as ``{hostname: reply}``.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

#: Default seconds to wait for worker replies, as ``celery inspect`` does.
DEFAULT_TIMEOUT = 1.0


def merge_replies(replies) -> dict:
    """celery's ``[{host: reply}, ...]`` (or ``None``) as one ``{host: reply}``."""
    merged: dict = {}
    for reply in replies or ():
        if isinstance(reply, dict):
            merged.update(reply)
    return merged


class Control:
    def __init__(self, app, timeout: float = DEFAULT_TIMEOUT):
        self.app = app
        self.timeout = timeout
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="celerytop-control")

    def submit(self, fn, *args, **kwargs) -> Future:
        return self.executor.submit(fn, *args, **kwargs)

    def ping(self, destination=None) -> dict:
        return merge_replies(self.app.control.ping(destination=destination, timeout=self.timeout))

    def inspect(self, method: str, destination=None, *args) -> dict:
        """``inspect <method>``: ``{hostname: reply}``, empty when nobody answered."""
        inspector = self.app.control.inspect(destination=destination, timeout=self.timeout)
        return dict(getattr(inspector, method)(*args) or {})

    def enable_events(self, destination=None) -> None:
        """Broadcast ``enable_events`` (fire and forget, as ``celery control`` does)."""
        self.app.control.enable_events(destination=destination)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
