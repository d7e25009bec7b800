"""Shared fixtures; the live-broker ones live in tests/live.py."""
from tests.live import broker, make_broker, workers  # noqa: F401
