"""`fluxlab store check|info|compact` — look after the embedded store directory itself.

These always address the embedded store (never InfluxDB), because they are about the
files on this machine: is the store consistent, what does it hold, how big is it, are
its points laid out for fast queries (InfluxDB compacts its own TSM files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fluxlab.backends.config import resolve_settings
from fluxlab.backends.embedded import EmbeddedBackend
from fluxlab.cli.common import ProfileOpt, StoreOpt, reports_errors, require_store
from fluxlab.cli.output import console, error, format_duration_ns, key_value_table, plain_row

app = typer.Typer(help="Check, describe and compact the embedded store.", no_args_is_help=True)


def store_path(store: Path | None, profile: str | None) -> Path:
    """The embedded store directory from --store, FLUXLAB_STORE, the profile or the default."""
    return resolve_settings(store=store, profile=profile).store


@app.command("check")
@reports_errors
def check(store: StoreOpt = None, profile: ProfileOpt = None) -> None:
    """Verify the store's catalog and tables agree; exit 1 and list problems if not."""
    path = store_path(store, profile)
    require_store(path)
    with EmbeddedBackend(path, read_only=True) as backend:
        report = backend.store.check()
    if report.ok:
        console.print(f"ok: store {path} is consistent", markup=False)
        return
    for problem in report.problems:
        error(f"{path}: {problem}")
    raise typer.Exit(1)


@app.command("info")
@reports_errors
def info(store: StoreOpt = None, profile: ProfileOpt = None) -> None:
    """Show where the store is, its size, and each bucket's measurements and row counts."""
    path = store_path(store, profile)
    require_store(path)
    with EmbeddedBackend(path, read_only=True) as backend:
        buckets = backend.list_buckets()
        console.print(key_value_table([
            ("store", str(path)),
            ("size on disk", human_bytes(directory_size(path))),
            ("buckets", str(len(buckets))),
        ]))
        if buckets:
            console.print(contents_table(backend))



@app.command("compact")
@reports_errors
def compact(
    bucket: Annotated[
        str | None,
        typer.Option("--bucket", "-b", help="Only this bucket (default: every bucket).",
                     show_default=False),
    ] = None,
    measurement: Annotated[
        str | None,
        typer.Option("--measurement", "-m", help="Only this measurement.", show_default=False),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Rewrite even measurements already compacted.")
    ] = False,
    store: StoreOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Cluster points by series and time: geo and tag-filtered queries skip the rest.

    Worth running after a large load; measurements unchanged since their last compaction
    are skipped, so running it again is cheap.
    """
    path = store_path(store, profile)
    require_store(path)
    with EmbeddedBackend(path) as backend:
        report = backend.store.compact(bucket, measurement, force=force)
    rows = [
        (f"{m.bucket}/{m.measurement}",
         "unchanged since the last compaction" if m.skipped
         else f"{m.rows:,} points, {m.series:,} series ({m.series_removed:,} without points "
              f"removed), {m.seconds:.2f} s")
        for m in report.measurements
    ]
    if rows:
        console.print(key_value_table(rows, title="Compaction"))
    console.print(str(report), markup=False)

def contents_table(backend: EmbeddedBackend) -> Table:
    """One row per bucket and measurement: rows (timestamps x series), fields, tags."""
    view = Table(title="Contents", header_style="bold")
    for column in ("bucket", "retention", "measurement", "rows", "fields", "tags"):
        view.add_column(column, justify="right" if column == "rows" else "left")
    for bucket in backend.list_buckets():
        measurements = backend.measurements(bucket.name)
        retention = format_duration_ns(bucket.retention_ns)
        if not measurements:
            view.add_row(*plain_row(bucket.name, retention, "(empty)", 0, "", ""))
        for measurement in measurements:
            rows = backend.sql(f"SELECT count(*) AS n FROM {quoted(bucket.name)}.{quoted(measurement)}")
            fields = backend.field_keys(bucket.name, measurement)
            tags = backend.tag_keys(bucket.name, measurement)
            view.add_row(*plain_row(
                bucket.name,
                retention,
                measurement,
                f"{rows.column(0)[0].as_py():,}",
                ", ".join(f"{k}:{v}" for k, v in fields.items()),
                ", ".join(tags),
            ))
    return view


def quoted(identifier: str) -> str:
    """A SQL identifier in double quotes (bucket and measurement names may hold anything)."""
    return '"' + identifier.replace('"', '""') + '"'


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
