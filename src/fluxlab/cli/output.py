"""Everything the CLI prints: Rich tables for people, CSV/JSON for pipes, errors on stderr.

Timestamps are shown as RFC 3339 UTC with nanoseconds everywhere, so what a person
reads and what a script parses agree. Conversions run column-wise in Arrow/Polars;
only the rows a person will see are turned into Python values.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TextIO

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

RFC3339_NS = "%Y-%m-%dT%H:%M:%SZ"
"""strftime pattern; Arrow prints the fraction of a nanosecond timestamp after %S."""


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def error(message: str) -> None:
    """One line on stderr, no markup interpretation (messages quote user input)."""
    err_console.print(f"error: {message}", markup=False)


def note(message: str) -> None:
    """A hint or progress remark on stderr, so stdout stays clean for pipes."""
    err_console.print(message, markup=False, style="dim")


def with_text_times(table: pa.Table) -> pa.Table:
    """Replace timestamp columns by RFC 3339 UTC strings (vectorised)."""
    for index, column_field in enumerate(table.schema):
        if pa.types.is_timestamp(column_field.type):
            column = table.column(index)
            if column_field.type.tz is None:
                column = pc.assume_timezone(column, "UTC")
            text = pc.strftime(column, format=RFC3339_NS)
            table = table.set_column(index, column_field.name, text)
    return table


def rich_table(table: pa.Table, *, title: str | None = None, max_rows: int = 50) -> Table:
    """A readable terminal table of the first `max_rows` rows."""
    shown = with_text_times(table.slice(0, max_rows))
    view = Table(title=title, show_lines=False, header_style="bold")
    for name in shown.column_names:
        numeric = _is_numeric(shown.schema.field(name).type)
        view.add_column(name, justify="right" if numeric else "left", overflow="fold")
    columns = [shown.column(i).to_pylist() for i in range(shown.num_columns)]
    for row in zip(*columns, strict=True):
        view.add_row(*(_cell(v) for v in row))
    if table.num_rows > max_rows:
        view.caption = f"{max_rows} of {table.num_rows} rows shown; --format csv prints all"
    else:
        view.caption = f"{table.num_rows} row{'s' if table.num_rows != 1 else ''}"
    return view


def print_arrow(
    table: pa.Table,
    fmt: OutputFormat,
    *,
    title: str | None = None,
    max_rows: int = 50,
    stream: TextIO | None = None,
) -> None:
    """Print a query result in the chosen format."""
    out = stream if stream is not None else sys.stdout
    if fmt is OutputFormat.TABLE:
        console.print(rich_table(table, title=title, max_rows=max_rows))
        return
    frame = pl.from_arrow(with_text_times(table))
    assert isinstance(frame, pl.DataFrame)
    if fmt is OutputFormat.CSV:
        out.write(frame.write_csv())
    else:
        out.write(frame.write_json() + "\n")
    out.flush()


def key_value_table(rows: list[tuple[str, str]], *, title: str | None = None) -> Table:
    """Two-column table for settings and summaries."""
    view = Table(title=title, show_header=False, box=None, pad_edge=False)
    view.add_column(style="bold")
    view.add_column(overflow="fold")
    for key, value in rows:
        view.add_row(Text(key), Text(value))
    return view


def format_duration_ns(ns: int) -> str:
    """Retention as users write it: 0 -> "infinite", 30 days -> "30d", 90 min -> "1h30m"."""
    if ns <= 0:
        return "infinite"
    seconds, rest = divmod(ns, 1_000_000_000)
    if rest:
        return f"{ns}ns"
    units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]
    if seconds % 604_800 == 0:
        units.insert(0, ("w", 604_800))
    parts = []
    for unit, size in units:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _is_numeric(dtype: pa.DataType) -> bool:
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)


def plain_row(*values: object) -> list[Text]:
    """Table cells as literal text: user data may contain [brackets] Rich would parse."""
    return [_cell(v) for v in values]


def _cell(value: object) -> Text:
    if value is None:
        return Text("")
    if isinstance(value, float):
        return Text(repr(value))
    return Text(str(value))
