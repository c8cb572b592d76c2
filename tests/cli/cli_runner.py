"""Runs the real `fluxlab` Typer app in-process against one tmp store (CliRunner)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from typer.testing import CliRunner, Result

from fluxlab.cli.main import app


class Fluxlab:
    """Runs `fluxlab ...` in-process with the real Typer app against one tmp store."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, store: bool = True) -> Result:
        argv: Sequence[str] = list(args) + (["--store", str(self.store)] if store else [])
        return self.runner.invoke(app, argv, input=input)

    def ok(self, *args: str, input: str | None = None, store: bool = True) -> Result:
        result = self(*args, input=input, store=store)
        assert result.exit_code == 0, result.output
        return result

    def sql(self, query: str) -> str:
        return self.ok("query", "--format", "csv", "--sql", query).stdout
