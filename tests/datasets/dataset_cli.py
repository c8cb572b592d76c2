"""The real `fluxlab` CLI (in-process, Typer CliRunner) against one store in a tmp directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from typer.testing import CliRunner, Result

from fluxlab.cli.main import app


class Cli:
    """`fluxlab ...` with `--store` (and a rejects folder) pointing into tmp_path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = root / "store"
        self.rejects = root / "rejects"
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        argv: Sequence[str] = [*args, "--store", str(self.store)]
        return self.runner.invoke(app, argv)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, result.output
        return result

    def load(self, *args: str) -> Result:
        return self.ok("datasets", "load", *args, "--rejects-dir", str(self.rejects))

    def sql(self, query: str) -> list[str]:
        return self.ok("query", "--format", "csv", "--sql", query).stdout.splitlines()[1:]
