"""The `fluxlab` command: assembles the sub-commands; each lives in its own module.

Kept free of logic so `fluxlab --help` shows the whole tool at a glance and every
command can be read in one small file.
"""

from __future__ import annotations

from typing import Annotated

import typer

from fluxlab import __version__
from fluxlab.cli import buckets, config, store
from fluxlab.cli import datasets as datasets_cli
from fluxlab.cli.delete import delete
from fluxlab.cli.demo import demo
from fluxlab.cli.lazy import LazyGroup
from fluxlab.cli.query import query
from fluxlab.cli.write import ingest, write

app = typer.Typer(
    name="fluxlab",
    help="Time-stamped public data: CSV -> time-series store -> SQL/Flux, embedded or on "
    "InfluxDB 2. Start with `fluxlab demo`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=LazyGroup,  # classify / analyze load scikit-learn & co only when used
)

app.add_typer(buckets.app, name="bucket")
app.add_typer(store.app, name="store")
app.add_typer(config.app, name="config")
app.command("write")(write)
app.command("ingest")(ingest)
app.command("delete")(delete)
app.command("query")(query)
app.command("demo")(demo)
app.add_typer(datasets_cli.app, name="datasets")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"fluxlab {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """fluxlab: from a messy CSV to a clean bucket, queries and analyses."""


if __name__ == "__main__":
    app()
