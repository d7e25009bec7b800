"""Recording the event stream to a file and replaying it later.

A recording is JSON lines: each line is one event dict exactly as celery's
``Receiver`` delivered it (type, hostname, timestamp, clock, utcoffset, pid,
local_received and the event's own fields), so replaying it through
``ClusterModel.on_event`` rebuilds the same picture without a broker.  A name
ending in ``.gz`` is written gzip-compressed; readers decide by the file's
magic bytes, not its name.  No urwid here.

``writer`` appends events (:class:`~writer.Recorder`), ``reader`` reads them
back, ``replayer`` plays them at their pace and ``clock`` says what time the
replay is at.
"""
