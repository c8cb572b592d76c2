"""`fluxlab demo` — load the bundled bird-migration sample and show what fluxlab does.

The first thing a new user runs (`make demo`), so it must work offline, on the
embedded store, and be safe to repeat: writing the same points again replaces them
(last write wins), so counts never double.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import shutil
import sys
from pathlib import Path

from rich.table import Table

from fluxlab.backends.config import default_store_path, resolve_settings
from fluxlab.backends.embedded import EmbeddedBackend
from fluxlab.cli.common import ProfileOpt, StoreOpt, reports_errors
from fluxlab.cli.datasets import SeedDatasetsOpt, seed_datasets_demo
from fluxlab.cli.output import console, key_value_table, plain_row
from fluxlab.cli.store import quoted
from fluxlab.cli.write import account_renderable
from fluxlab.model.points import TIME_COLUMN, FieldType

DEMO_BUCKET = "bird-migration"
SAMPLE = "bird-migration.line"
NUMERIC = (FieldType.FLOAT, FieldType.INTEGER, FieldType.UNSIGNED)


@reports_errors
def demo(store: StoreOpt = None, profile: ProfileOpt = None, datasets: SeedDatasetsOpt = True) -> None:
    """Load the bird-migration sample into bucket `bird-migration` and summarise it."""
    path = resolve_settings(store=store, profile=profile).store
    console.rule("fluxlab demo: bird migration (Movebank sample, 2019)")
    with EmbeddedBackend(path) as backend:
        backend.ensure_bucket(DEMO_BUCKET)
        resource = importlib.resources.files("fluxlab.datasets") / "data" / SAMPLE
        with importlib.resources.as_file(resource) as sample:
            account = backend.ingest(
                DEMO_BUCKET, sample, format="lp", precision="ns",
                source_name=f"{SAMPLE} (bundled sample)",
            )
        console.print(account_renderable(account))
        if account.collisions_with_existing:
            console.print(
                f"Already loaded before: {account.collisions_with_existing:,} points replaced "
                "identical ones (last write wins), so nothing is counted twice.",
                markup=False, soft_wrap=True,
            )
        for measurement in backend.measurements(DEMO_BUCKET):
            console.print(summary_table(backend, DEMO_BUCKET, measurement))
            console.print(field_stats_table(backend, DEMO_BUCKET, measurement))
        if datasets:  # the other seed datasets and the saved analyses (cli/datasets.py)
            seed_datasets_demo(backend, path, explicit_store=store is not None or path != default_store_path())
            classification_demo(backend)
    print_next_steps(path, explicit_store=store is not None or path != default_store_path())


# What the tutorials classify: bird species from where and when they are, and incident
# categories from where and when they happen (each with an honest hold-out split).
CLASSIFICATION_DEMOS = (
    ("movebank", "migration", "taxon", ["hemisphere", "season", "s2:5"], "group:individual",
     "Synthetic species migrate with the seasons, so place and season carry the signal."),
    ("hartford-incidents", "incidents", "ucr_1_category", ["neighborhood", "hour", "weekday"],
     "time",
     "Synthetic incident categories are drawn independently of place and time: no model can "
     "beat the baseline here, and the evaluation shows it. Real files carry real signal."),
)


def classification_demo(backend: EmbeddedBackend) -> None:
    """Naive Bayes on the seed datasets, evaluated next to the majority-class baseline."""
    from fluxlab.analysis.bayes import ClassifierSpec, train_and_evaluate
    from fluxlab.analysis.points import load_points
    from fluxlab.cli.classify import evaluation_table

    console.rule("naive Bayes (fluxlab classify train)")
    for bucket, measurement, target, features, split, note in CLASSIFICATION_DEMOS:
        if measurement not in backend.measurements(bucket):
            continue
        spec = ClassifierSpec(target=target, categorical=features, split=split)
        _, evaluation = train_and_evaluate(load_points(backend, bucket, measurement), spec)
        console.print(f"P({target} | {', '.join(features)}) on {bucket}", markup=False)
        console.print(evaluation_table(evaluation))
        console.print(note, markup=False, soft_wrap=True)


def summary_table(backend: EmbeddedBackend, bucket: str, measurement: str) -> Table:
    """Points, series and time range of one measurement, computed by the store's SQL."""
    table = f"{quoted(bucket)}.{quoted(measurement)}"
    tags = backend.tag_keys(bucket, measurement)
    series_key = ", ".join(quoted(t) for t in tags) or "1"
    time = quoted(TIME_COLUMN)
    result = backend.sql(
        f"SELECT count(*) AS points, min({time}) AS first, max({time}) AS last, "
        f"(SELECT count(*) FROM (SELECT DISTINCT {series_key} FROM {table})) AS series "
        f"FROM {table}"
    )
    row = {name: result.column(name)[0].as_py() for name in result.column_names}
    return key_value_table(
        [
            ("bucket / measurement", f"{bucket} / {measurement}"),
            ("points (lines)", f"{row['points']:,}"),
            ("series (tag sets)", f"{row['series']:,}"),
            ("tags", ", ".join(tags)),
            ("first point", as_rfc3339(row["first"])),
            ("last point", as_rfc3339(row["last"])),
        ],
        title="What the store now holds",
    )


def field_stats_table(backend: EmbeddedBackend, bucket: str, measurement: str) -> Table:
    """count / min / mean / max of every numeric field, one SQL query."""
    fields = backend.field_keys(bucket, measurement)
    numeric = [name for name, ftype in fields.items() if ftype in NUMERIC]
    view = Table(title=f"Fields of {measurement}", header_style="bold")
    for column in ("field", "type", "count", "min", "mean", "max"):
        view.add_column(column, justify="left" if column in ("field", "type") else "right")
    if not numeric:
        return view
    parts = [
        f"count({quoted(f)}), min({quoted(f)}), avg({quoted(f)}), max({quoted(f)})"
        for f in numeric
    ]
    result = backend.sql(f"SELECT {', '.join(parts)} FROM {quoted(bucket)}.{quoted(measurement)}")
    values = [result.column(i)[0].as_py() for i in range(result.num_columns)]
    for index, name in enumerate(numeric):
        count, low, mean, high = values[index * 4 : index * 4 + 4]
        view.add_row(*plain_row(name, fields[name].value, f"{count:,}", low, round(mean, 5), high))
    return view


def as_rfc3339(value: object) -> str:
    """A SQL min/max of the time column (datetime or epoch ns) as RFC 3339 UTC."""
    if value is None:
        return ""
    if isinstance(value, int):
        value = dt.datetime.fromtimestamp(value / 1e9, tz=dt.UTC)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def print_next_steps(path: Path, *, explicit_store: bool) -> None:
    store_flag = f" --store {path}" if explicit_store else ""
    sql = (
        'SELECT id, count(*) AS fixes, round(avg(lat), 2) AS mean_lat '
        'FROM "bird-migration"."migration" GROUP BY id ORDER BY fixes DESC'
    )
    flux = (
        'from(bucket: "bird-migration") |> range(start: 2019-01-01T00:00:00Z) '
        '|> filter(fn: (r) => r._field == "lat") |> group(columns: ["id"]) |> count()'
    )
    console.print(
        f"\nData is in the embedded store at {path} (bucket {DEMO_BUCKET}).",
        markup=False, soft_wrap=True,
    )
    console.print("Try next:", style="bold")
    if shutil.which("fluxlab") is None:  # e.g. `make demo`: the command is in .venv/bin
        here = Path(sys.argv[0]).resolve().parent
        console.print(f"  (first: export PATH=\"{here}:$PATH\", or source "
                      f"{here / 'activate'})", markup=False, soft_wrap=True)
    for line in (
        f"fluxlab bucket list{store_flag}",
        f"fluxlab query{store_flag} --sql '{sql}'",
        f"fluxlab query{store_flag} --format csv --sql 'SELECT * FROM \"bird-migration\".\"migration\" LIMIT 5'",
        f"fluxlab query{store_flag} '{flux}'",
        f"fluxlab store info{store_flag}",
        "fluxlab ingest your.csv --mapping your-mapping.toml --bucket yours   (see README)",
    ):
        console.print(f"  {line}", markup=False, soft_wrap=True)

