"""Every command that touches data takes the same five connection options."""

from __future__ import annotations

import inspect

import pytest
from typer.testing import CliRunner

from fluxlab.cli.common import Connection, connected
from fluxlab.cli.main import app

SHARED = ("--org", "--store", "--url", "--token", "--profile")
COMMANDS = [
    ["bucket", "create"], ["bucket", "list"], ["bucket", "update"], ["bucket", "delete"],
    ["write"], ["ingest"], ["delete"], ["query"], ["analyze"], ["classify", "train"],
    ["datasets", "load"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_command_help_lists_every_connection_option(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for option in SHARED:
        assert option in result.output, f"{' '.join(command)} lacks {option}"


def test_connected_passes_the_options_as_one_connection() -> None:
    seen: list[Connection] = []

    @connected
    def command(name: str, conn: Connection = Connection()) -> None:
        seen.append(conn)

    parameters = list(inspect.signature(command).parameters)
    assert parameters == ["name", "org", "store", "url", "token", "profile"]
    command("x", org="acme", url="http://127.0.0.1:1", token="t")
    assert seen == [Connection(org="acme", url="http://127.0.0.1:1", token="t")]


def test_connected_refuses_a_command_without_conn() -> None:
    def command(name: str) -> None: ...

    with pytest.raises(TypeError, match="conn: Connection"):
        connected(command)


def test_org_option_reaches_the_backend(tmp_path) -> None:
    runner = CliRunner()
    store = str(tmp_path / "s")
    made = runner.invoke(app, ["bucket", "create", "b1", "--org", "acme", "--store", store])
    assert made.exit_code == 0, made.output
    runner.invoke(app, ["bucket", "create", "b2", "--store", store])
    listed = runner.invoke(app, ["bucket", "list", "--org", "acme", "--store", store])
    assert "b1" in listed.output and "b2" not in listed.output
