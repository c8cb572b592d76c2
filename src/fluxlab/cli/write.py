"""`fluxlab write` (line protocol / annotated CSV) and `fluxlab ingest` (mapped CSV files).

Both run the one ingest pipeline, so every row is counted as written, fixed or
rejected, and the account table is printed whatever the outcome.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from fluxlab.backends.base import Backend
from fluxlab.cli.common import (
    BucketOpt,
    Connection,
    connected,
    reports_errors,
)
from fluxlab.cli.output import console, err_console, error, note


class WriteFormat(StrEnum):
    AUTO = "auto"
    LP = "lp"
    CSV = "csv"
    ANNOTATED = "annotated"


class Precision(StrEnum):
    NS = "ns"
    US = "us"
    MS = "ms"
    S = "s"


class Collision(StrEnum):
    KEEP_LAST = "keep-last"
    KEEP_FIRST = "keep-first"
    ERROR = "error"


PrecisionOpt = Annotated[
    Precision, typer.Option("--precision", help="Unit of the line protocol timestamps.")
]
DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", help="Parse, map and account, print what would be written; "
                 "write nothing."),
]
MaxErrorsOpt = Annotated[
    int,
    typer.Option("--max-errors", min=-1,
                 help="Rejected rows allowed before giving up (-1 = no limit)."),
]
RejectsOpt = Annotated[
    Path | None,
    typer.Option("--rejects", help="Write rejected rows with the reason to this file.",
                 show_default=False),
]
CollisionOpt = Annotated[
    Collision,
    typer.Option("--on-collision",
                 help="Same series+field+time twice: keep-last (InfluxDB), keep-first, error."),
]


@reports_errors
@connected
def write(
    source: Annotated[
        str, typer.Argument(help="File of line protocol or annotated CSV; '-' reads stdin.")
    ] = "-",
    bucket: BucketOpt = ...,  # type: ignore[assignment]
    precision: PrecisionOpt = Precision.NS,
    fmt: Annotated[
        WriteFormat, typer.Option("--format", "-f", help="Input format; auto looks at the data.")
    ] = WriteFormat.AUTO,
    dry_run: DryRunOpt = False,
    max_errors: MaxErrorsOpt = 0,
    rejects: RejectsOpt = None,
    on_collision: CollisionOpt = Collision.KEEP_LAST,
    conn: Connection = Connection(),
) -> None:
    """Write line protocol or annotated CSV into a bucket (like `influx write`)."""
    if fmt is WriteFormat.CSV:
        raise ValueError(
            "--format csv needs a mapping file: use `fluxlab ingest FILE --mapping M.toml "
            "--bucket B` (or --format annotated for InfluxDB annotated CSV)"
        )
    options = dict(
        format=fmt.value,
        precision=precision.value,
        max_errors=max_errors,
        rejects_path=rejects,
        on_collision=on_collision.value,
    )
    with conn.open() as backend:
        stream: Any = sys.stdin.buffer if source == "-" else Path(source)
        run_and_report(backend, bucket, [stream], options, dry_run=dry_run)


@reports_errors
@connected
def ingest(
    files: Annotated[list[Path], typer.Argument(help="CSV / line protocol files to load.")],
    bucket: BucketOpt = ...,  # type: ignore[assignment]
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", "-m", help="Mapping TOML: which columns are time, tags, fields.",
                     show_default=False),
    ] = None,
    fmt: Annotated[
        WriteFormat, typer.Option("--format", "-f", help="Input format; auto looks at the data.")
    ] = WriteFormat.AUTO,
    precision: PrecisionOpt = Precision.NS,
    sort: Annotated[
        bool, typer.Option("--sort", help="Sort by time before writing (external, bounded memory).")
    ] = False,
    dry_run: DryRunOpt = False,
    max_errors: MaxErrorsOpt = 0,
    rejects: RejectsOpt = None,
    on_collision: CollisionOpt = Collision.KEEP_LAST,
    conn: Connection = Connection(),
) -> None:
    """Load CSV files with a mapping file (or line protocol) into a bucket, with an account."""
    options = dict(
        format=fmt.value,
        mapping=mapping,
        precision=precision.value,
        max_errors=max_errors,
        rejects_path=rejects,
        sort=sort,
        on_collision=on_collision.value,
    )
    with conn.open() as backend:
        run_and_report(backend, bucket, list(files), options, dry_run=dry_run)


def run_and_report(
    backend: Backend, bucket: str, sources: list[Any], options: dict[str, Any], *, dry_run: bool
) -> list[Any]:
    """Ingest each source and print its account.

    A missing bucket is created (like a first write to a new table) but removed again if
    the run fails before writing anything, so a typo or a bad option leaves no trace.
    In a dry run the account goes to stderr: stdout carries only what would be written.
    """
    for source in sources:
        if isinstance(source, Path) and not source.is_file():
            raise FileNotFoundError(2, "No such file", str(source))
    created = not dry_run and bucket not in {b.name for b in backend.list_buckets()}
    if created:
        backend.create_bucket(bucket)
    try:
        accounts = ingest_all(backend, bucket, sources, options, dry_run=dry_run)
    except BaseException:
        if created and not backend.measurements(bucket):
            backend.delete_bucket(bucket)
        raise
    if created:
        note(f"created bucket {bucket} in {backend.location}")
    if dry_run:
        note("dry run: nothing was written")
    failed = [a for a in accounts if a.exit_code]
    for account in failed:
        error(f"{account.source}: {account.stop_reason or account.first_error or 'stopped'}")
    if failed:
        raise typer.Exit(1)
    return accounts


def ingest_all(
    backend: Backend, bucket: str, sources: list[Any], options: dict[str, Any], *, dry_run: bool
) -> list[Any]:
    target = err_console if dry_run else console
    accounts = []
    for source in sources:
        account = backend.ingest(bucket, source, dry_run=sys.stdout if dry_run else None, **options)
        accounts.append(account)
        target.print(account_renderable(account))
    return accounts


def account_renderable(account: Any) -> Any:
    """The ingest layer's own Rich rendering of its account (it knows its fields best)."""
    return account.rich_table()
