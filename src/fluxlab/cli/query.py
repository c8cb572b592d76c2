"""`fluxlab query` — Flux (positional, like `influx query`) or SQL (`--sql`, embedded only).

Flux runs on whichever backend is selected: the embedded Flux engine or InfluxDB 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer

from fluxlab.backends.base import Backend
from fluxlab.cli.common import (
    Connection,
    connected,
    reports_errors,
)
from fluxlab.cli.output import OutputFormat, note, print_arrow


@reports_errors
@connected
def query(
    flux: Annotated[
        str | None,
        typer.Argument(help="Flux query text.",
                       show_default=False),
    ] = None,
    sql: Annotated[
        str | None,
        typer.Option("--sql", help='SQL on the embedded store; tables are "bucket"."measurement".',
                     show_default=False),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Read the Flux query text from a file.",
                     show_default=False),
    ] = None,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table for people; csv/json for tools.")
    ] = OutputFormat.TABLE,
    max_rows: Annotated[
        int, typer.Option("--max-rows", min=1, help="Rows shown by --format table.")
    ] = 50,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Flux time limit in seconds (embedded).")
    ] = 300.0,
    max_memory: Annotated[
        float, typer.Option("--max-memory", min=1, help="Flux memory growth limit in MiB (embedded).")
    ] = 1024.0,
    conn: Connection = Connection(),
) -> None:
    """Run a query and print the result."""
    if file is not None:
        flux = file.read_text(encoding="utf-8")
    if (sql is None) == (flux is None):
        raise typer.BadParameter("give exactly one query: --sql \"SELECT ...\" or Flux text")
    with conn.open(read_only=sql is not None) as backend:
        if sql is not None:
            print_arrow(backend.sql(sql), fmt, max_rows=max_rows)
        else:
            assert flux is not None
            if hasattr(backend, "limits"):
                from fluxlab.flux.limits import QueryLimits

                backend.limits = QueryLimits(timeout_s=timeout, max_memory_mb=max_memory)
            run_flux(backend, flux, fmt, max_rows)


def run_flux(backend: Backend, text: str, fmt: OutputFormat, max_rows: int) -> None:
    """Flux output: annotated CSV (InfluxDB-compatible) for csv; otherwise all tables as
    one, told apart by their `result` and `table` columns (926 series are 926 tables:
    one Rich table each would be unreadable)."""
    if fmt is OutputFormat.CSV:
        sys.stdout.write(backend.flux_csv(text))
        return
    tables = backend.flux(text)
    if not tables:
        note("the query returned no tables")
        return
    combined = pa.concat_tables(tables, promote_options="permissive")
    print_arrow(combined, fmt, max_rows=max_rows)
