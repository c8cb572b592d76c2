"""CLI test fixtures: a tmp store and a runner for the real app."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The recording InfluxDB-like server lives with the backend tests; the CLI reuses it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backends"))

from cli_runner import Fluxlab  # noqa: E402


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def fluxlab(store: Path) -> Fluxlab:
    return Fluxlab(store)
