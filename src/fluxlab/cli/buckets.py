"""`fluxlab bucket create|list|update|delete` — like `influx bucket`, on any backend."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from fluxlab.backends.base import BucketInfo
from fluxlab.cli.common import (
    Connection,
    connected,
    reports_errors,
)
from fluxlab.cli.output import console, format_duration_ns, plain_row
from fluxlab.cli.parsing import parse_duration

app = typer.Typer(help="Create, list, update and delete buckets.", no_args_is_help=True)

RetentionOpt = Annotated[
    str | None,
    typer.Option("--retention", "-r", help="Keep data this long: 30d, 72h, 1w; 0 = forever.",
                 show_default=False),
]
DescriptionOpt = Annotated[
    str | None, typer.Option("--description", "-d", help="Free text.", show_default=False)
]


@app.command("create")
@reports_errors
@connected
def create(
    name: Annotated[str, typer.Argument(help="New bucket name.")],
    description: DescriptionOpt = None,
    retention: RetentionOpt = None,
    conn: Connection = Connection(),
) -> None:
    """Create a bucket (retention 0 keeps data forever)."""
    retention_ns = parse_duration(retention) if retention else 0
    with conn.open() as backend:
        bucket = backend.create_bucket(
            name, org=conn.org, description=description or "", retention_ns=retention_ns
        )
        console.print(f"Created bucket {name} in {backend.location}", markup=False)
        console.print(bucket_table([bucket]))


@app.command("list")
@reports_errors
@connected
def list_(
    conn: Connection = Connection(),
) -> None:
    """List buckets (all organisations on the embedded store unless --org)."""
    with conn.open(read_only=True) as backend:
        buckets = backend.list_buckets(conn.org)
        if not buckets:
            console.print(
                f"No buckets in {backend.location}. Create one: fluxlab bucket create NAME"
            )
            return
        console.print(f"Buckets in {backend.location}", markup=False)
        console.print(bucket_table(buckets))


@app.command("update")
@reports_errors
@connected
def update(
    name: Annotated[str, typer.Argument(help="Bucket to change.")],
    new_name: Annotated[
        str | None, typer.Option("--name", "-n", help="Rename to this.", show_default=False)
    ] = None,
    description: DescriptionOpt = None,
    retention: RetentionOpt = None,
    conn: Connection = Connection(),
) -> None:
    """Rename a bucket or change its description or retention."""
    if new_name is None and description is None and retention is None:
        raise typer.BadParameter("nothing to change: give --name, --description or --retention")
    retention_ns = parse_duration(retention) if retention is not None else None
    with conn.open() as backend:
        bucket = backend.update_bucket(
            name, new_name=new_name, description=description, retention_ns=retention_ns
        )
        console.print(f"Updated bucket {name}", markup=False)
        console.print(bucket_table([bucket]))


@app.command("delete")
@reports_errors
@connected
def delete(
    name: Annotated[str, typer.Argument(help="Bucket to delete, with all its data.")],
    conn: Connection = Connection(),
) -> None:
    """Delete a bucket and all its data."""
    with conn.open() as backend:
        backend.delete_bucket(name)
        console.print(f"Deleted bucket {name} from {backend.location}", markup=False)


def bucket_table(buckets: list[BucketInfo]) -> Table:
    view = Table(header_style="bold")
    for column in ("name", "org", "retention", "description", "id"):
        view.add_column(column)
    for b in buckets:
        view.add_row(
            *plain_row(b.name, b.org, format_duration_ns(b.retention_ns), b.description, b.id)
        )
    return view
