"""JSON decoding on the ingest paths (broker messages, recordings): orjson, with the json module behind it."""

import json

import orjson


def loads_json(raw):
    """orjson, or the json module for what orjson refuses (NaN, integers over 64 bits, lone surrogates)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)
