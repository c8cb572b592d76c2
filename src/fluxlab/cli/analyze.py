"""`fluxlab analyze NAME` — run a saved analysis (a Flux file shipped with fluxlab).

The files are the tutorials' queries, readable and reusable as-is in the InfluxDB UI
or Grafana; here fluxlab supplies the dashboard time range (`v`) they expect.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import pyarrow as pa
import typer
from rich.table import Table

from fluxlab.backends.base import Backend
from fluxlab.cli.common import (
    Connection,
    connected,
    reports_errors,
)
from fluxlab.cli.output import OutputFormat, console, note, plain_row, rich_table, with_text_times
from fluxlab.datasets.analyses import Analysis, all_analyses, load_analysis


@reports_errors
@connected
def analyze(
    name: Annotated[
        str | None,
        typer.Argument(help="Saved analysis to run; omit to list them.", show_default=False),
    ] = None,
    run_all: Annotated[bool, typer.Option("--all", help="Run every saved analysis.")] = False,
    show: Annotated[
        bool, typer.Option("--show-query", help="Print the Flux file instead of running it.")
    ] = False,
    start: Annotated[
        str | None, typer.Option("--start", help="v.timeRangeStart (RFC 3339, date, -30d).",
                                 show_default=False)
    ] = None,
    stop: Annotated[
        str | None, typer.Option("--stop", help="v.timeRangeStop (RFC 3339, date, now()).",
                                 show_default=False)
    ] = None,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table for people; csv/json for tools.")
    ] = OutputFormat.TABLE,
    max_rows: Annotated[int, typer.Option("--max-rows", min=1, help="Rows shown as a table.")] = 50,
    conn: Connection = Connection(),
) -> None:
    """Run the tutorials' analyses (cases by city, top case types, geo radius, schema...)."""
    if name is None and not run_all:
        console.print(catalog_table())
        return
    analyses = all_analyses() if run_all else [load_analysis(name or "")]
    if show:
        for analysis in analyses:
            sys.stdout.write(analysis.text)
        return
    with conn.open() as backend:
        for analysis in analyses:
            run_analysis(backend, analysis, fmt, max_rows=max_rows, start=start, stop=stop)


def catalog_table() -> Table:
    view = Table(title="Saved analyses (fluxlab analyze NAME)", header_style="bold")
    for column in ("name", "dataset", "what it shows"):
        view.add_column(column, overflow="fold")
    for analysis in all_analyses():
        view.add_row(*plain_row(analysis.name, analysis.dataset, analysis.title))
    return view


def run_analysis(
    backend: Backend,
    analysis: Analysis,
    fmt: OutputFormat,
    *,
    max_rows: int = 50,
    start: str | None = None,
    stop: str | None = None,
) -> pa.Table | None:
    """Run one analysis and print it; returns the combined result (None when empty)."""
    query = analysis.local_query(start, stop)
    if fmt is OutputFormat.CSV:
        sys.stdout.write(backend.flux_csv(query))
        return None
    tables = backend.flux(query)
    combined = combine(tables)
    if fmt is OutputFormat.JSON:
        rows = with_text_times(combined).to_pylist() if combined is not None else []
        sys.stdout.write(json.dumps({"analysis": analysis.name, "rows": rows}) + "\n")
        return combined
    if combined is None:
        note(f"{analysis.name}: no rows (nothing matched; is the {analysis.dataset} dataset "
             "loaded? `fluxlab datasets list`)")
        return None
    console.print(f"\n{analysis.title}  [{analysis.name}]", style="bold", markup=False,
                  soft_wrap=True)
    console.print(rich_table(combined, max_rows=max_rows))
    return combined


def combine(tables: list[pa.Table]) -> pa.Table | None:
    """All result tables as one; `result`/`table` columns only when they tell tables apart."""
    if not tables:
        return None
    combined = pa.concat_tables(tables, promote_options="permissive")
    for column in ("result", "table"):
        if column in combined.column_names and len(set(combined.column(column).to_pylist())) <= 1:
            combined = combined.drop_columns([column])
    return combined
