"""The AMQP frame reader that reads ahead and cuts event deliveries out of the buffer.

The live tests run it against RabbitMQ.  These feed it frames split at
every possible byte boundary, which a real broker cannot be made to do on
demand: the socket here is a stand-in that returns the bytes it is given,
chunk by chunk (the only double in this file).
"""

import struct

import pytest

from celerytop.events.streams.amqp import FrameReader

TAG = b"ctag-1"


def frame(frame_type, channel, payload):
    return struct.pack(">BHI", frame_type, channel, len(payload)) + payload + b"\xce"


def shortstr(text):
    data = text.encode() if isinstance(text, str) else text
    return bytes([len(data)]) + data


def delivery(body=b'{"type": "task-sent"}', channel=1, tag=TAG, content_type="application/json",
             content_encoding="utf-8"):
    method = struct.pack(">HH", 60, 60) + shortstr(tag) + struct.pack(">Q", 7) + b"\x00" + shortstr("celeryev") \
        + shortstr("task.sent")
    flags = 0x8000 | 0x4000 | 0x1000  # content type, content encoding, delivery mode
    header = struct.pack(">HHQH", 60, 0, len(body), flags) + shortstr(content_type) + shortstr(content_encoding) \
        + b"\x02"
    frames = frame(1, channel, method) + frame(2, channel, header)
    if body:
        frames += frame(3, channel, body)
    return frames


class ChunkedSocket:
    def __init__(self, chunks):
        self.chunks = list(chunks)

    def recv(self, _size):
        return self.chunks.pop(0) if self.chunks else b""


class Transport:
    def __init__(self, chunks):
        self.sock = ChunkedSocket(chunks)
        self._read_buffer = b""


def reader_for(data, split=0):
    """A reader whose buffer holds the first chunk, as after one read from the socket."""
    reader = FrameReader(Transport([data[:split], data[split:]] if split else [data]))
    reader._buffer += reader._recv(FrameReader.CHUNK)
    return reader


def test_a_whole_delivery_comes_out_in_one_piece():
    data = delivery() + delivery(b'{"type": "task-received"}')
    reader = reader_for(data)
    assert reader.take_delivery(1, TAG) == (b'{"type": "task-sent"}', "application/json", "utf-8")
    assert reader.take_delivery(1, TAG) == (b'{"type": "task-received"}', "application/json", "utf-8")
    assert reader.take_delivery(1, TAG) is None and not reader.has_frame()


@pytest.mark.parametrize("split", range(1, len(delivery())))
def test_a_delivery_split_anywhere_is_left_whole_until_it_has_all_arrived(split):
    data = delivery()
    reader = reader_for(data, split)
    assert reader.take_delivery(1, TAG) is None
    # py-amqp reads whatever frames are complete; the reader never loses a byte
    frames = []
    while len(frames) < 3:
        frames.append(reader.read_frame())
    assert [f[0] for f in frames] == [1, 2, 3] and frames[2][2] == b'{"type": "task-sent"}'


def test_other_consumers_channels_and_frames_are_left_to_py_amqp():
    for data in (delivery(tag=b"other"), delivery(channel=2), frame(8, 0, b"")):
        reader = reader_for(data)
        assert reader.take_delivery(1, TAG) is None
        assert reader.has_frame()


def test_a_delivery_without_body_and_a_broken_frame_end():
    reader = reader_for(delivery(body=b""))
    assert reader.take_delivery(1, TAG) == (b"", "application/json", "utf-8")
    broken = bytearray(delivery())
    broken[-1] = 0
    reader = reader_for(bytes(broken))
    assert reader.take_delivery(1, TAG) is None, "a bad frame end is py-amqp's to report"
