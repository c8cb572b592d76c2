"""Suite-wide fixtures: every test runs in an environment of its own."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may read the developer's profiles, INFLUX_* variables or user dirs.

    Wide Rich tables (COLUMNS=200) keep cells unwrapped in output assertions.
    """
    for name in ("INFLUX_URL", "INFLUX_TOKEN", "INFLUX_ORG", "FLUXLAB_STORE", "FLUXLAB_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLUXLAB_CONFIG", str(tmp_path / "config" / "config.toml"))
    for kind in ("DATA", "CONFIG", "CACHE"):
        monkeypatch.setenv(f"XDG_{kind}_HOME", str(tmp_path / f"xdg-{kind.lower()}"))
    monkeypatch.setenv("COLUMNS", "200")
