"""CLI test fixtures: an isolated environment, a tmp store and a runner for the real app."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The recording InfluxDB-like server lives with the backend tests; the CLI reuses it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backends"))

from cli_runner import Fluxlab  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may read the developer's profiles, INFLUX_* variables or user dirs."""
    for name in ("INFLUX_URL", "INFLUX_TOKEN", "INFLUX_ORG", "FLUXLAB_STORE", "FLUXLAB_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLUXLAB_CONFIG", str(tmp_path / "config" / "config.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("COLUMNS", "200")  # wide Rich tables: no wrapped cells in assertions


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def fluxlab(store: Path) -> Fluxlab:
    return Fluxlab(store)
