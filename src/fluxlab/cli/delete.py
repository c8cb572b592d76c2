"""`fluxlab delete` — remove points by time range and predicate, like `influx delete`."""

from __future__ import annotations

from typing import Annotated

import typer

from fluxlab.cli.common import (
    BucketOpt,
    Connection,
    connected,
    reports_errors,
)
from fluxlab.cli.output import console
from fluxlab.cli.parsing import parse_time

TimeOpt = Annotated[str, typer.Option(help="RFC 3339 time, date, epoch ns, now or -1h.")]


@reports_errors
@connected
def delete(
    bucket: BucketOpt,
    start: Annotated[
        str, typer.Option("--start", help="Delete from this time (inclusive); RFC 3339, -30d, ...")
    ],
    stop: Annotated[
        str, typer.Option("--stop", help="Delete up to this time (exclusive); RFC 3339, now, ...")
    ],
    predicate: Annotated[
        str | None,
        typer.Option("--predicate", help='InfluxDB delete predicate: _measurement="m" AND tag="v"',
                     show_default=False),
    ] = None,
    conn: Connection = Connection(),
) -> None:
    """Delete points of a bucket in [start, stop) that match the predicate."""
    start_ns, stop_ns = parse_time(start), parse_time(stop)
    if stop_ns <= start_ns:
        raise ValueError(f"--stop ({stop}) must be after --start ({start})")
    with conn.open() as backend:
        backend.delete(bucket, start_ns=start_ns, stop_ns=stop_ns, predicate=predicate or None)
        what = f" matching {predicate}" if predicate else ""
        console.print(
            f"Deleted points in {bucket} from {start} to {stop}{what} ({backend.location})",
            markup=False,
        )
