"""Dataset test fixtures: an isolated environment and the CLI helper on a tmp store."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset_cli import Cli  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may read the developer's profiles, INFLUX_* variables or user dirs."""
    for name in ("INFLUX_URL", "INFLUX_TOKEN", "INFLUX_ORG", "FLUXLAB_STORE", "FLUXLAB_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLUXLAB_CONFIG", str(tmp_path / "config" / "config.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)
