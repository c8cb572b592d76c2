"""`fluxlab store check|info` and `fluxlab config ...` (profiles)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from cli_runner import Fluxlab


def test_store_check_and_info(fluxlab: Fluxlab, tmp_path: Path) -> None:
    source = tmp_path / "d.lp"
    source.write_text("cpu,host=a usage=1 1\ncpu,host=b usage=2 2\n", encoding="utf-8")
    fluxlab.ok("write", str(source), "--bucket", "metrics")
    assert "is consistent" in fluxlab.ok("store", "check").stdout
    info = fluxlab.ok("store", "info").stdout
    assert str(fluxlab.store) in info
    assert "metrics" in info and "cpu" in info and "usage:float" in info and "host" in info


def test_store_commands_on_a_missing_store(fluxlab: Fluxlab) -> None:
    result = fluxlab("store", "info")
    assert result.exit_code == 1
    assert "no store at" in result.stderr and "fluxlab demo" in result.stderr


def test_config_profiles_lifecycle(fluxlab: Fluxlab, tmp_path: Path) -> None:
    config_file = tmp_path / "config" / "config.toml"
    local = tmp_path / "local-store"
    fluxlab.ok("config", "create", "local", "--store", str(local), store=False)
    fluxlab.ok("config", "create", "cloud", "--url", "http://127.0.0.1:1", "--token",
               "abcdefghijkl", "--org", "me", store=False)
    saved = tomllib.loads(config_file.read_text(encoding="utf-8"))
    assert saved["active"] == "local"
    assert saved["profiles"]["cloud"] == {
        "url": "http://127.0.0.1:1", "token": "abcdefghijkl", "org": "me",
    }

    listed = fluxlab.ok("config", "list", store=False).stdout
    assert "local" in listed and "cloud" in listed and "abcd…" in listed
    assert "abcdefghijkl" not in listed

    # The active profile's store is where commands go when no --store is given.
    fluxlab.ok("bucket", "create", "viaprofile", store=False)
    assert (local / "store.lock").exists() or any(local.iterdir())

    fluxlab.ok("config", "use", "cloud", store=False)
    shown = fluxlab.ok("config", "show", store=False).stdout
    assert "InfluxDB 2 at http://127.0.0.1:1" in shown and "profile cloud" in shown

    fluxlab.ok("config", "delete", "cloud", store=False)
    shown = fluxlab.ok("config", "show", store=False).stdout
    assert "embedded store" in shown


def test_config_errors(fluxlab: Fluxlab) -> None:
    fluxlab.ok("config", "create", "x", "--store", "/tmp/x", store=False)
    again = fluxlab("config", "create", "x", "--store", "/tmp/y", store=False)
    assert again.exit_code == 1 and "--overwrite" in again.stderr
    unknown = fluxlab("config", "use", "nope", store=False)
    assert unknown.exit_code == 1 and "no profile named 'nope'" in unknown.stderr
    empty = fluxlab("config", "create", "y", store=False)
    assert empty.exit_code == 2


def test_environment_store_is_used(fluxlab: Fluxlab, tmp_path: Path, monkeypatch) -> None:
    env_store = tmp_path / "env-store"
    monkeypatch.setenv("FLUXLAB_STORE", str(env_store))
    fluxlab.ok("bucket", "create", "e", store=False)
    assert "e" in fluxlab.ok("bucket", "list", "--store", str(env_store), store=False).stdout
    assert "FLUXLAB_STORE" not in fluxlab.ok("config", "show", store=False).stdout
    assert "[env]" in fluxlab.ok("config", "show", store=False).stdout
