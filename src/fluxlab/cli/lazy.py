"""Sub-commands whose modules are imported only when that command runs.

Why: some commands need heavy libraries (scikit-learn, SciPy, pandas) that take
seconds to import. Loading them for `fluxlab write` or `fluxlab query` would make
every command slow; this group imports a lazy command's module on first use (and for
`--help`, which lists them all).
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

LAZY_COMMANDS: dict[str, str] = {
    "classify": "fluxlab.cli.classify:app",
    "analyze": "fluxlab.cli.analyze:analyze",
}
"""Command name -> "module:attribute" (a Typer app for a group, a function otherwise)."""


class LazyGroup(TyperGroup):
    """A Typer group that resolves LAZY_COMMANDS on demand."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            command = load_command(cmd_name, LAZY_COMMANDS[cmd_name])
            self.add_command(command, cmd_name)
        return command


def load_command(name: str, target: str) -> Any:
    """Import `module:attribute` and turn it into a click command named `name`."""
    module_name, attribute = target.split(":")
    obj = getattr(importlib.import_module(module_name), attribute)
    if isinstance(obj, typer.Typer):
        command = typer.main.get_group(obj)
    else:
        single = typer.Typer()
        single.command(name)(obj)
        command = typer.main.get_command(single)
    command.name = name
    return command
