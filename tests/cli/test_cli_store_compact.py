"""`fluxlab store compact`, run through the real app on a real store."""

from __future__ import annotations

from pathlib import Path

from cli_runner import Fluxlab
from typer.testing import CliRunner

from fluxlab.cli.main import app
from fluxlab.storage import Store


def run(store: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["store", "compact", "--store", str(store), *args])
    return result.exit_code, result.output


def test_store_compact_command(fluxlab: Fluxlab, tmp_path: Path) -> None:
    source = tmp_path / "d.lp"
    source.write_text("cpu,host=b usage=1 1\ncpu,host=a usage=2 2\ncpu,host=b usage=3 3\n",
                      encoding="utf-8")
    fluxlab.ok("write", str(source), "--bucket", "metrics")
    code, out = run(fluxlab.store, "--bucket", "metrics")
    assert code == 0, out
    assert "metrics/cpu" in out and "3 points, 2 series" in out
    code, out = run(fluxlab.store)
    assert code == 0 and "unchanged since the last compaction" in out
    code, out = run(fluxlab.store, "--measurement", "nope")
    assert code == 1 and "measurement 'nope' not found" in out
    with Store(fluxlab.store, read_only=True) as store:
        assert store.check().ok
        assert store.sql('SELECT sum(usage) AS s FROM "metrics"."cpu"').column(0)[0].as_py() == 6


def test_store_compact_on_a_missing_store(tmp_path: Path) -> None:
    code, out = run(tmp_path / "missing")
    assert code == 1 and "no store at" in out
