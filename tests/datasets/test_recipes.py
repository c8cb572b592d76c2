"""`fluxlab datasets load`: each recipe on generated files, with exact accounting."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest
import s2cell

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset_cli import Cli  # noqa: E402
from dataset_expected import ct_rows, hartford_rows, hartford_utc  # noqa: E402

from fluxlab.datasets.generators import UCR_CODES, generate  # noqa: E402

ALL_CODES = {code for code, _, _ in UCR_CODES}


def _rejects(cli: Cli, name: str) -> pl.DataFrame:
    return pl.read_csv(cli.rejects / name, infer_schema_length=0)


def test_generate_says_synthetic_and_writes_the_layout(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "h.csv"
    result = cli.runner.invoke(
        __import__("fluxlab.cli.main", fromlist=["app"]).app,
        ["datasets", "generate", "hartford-incidents", "--rows", "1500", "--seed", "4",
         "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.stdout and "1 deliberately malformed" in result.stdout
    assert out.read_text().startswith("Case_Number,Date,Time_24HR,")


def test_hartford_accounts_for_every_row(cli: Cli, tmp_path: Path) -> None:
    codes = generate("socrata-ucr-codes", tmp_path / "ucr.csv", 0)
    made = generate("hartford-incidents", tmp_path / "h.csv", 4_000, seed=7)
    cli.load("socrata-ucr-codes", str(codes.path))
    out = cli.load("hartford-incidents", str(made.path)).stdout
    assert "4,004 rows read, 4,000 written, 4 rejected; balanced: yes" in out
    rejects = _rejects(cli, "hartford-incidents-h.csv.rejects.csv")
    assert rejects.height == made.malformed == 4
    reasons = sorted(rejects["reason"].to_list())
    assert any(r.startswith("cannot parse time") for r in reasons)  # 02/30/2017
    assert any(r.startswith("expected 12 columns, found 11") for r in reasons)
    assert any(r.startswith("geom has no coordinates") for r in reasons)
    assert any(r.startswith("unknown UCR code") for r in reasons)
    assert set(rejects["value"].drop_nulls()) >= {"02/30/2017 1200", "()", "7777"}
    # Stored points = rows kept, after InfluxDB's last-write-wins on series + time.
    expected = hartford_rows(made.path, ALL_CODES)
    key = ["time", "neighborhood", "ucr_1_category", "ucr_1_description", "s2_cell_id"]
    stored = cli.sql('SELECT count(*) FROM "hartford-incidents"."incidents"')
    assert int(stored[0]) == expected.unique(subset=key).height


def test_hartford_times_geo_and_tags_are_right(cli: Cli, tmp_path: Path) -> None:
    made = generate("hartford-incidents", tmp_path / "h.csv", 3_000, seed=11)
    cli.load("hartford-incidents", str(made.path))
    expected = hartford_rows(made.path, ALL_CODES)
    got = pl.read_csv(
        cli.ok("query", "--format", "csv", "--sql",
               'SELECT case_number, epoch_ns("time") AS t, s2_cell_id, lat, lon '
               'FROM "hartford-incidents"."incidents"').stdout.encode(),
        schema_overrides={"case_number": pl.String},
    )
    joined = got.join(
        expected.select("case_number", pl.col("time").dt.epoch("ns").alias("t_expected"),
                        pl.col("s2_cell_id").alias("token_expected"), "lat"),
        on="case_number",
    )
    assert joined.height == got.height > 2_900
    assert (joined["t"] == joined["t_expected"]).all()
    assert (joined["s2_cell_id"] == joined["token_expected"]).all()
    assert (joined["lat"] == joined["lat_right"]).all()


def test_hour_2400_and_dst_are_converted_like_zoneinfo() -> None:
    assert hartford_utc("03/11/2018", "2400").isoformat() == "2018-03-12T04:00:00+00:00"
    assert hartford_utc("07/04/2017", "0930").isoformat() == "2017-07-04T13:30:00+00:00"


def test_hartford_without_the_code_table_says_codes_were_not_checked(
    cli: Cli, tmp_path: Path
) -> None:
    made = generate("hartford-incidents", tmp_path / "h.csv", 4_000, seed=7)
    result = cli.load("hartford-incidents", str(made.path))
    assert "4,004 rows read, 4,001 written, 3 rejected" in result.stdout
    assert "ucr-codes not checked" in result.stderr


def test_ct_both_layouts_in_one_load_and_censored_totals(cli: Cli, tmp_path: Path) -> None:
    a = generate("ct-school-covid", tmp_path / "ct2020.csv", 1_200, seed=1, layout="2020-2021")
    b = generate("ct-school-covid", tmp_path / "ct2021.csv", 1_300, seed=2, layout="2021-2022")
    out = cli.load("ct-school-covid", str(a.path), str(b.path)).stdout
    assert "layout 2020-2021" in out and "layout 2021-2022" in out
    assert "2,502 rows read, 2,500 written, 2 rejected; balanced: yes" in out
    expected = pl.concat([ct_rows(a.path), ct_rows(b.path)])
    expected = expected.unique(subset=["time", "school", "city", "district"], keep="last",
                               maintain_order=True)
    rows = cli.sql('SELECT count(*), sum(total), sum(CASE WHEN total_censored THEN 1 ELSE 0 END) '
                   'FROM "ct-school-covid"."cases"')
    assert rows[0] == f"{expected.height},{expected['total'].sum()},{expected['censored'].sum()}"
    fives = cli.sql('SELECT DISTINCT total FROM "ct-school-covid"."cases" WHERE total_censored')
    assert fives == ["5"]  # "<6" is stored as 5, flagged


def test_ct_explode_gives_one_point_per_day(cli: Cli, tmp_path: Path) -> None:
    made = generate("ct-school-covid", tmp_path / "ct.csv", 300, seed=5, layout="2021-2022")
    cli.load("ct-school-covid", str(made.path), "--explode", "--bucket", "daily")
    expected = ct_rows(made.path).unique(subset=["time", "school"], keep="last")
    days = cli.sql('SELECT count(DISTINCT (school, "time")) FROM "daily"."cases"')
    # every period is 7 days (start to stop inclusive); overlapping duplicates collapse
    exploded = expected.select(
        "school", pl.datetime_ranges("time", "stop", interval="1d").alias("day")
    ).explode("day").unique()
    assert int(days[0]) == exploded.height


def test_movebank_outliers_kept_flagged_or_dropped_and_counted(cli: Cli, tmp_path: Path) -> None:
    made = generate("movebank", tmp_path / "m.csv", 6_000, seed=3)
    source = pl.read_csv(made.path, infer_schema_length=0)
    outliers = int((source["manually-marked-outlier"] == "true").sum())
    assert outliers > 0
    cli.load("movebank", str(made.path))
    flagged = cli.sql('SELECT count(*), count(*) FILTER (WHERE outlier) FROM "movebank"."migration"')
    assert flagged == [f"6000,{outliers}"]
    out = cli.load("movebank", str(made.path), "--drop-outliers", "--bucket", "clean").stdout
    assert f"{6000 - outliers:,} written, 0 rejected, {outliers} dropped on purpose" in out
    assert cli.sql('SELECT count(*) FROM "clean"."migration"') == [str(6000 - outliers)]
    tags = cli.sql("SELECT DISTINCT taxon FROM \"clean\".\"migration\" ORDER BY taxon")
    assert "Sterna paradisaea" in tags


def test_movebank_s2_level_default_and_override(cli: Cli, tmp_path: Path) -> None:
    made = generate("movebank", tmp_path / "m.csv", 50, seed=3)
    first = pl.read_csv(made.path, infer_schema_length=0).row(0, named=True)
    lat, lon = float(first["location-lat"]), float(first["location-long"])
    cli.load("movebank", str(made.path))
    cli.load("movebank", str(made.path), "--s2-level", "6", "--bucket", "coarse")
    query = 'SELECT s2_cell_id FROM "{}"."migration" WHERE event_id = {}'
    assert cli.sql(query.format("movebank", first["event-id"])) == [
        s2cell.lat_lon_to_token(lat, lon, 11)
    ]
    assert cli.sql(query.format("coarse", first["event-id"])) == [
        s2cell.lat_lon_to_token(lat, lon, 6)
    ]


def test_bird_migration_sample_needs_no_file(cli: Cli) -> None:
    out = cli.load("bird-migration").stdout
    assert "8,971 rows read, 8,971 written, 0 rejected" in out
    assert cli.sql('SELECT count(DISTINCT id) FROM "bird-migration"."migration"') == ["8"]


def test_ucr_codes_go_to_their_own_bucket(cli: Cli, tmp_path: Path) -> None:
    made = generate("socrata-ucr-codes", tmp_path / "u.csv", 0)
    cli.load("socrata-ucr-codes", str(made.path))
    rows = cli.sql('SELECT code, category FROM "socrata-ucr-codes"."ucr_codes" ORDER BY code')
    assert rows[0] == "0100,HOMICIDE" and len(rows) == len(UCR_CODES)


def test_wrong_header_lists_the_expected_layouts(cli: Cli, tmp_path: Path) -> None:
    made = generate("movebank", tmp_path / "m.csv", 10)
    result = cli("datasets", "load", "ct-school-covid", str(made.path))
    assert result.exit_code == 1
    assert "not a known ct-school-covid layout" in result.stderr
    assert "2020-2021: District,School ID" in result.stderr
    assert "2021-2022: District,School Name" in result.stderr
    listed = cli.ok("bucket", "list").stdout
    assert "ct-school-covid" not in listed  # nothing created for a file that cannot load


def test_option_of_another_recipe_is_refused(cli: Cli, tmp_path: Path) -> None:
    made = generate("movebank", tmp_path / "m.csv", 10)
    result = cli("datasets", "load", "movebank", str(made.path), "--explode")
    assert result.exit_code == 1 and "--explode do not apply to movebank" in result.stderr


@pytest.mark.parametrize("name", ["hartford-incidents", "ct-school-covid"])
def test_missing_file_argument_says_how_to_get_one(cli: Cli, name: str) -> None:
    result = cli("datasets", "load", name)
    assert result.exit_code == 1
    assert f"fluxlab datasets generate {name}" in result.stderr


def test_datasets_list_names_every_recipe(cli: Cli) -> None:
    out = cli.runner.invoke(
        __import__("fluxlab.cli.main", fromlist=["app"]).app, ["datasets", "list"]
    ).stdout
    for name in ("movebank", "ct-school-covid", "hartford-incidents", "socrata-ucr-codes",
                 "bird-migration"):
        assert name in out
