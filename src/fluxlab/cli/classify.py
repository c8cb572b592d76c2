"""`fluxlab classify` — naive Bayes over points: train + honest evaluation, then predict.

    fluxlab classify train --bucket birds --measurement migration --target species \\
        --features hemisphere,season,s2:6 --numeric lat,lon --split group:individual \\
        --model birds.model.json
    fluxlab classify predict --model birds.model.json --lat 52.1 --lon 4.3 --date 2019-01-15
"""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from fluxlab.analysis.bayes import ClassifierSpec, Evaluation, NaiveBayesModel, train_and_evaluate
from fluxlab.analysis.points import load_points
from fluxlab.cli.common import (
    Connection,
    connected,
    reports_errors,
)

app = typer.Typer(help="Naive Bayes classification of points (train, evaluate, predict).")
console = Console()


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def _spec_from(
    spec_file: Path | None, target: str | None, features: str | None, numeric: str | None,
    split: str | None, test_fraction: float | None,
) -> ClassifierSpec:
    """Flags override the TOML spec file; the file may hold every field of ClassifierSpec."""
    base: dict = tomllib.loads(spec_file.read_text()) if spec_file else {}
    overrides = {
        "target": target,
        "categorical": _names(features) if features is not None else None,
        "numeric": _names(numeric) if numeric is not None else None,
        "split": split,
        "test_fraction": test_fraction,
    }
    base.update({k: v for k, v in overrides.items() if v is not None})
    if "target" not in base:
        raise typer.BadParameter("give --target (a tag or field to predict) or a --spec file")
    return ClassifierSpec(**base)


def evaluation_table(ev: Evaluation) -> Table:
    table = Table(title=f"hold-out evaluation ({ev.split}: {ev.n_train:,} train / {ev.n_test:,} test)")
    table.add_column("")
    table.add_column("accuracy", justify="right")
    table.add_column("macro-F1", justify="right")
    table.add_row("naive Bayes", f"{ev.accuracy:.3f}", f"{ev.macro_f1:.3f}")
    table.add_row(f"baseline (always {ev.baseline_class!r})", f"{ev.baseline_accuracy:.3f}",
                  f"{ev.baseline_macro_f1:.3f}")
    return table


def confusion_table(ev: Evaluation) -> Table:
    table = Table(title="confusion matrix (rows: true class, columns: predicted)")
    table.add_column("")
    for label in ev.labels:
        table.add_column(label, justify="right")
    for label, row in zip(ev.labels, ev.confusion, strict=True):
        table.add_row(label, *[f"{n:,}" for n in row])
    return table


@app.command("train")
@reports_errors
@connected
def train(
    bucket: Annotated[str, typer.Option("--bucket", "-b", help="Bucket holding the points.")],
    measurement: Annotated[str, typer.Option("--measurement", "-m", help="Measurement.")],
    target: Annotated[str | None, typer.Option(help="Tag or field to predict.")] = None,
    features: Annotated[str | None, typer.Option(
        help="Categorical features: hemisphere, season, month, hour, weekday, s2:LEVEL, or tag names.")] = None,
    numeric: Annotated[str | None, typer.Option(help="Numeric fields, e.g. lat,lon.")] = None,
    split: Annotated[str | None, typer.Option(
        help="Hold-out: time (latest part), random, or group:COLUMN (whole groups).")] = None,
    test_fraction: Annotated[float | None, typer.Option(help="Share held out (default 0.25).")] = None,
    spec: Annotated[Path | None, typer.Option(help="TOML file with the same settings.")] = None,
    model: Annotated[Path | None, typer.Option(help="Write the trained model (JSON) here.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write the evaluation (JSON) here.")] = None,
    conn: Connection = Connection(),
) -> None:
    """Train on a measurement, evaluate on held-out data, print the scores."""
    classifier = _spec_from(spec, target, features, numeric, split, test_fraction)
    with conn.open(read_only=True) as backend:
        frame = load_points(backend, bucket, measurement)
    fitted, ev = train_and_evaluate(frame, classifier)
    console.print(evaluation_table(ev))
    console.print(confusion_table(ev))
    if ev.rows_dropped:
        console.print(f"{ev.rows_dropped:,} rows lacked a feature or the target and were not used")
    if model:
        fitted.save(model)
        console.print(f"model saved to {model}")
    if report:
        report.write_text(json.dumps(ev.to_dict(), indent=2))
        console.print(f"evaluation saved to {report}")


def _parse_date(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"--date {text!r} is not an ISO date like 2019-01-15") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


@app.command("predict")
@reports_errors
def predict(
    model: Annotated[Path, typer.Option(help="A model written by `classify train --model`.")],
    lat: Annotated[float | None, typer.Option(help="Latitude in degrees.")] = None,
    lon: Annotated[float | None, typer.Option(help="Longitude in degrees.")] = None,
    date: Annotated[str | None, typer.Option(help="ISO date or time (UTC unless it has a zone).")] = None,
    value: Annotated[list[str] | None, typer.Option(
        "--set", help="Other feature values as key=value (e.g. --set neighborhood=DOWNTOWN).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Class probabilities for one point."""
    fitted = NaiveBayesModel.load(model)
    row: dict[str, list] = {}
    if lat is not None:
        row[fitted.spec.lat] = [lat]
    if lon is not None:
        row[fitted.spec.lon] = [lon]
    if date is not None:
        row[fitted.spec.time_column] = [_parse_date(date)]
    for item in value or []:
        key, sep, text = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--set {item!r}: expected key=value")
        row[key] = [text]
    proba = fitted.predict_proba(pl.DataFrame(row))[0]
    order = np.argsort(-proba)
    if fmt == "json":
        typer.echo(json.dumps({fitted.classes[i]: float(proba[i]) for i in order}, indent=2))
        return
    table = Table(title=f"P({fitted.spec.target} | features)")
    table.add_column(fitted.spec.target)
    table.add_column("probability", justify="right")
    for i in order:
        table.add_row(fitted.classes[i], f"{proba[i]:.4f}")
    console.print(table)
