"""Backend test fixtures: an isolated environment and the recording InfluxDB-like server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from influx_like_server import InfluxLikeServer, running_server


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may read the developer's profiles, INFLUX_* variables or user dirs."""
    for name in ("INFLUX_URL", "INFLUX_TOKEN", "INFLUX_ORG", "FLUXLAB_STORE", "FLUXLAB_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLUXLAB_CONFIG", str(tmp_path / "config" / "config.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


@pytest.fixture
def influx_server() -> Iterator[InfluxLikeServer]:
    """A recording InfluxDB-v2-shaped HTTP server on 127.0.0.1."""
    with running_server() as server:
        yield server
