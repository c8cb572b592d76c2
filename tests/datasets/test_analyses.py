"""`fluxlab analyze`: the saved Flux analyses give the numbers Polars computes from the CSVs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset_cli import Cli  # noqa: E402
from dataset_expected import ct_rows, hartford_rows, haversine_km, last_write_wins  # noqa: E402

from fluxlab.datasets.analyses import analysis_names, load_analysis  # noqa: E402
from fluxlab.datasets.generators import UCR_CODES, generate  # noqa: E402

HARTFORD_KEY = ["time", "neighborhood", "ucr_1_category", "ucr_1_description", "s2_cell_id"]
BIRDS = Path(__file__).resolve().parents[2] / "src/fluxlab/datasets/data/bird-migration.line"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, dict[str, Path]]:
    """One store with every dataset (small generated files + the bundled sample)."""
    root = tmp_path_factory.mktemp("analyses")
    cli = Cli(root)
    files = {
        "ucr": generate("socrata-ucr-codes", root / "ucr.csv", 0).path,
        "hartford": generate("hartford-incidents", root / "h.csv", 1_500, seed=21).path,
        "ct2020": generate("ct-school-covid", root / "a.csv", 6_600, seed=22,
                           layout="2020-2021").path,
        "ct2021": generate("ct-school-covid", root / "b.csv", 6_600, seed=23,
                           layout="2021-2022").path,
    }
    cli.load("socrata-ucr-codes", str(files["ucr"]))
    cli.load("hartford-incidents", str(files["hartford"]))
    cli.load("ct-school-covid", str(files["ct2020"]), str(files["ct2021"]))
    cli.load("bird-migration")
    return cli, files


def _run(cli: Cli, name: str) -> list[dict]:
    out = cli.ok("analyze", name, "--format", "json").stdout
    document = json.loads(out.splitlines()[-1])
    assert document["analysis"] == name
    return document["rows"]


def _hartford(files: dict[str, Path]) -> pl.DataFrame:
    rows = hartford_rows(files["hartford"], {c for c, _, _ in UCR_CODES})
    return last_write_wins(rows, HARTFORD_KEY)


def _city_sums(files: dict[str, Path]) -> dict[str, int]:
    rows = pl.concat([ct_rows(files["ct2020"]), ct_rows(files["ct2021"])])
    rows = last_write_wins(rows, ["time", "school", "city", "district"])
    sums = rows.group_by("city").agg(pl.col("total").sum())
    return dict(sums.iter_rows())


def test_cases_by_city(loaded: tuple[Cli, dict[str, Path]]) -> None:
    cli, files = loaded
    rows = _run(cli, "ct-cases-by-city")
    assert {r["city"]: r["_value"] for r in rows} == _city_sums(files)
    values = [r["_value"] for r in rows]
    assert values == sorted(values, reverse=True)


def test_cities_over_7000(loaded: tuple[Cli, dict[str, Path]]) -> None:
    cli, files = loaded
    expected = {c: v for c, v in _city_sums(files).items() if v > 7000}
    assert 0 < len(expected) < 10  # the threshold splits the cities
    assert {r["city"]: r["_value"] for r in _run(cli, "ct-cities-over-7000")} == expected


def test_top_ten_case_types(loaded: tuple[Cli, dict[str, Path]]) -> None:
    cli, files = loaded
    rows = _hartford(files).filter(
        pl.col("time").is_between(pl.datetime(2016, 1, 1), pl.datetime(2019, 1, 1), closed="left")
    )
    counts = dict(rows.group_by("ucr_1_description").len().iter_rows())
    got = _run(cli, "hartford-top-case-types")
    assert len(got) == 10
    assert all(counts[r["ucr_1_description"]] == r["_value"] for r in got)
    assert sorted(r["_value"] for r in got) == sorted(counts.values())[-10:]


def test_weekly_counts_truncate_to_flux_weeks(loaded: tuple[Cli, dict[str, Path]]) -> None:
    cli, files = loaded
    week = 7 * 86_400 * 10**9
    rows = _hartford(files).filter(
        pl.col("time").is_between(pl.datetime(2016, 1, 1), pl.datetime(2019, 1, 1), closed="left")
    )
    weeks = rows.select(((pl.col("time").dt.epoch("ns") // week) * week).alias("w"))
    expected = dict(weeks.group_by("w").len().iter_rows())
    got = _run(cli, "hartford-weekly-incidents")
    as_ns = pl.Series([r["_time"] for r in got]).str.to_datetime(time_unit="ns").dt.epoch("ns")
    assert dict(zip(as_ns.to_list(), [r["_value"] for r in got], strict=True)) == expected
    assert pl.Series([r["_time"] for r in got]).str.to_datetime().dt.weekday().unique().to_list() == [4]


def test_incidents_within_radius_of_hartford(loaded: tuple[Cli, dict[str, Path]]) -> None:
    cli, files = loaded
    rows = _hartford(files).filter(
        haversine_km(pl.col("lat"), pl.col("lon"), 41.763710, -72.685097) <= 48.28
    )
    expected = dict(rows.group_by("neighborhood").len().iter_rows())
    got = _run(cli, "hartford-near-downtown")
    assert {r["neighborhood"]: r["case_number"] for r in got} == expected


def test_birds_within_radius(loaded: tuple[Cli, dict[str, Path]]) -> None:
    cli, _ = loaded
    points = pl.read_csv(BIRDS, has_header=False, separator=" ", new_columns=["key", "f", "t"])
    points = points.select(
        pl.col("key").str.extract(r"id=([^,]+)").alias("id"),
        pl.col("f").str.extract(r"lat=([-0-9.]+)").cast(pl.Float64).alias("lat"),
        pl.col("f").str.extract(r"lon=([-0-9.]+)").cast(pl.Float64).alias("lon"),
    )
    near = points.filter(haversine_km(pl.col("lat"), pl.col("lon"), -1.2135, 33.88833) <= 200.0)
    expected = dict(near.group_by("id").len().iter_rows())
    got = _run(cli, "birds-within-radius")
    assert {r["id"]: r["lat"] for r in got} == expected and len(expected) >= 2


def test_schema_exploration(loaded: tuple[Cli, dict[str, Path]]) -> None:
    cli, _ = loaded
    buckets = [r["name"] for r in _run(cli, "schema-buckets")]
    assert buckets == sorted(["bird-migration", "ct-school-covid", "hartford-incidents",
                              "socrata-ucr-codes"])
    assert [r["_value"] for r in _run(cli, "schema-measurements")] == ["migration"]
    fields = {r["_value"] for r in _run(cli, "schema-field-keys")}
    assert {"case_number", "lat", "lon", "ucr_1_code"} <= fields
    hoods = [r["_value"] for r in _run(cli, "schema-tag-values")]
    assert len(hoods) == 17 and hoods == sorted(hoods)


def test_table_output_and_csv_are_influxdb_shaped(loaded: tuple[Cli, dict[str, Path]]) -> None:
    cli, _ = loaded
    table = cli.ok("analyze", "ct-cases-by-city").stdout
    assert "School COVID-19 cases by" in table and "Hartford" in table
    csv = cli.ok("analyze", "ct-cases-by-city", "--format", "csv").stdout
    assert csv.startswith("#group,") and ",result,table,city,_value" in csv


def test_every_file_is_plain_flux_with_dashboard_variables() -> None:
    for name in analysis_names():
        analysis = load_analysis(name)
        assert analysis.title and analysis.dataset
        if "range(" in analysis.text:
            assert "v.timeRangeStart" in analysis.text and "v.timeRangeStop" in analysis.text
        assert "v = {" not in analysis.text  # fluxlab injects v only when running locally
        local = analysis.local_query()
        lines = local.splitlines()
        first_statement = next(i for i, line in enumerate(lines)
                               if line and not line.startswith(("//", "import ")))
        assert lines[first_statement].startswith("v = {timeRangeStart: ")


def test_time_range_override(loaded: tuple[Cli, dict[str, Path]]) -> None:
    cli, files = loaded
    out = cli.ok("analyze", "hartford-top-case-types", "--start", "2017-01-01",
                 "--stop", "2017-02-01", "--format", "json").stdout
    got = json.loads(out)["rows"]
    rows = _hartford(files).filter(
        pl.col("time").is_between(pl.datetime(2017, 1, 1), pl.datetime(2017, 2, 1), closed="left")
    )
    assert sum(r["_value"] for r in got) <= rows.height
    counts = dict(rows.group_by("ucr_1_description").len().iter_rows())
    assert all(counts[r["ucr_1_description"]] == r["_value"] for r in got)


def test_unknown_analysis_lists_the_known_ones(cli: Cli) -> None:
    result = cli("analyze", "nope")
    assert result.exit_code == 1 and "ct-cases-by-city" in result.stderr
