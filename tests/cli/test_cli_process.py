"""The installed `fluxlab` script in a real subprocess, plus CLI error behaviour."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import Fluxlab
from influx_like_server import InfluxLikeServer, running_server

from fluxlab.backends.embedded import EmbeddedBackend


def fluxlab_script() -> str:
    beside_python = Path(sys.executable).with_name("fluxlab")
    found = str(beside_python) if beside_python.exists() else shutil.which("fluxlab")
    assert found, "the fluxlab console script is not installed (pip install -e .)"
    return found


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [fluxlab_script(), *args], input=stdin, capture_output=True, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_installed_script_writes_from_stdin(tmp_path: Path) -> None:
    store = tmp_path / "s"
    wrote = run("write", "-", "--bucket", "b", "--store", str(store),
                stdin="cpu,host=a usage=1 1\ncpu,host=a usage=2 2\n")
    assert wrote.returncode == 0, wrote.stderr
    assert "rows read" in wrote.stdout and "created bucket b" in wrote.stderr
    with EmbeddedBackend(store, read_only=True) as backend:
        total = backend.sql('SELECT sum(usage) AS s, count(*) AS n FROM "b"."cpu"').to_pylist()
    assert total == [{"s": 3.0, "n": 2}]


def test_installed_script_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = run("write", str(tmp_path / "missing.lp"), "--bucket", "b",
                 "--store", str(tmp_path / "s"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: file not found: {tmp_path / 'missing.lp'}; check the path"
    ]


def test_version(fluxlab: Fluxlab) -> None:
    result = fluxlab.ok("--version", store=False)
    assert result.stdout.strip() == "fluxlab 0.1.0"


def test_unknown_command_is_a_usage_error(fluxlab: Fluxlab) -> None:
    result = fluxlab("frobnicate", store=False)
    assert result.exit_code == 2


def test_missing_required_option_is_a_usage_error(fluxlab: Fluxlab) -> None:
    result = fluxlab("write", "-", input="cpu v=1 1\n")
    assert result.exit_code == 2 and "--bucket" in result.output


def test_debug_variable_shows_the_traceback(fluxlab: Fluxlab, monkeypatch) -> None:
    monkeypatch.setenv("FLUXLAB_DEBUG", "1")
    result = fluxlab("bucket", "delete", "nope")
    assert result.exit_code == 1
    assert result.exception is not None and "nope" in str(result.exception)


@pytest.fixture
def server() -> InfluxLikeServer:
    with running_server() as started:
        yield started


def test_commands_go_to_influxdb_when_influx_url_is_set(
    fluxlab: Fluxlab, server: InfluxLikeServer, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("INFLUX_URL", server.url)
    monkeypatch.setenv("INFLUX_TOKEN", "tok")
    monkeypatch.setenv("INFLUX_ORG", "myorg")
    listed = fluxlab.ok("bucket", "list", store=False)
    assert "alpha" in listed.stdout and server.url in listed.stdout
    source = tmp_path / "d.lp"
    source.write_text("cpu,host=a usage=1 1\n", encoding="utf-8")
    fluxlab.ok("write", str(source), "--bucket", "alpha", store=False)
    (write,) = server.calls("POST", "/api/v2/write")
    assert write.body.decode() == "cpu,host=a usage=1.0 1"
    sql = fluxlab("query", "--sql", "SELECT 1", store=False)
    assert sql.exit_code == 1 and "no SQL endpoint" in sql.stderr
    flux = fluxlab.ok("query", 'from(bucket: "alpha") |> range(start: 0)', "--format", "csv",
                      store=False)
    assert flux.stdout.startswith("#datatype,string,long")
