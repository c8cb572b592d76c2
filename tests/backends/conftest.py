"""Backend test fixtures: the recording InfluxDB-like server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from influx_like_server import InfluxLikeServer, running_server


@pytest.fixture
def influx_server() -> Iterator[InfluxLikeServer]:
    """A recording InfluxDB-v2-shaped HTTP server on 127.0.0.1."""
    with running_server() as server:
        yield server
