"""Synthetic seed-dataset files: exact layouts, the real quirks, determinism."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from fluxlab.datasets.generators import SYNTHETIC_NOTE, generate

HARTFORD_HEADER = (
    "Case_Number,Date,Time_24HR,Address,UCR_1_Category,UCR_1_Description,UCR_1_Code,"
    "UCR_2_Category,UCR_2_Description,UCR_2_Code,Neighborhood,geom"
)
MOVEBANK_HEADER = (
    "event-id,visible,timestamp,location-long,location-lat,manually-marked-outlier,sensor-type,"
    "individual-taxon-canonical-name,tag-local-identifier,individual-local-identifier,study-name"
)


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_hartford_layout_and_quirks(tmp_path: Path) -> None:
    out = generate("hartford-incidents", tmp_path / "h.csv", 20_000, seed=3)
    assert out.note == SYNTHETIC_NOTE and out.malformed == 4
    text = out.path.read_text()
    assert text.splitlines()[0] == HARTFORD_HEADER
    rows = _rows(out.path)[1:]
    assert len(rows) == 20_000 + 4
    assert sum(len(r) != 12 for r in rows) == 1  # one short row
    good = [r for r in rows if len(r) == 12]
    assert any(r[2] == "2400" for r in good)
    assert all(len(r[2]) == 4 and r[2].isdigit() for r in good)
    assert all(r[11].startswith("(") and r[11].endswith(")") for r in good)
    assert '"(4' in text  # geom is quoted in the file
    dates = pl.Series([r[1] for r in good]).str.strptime(pl.Date, "%m/%d/%Y", strict=False)
    assert dates.null_count() == 1  # 02/30/2017
    assert not dates.drop_nulls().is_sorted()  # incidents are not in time order


@pytest.mark.parametrize(
    ("layout", "header"),
    [
        ("2020-2021", "District,School ID,School name,City,School total,Report period,Date updated"),
        ("2021-2022", "District,School Name,City,Report Period,Total Cases,Academic Year,Date Updated"),
    ],
)
def test_ct_school_covid_layouts(tmp_path: Path, layout: str, header: str) -> None:
    out = generate("ct-school-covid", tmp_path / "ct.csv", 5_000, seed=1, layout=layout)
    rows = _rows(out.path)
    assert ",".join(rows[0]) == header
    total_col = rows[0].index("School total" if layout == "2020-2021" else "Total Cases")
    period_col = rows[0].index("Report period" if layout == "2020-2021" else "Report Period")
    totals = [r[total_col] for r in rows[1:] if len(r) == 7]
    assert "<6" in totals and any(t.isdigit() and int(t) >= 6 for t in totals)
    assert all(" - " in r[period_col] for r in rows[1:] if len(r) == 7)
    assert out.malformed == 1


def test_movebank_layout_and_migration(tmp_path: Path) -> None:
    out = generate("movebank", tmp_path / "m.csv", 30_000, seed=2)
    assert out.path.read_text().splitlines()[0] == MOVEBANK_HEADER
    df = pl.read_csv(out.path, infer_schema_length=0)
    assert df.height == 30_000
    assert df["individual-taxon-canonical-name"].n_unique() >= 4
    assert (df["manually-marked-outlier"] == "true").sum() > 0
    df = df.with_columns(
        pl.col("location-lat").cast(pl.Float64),
        pl.col("timestamp").str.strptime(pl.Datetime, "%Y-%m-%d %H:%M:%S%.3f"),
    )
    tern = df.filter(pl.col("individual-taxon-canonical-name") == "Sterna paradisaea")
    june = tern.filter(pl.col("timestamp").dt.month() == 6)["location-lat"].mean()
    december = tern.filter(pl.col("timestamp").dt.month() == 12)["location-lat"].mean()
    assert june > 30 and december < -30  # crosses the equator with the seasons


def test_generators_are_deterministic(tmp_path: Path) -> None:
    a = generate("hartford-incidents", tmp_path / "a.csv", 2_000, seed=9).path.read_bytes()
    b = generate("hartford-incidents", tmp_path / "b.csv", 2_000, seed=9).path.read_bytes()
    c = generate("hartford-incidents", tmp_path / "c.csv", 2_000, seed=10).path.read_bytes()
    assert a == b != c


def test_unknown_generator(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="choose one of"):
        generate("nope", tmp_path / "x.csv", 10)
