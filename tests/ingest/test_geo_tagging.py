"""Mapping `geo` tagging: s2_cell_id tags from lat/lon columns or a "(lat, lon)" column,
bad coordinates rejected with line, column, value and reason (real files, real store)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import s2cell
from ingest_helpers import HARTFORD_HEADER, hartford_row, write_text

from fluxlab.ingest import MappingError, ingest_file, load_mapping
from fluxlab.storage import Store

LATLON_MAPPING = """
measurement = "obs"
geo = { lat = "Lat", lon = "Lon", level = 11 }
[time]
column = "Time"
format = "rfc3339"
[tags]
id = "Id"
[fields]
lat = { column = "Lat", type = "float" }
lon = { column = "Lon", type = "float" }
"""

# Coordinates used only for the tag (not stored as fields): the geo checks give the reason.
TAG_ONLY_MAPPING = LATLON_MAPPING.replace(
    'lat = { column = "Lat", type = "float" }\nlon = { column = "Lon", type = "float" }',
    'id_copy = "Id"')

POINT_MAPPING = """
measurement = "incidents"
geo = { point = "geom", level = 10 }
[time]
columns = ["Date", "Time_24HR"]
format = "%m/%d/%Y %H%M"
timezone = "America/New_York"
[fields]
case_number = { column = "Case_Number", type = "string" }
"""


def read_rejects(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def stored_cells(store: Store, measurement: str) -> list[str]:
    tables = [t for t in store.scan("b", measurement=measurement) if t.num_rows]
    return sorted({c for t in tables for c in t.column("s2_cell_id").to_pylist()})


def test_lat_lon_columns_get_reference_tokens(tmp_path: Path, store: Store) -> None:
    rng = np.random.default_rng(7)
    lat, lon = rng.uniform(-89, 89, 300), rng.uniform(-179, 179, 300)
    rows = [f"a,2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z,{float(a)!r},{float(b)!r}"
            for i, (a, b) in enumerate(zip(lat, lon, strict=True))]
    data = write_text(tmp_path / "obs.csv", "Id,Time,Lat,Lon\n" + "\n".join(rows) + "\n")
    mapping = write_text(tmp_path / "m.toml", LATLON_MAPPING)
    account = ingest_file(store, "b", data, mapping=mapping)
    assert account.rows_written == 300 and account.rows_rejected == 0
    expected = sorted({s2cell.lat_lon_to_token(a, b, 11) for a, b in zip(lat, lon, strict=True)})
    assert stored_cells(store, "obs") == expected


def test_point_column_is_split_and_tagged_at_level_10(tmp_path: Path, store: Store) -> None:
    data = write_text(tmp_path / "inc.csv", "\n".join([
        HARTFORD_HEADER,
        hartford_row("1", "01/02/2020", "0930", geom='"(41.763710, -72.685097)"'),
        hartford_row("2", "01/02/2020", "0931", geom='"(41.80,-72.60)"'),
    ]) + "\n")
    mapping = write_text(tmp_path / "m.toml", POINT_MAPPING)
    account = ingest_file(store, "b", data, mapping=mapping)
    assert account.rows_written == 2
    assert stored_cells(store, "incidents") == sorted({
        s2cell.lat_lon_to_token(41.763710, -72.685097, 10),
        s2cell.lat_lon_to_token(41.80, -72.60, 10)})


@pytest.mark.parametrize(("lat", "lon", "column", "value", "reason"), [
    ("91.5", "10", "Lat", "91.5", "latitude outside ±90"),
    ("-90.0001", "10", "Lat", "-90.0001", "latitude outside ±90"),
    ("10", "180.5", "Lon", "180.5", "longitude outside ±180"),
    ("NaN", "10", "Lat", "NaN", "latitude is not a number"),
    ("10", "east", "Lon", "east", "longitude is not a number"),
    ("", "10", "Lat", "", "latitude is missing"),
    ("10", "", "Lon", "", "longitude is missing"),
])
def test_bad_coordinates_are_rejected_and_counted(
    tmp_path: Path, store: Store, lat: str, lon: str, column: str, value: str, reason: str
) -> None:
    data = write_text(tmp_path / "obs.csv", "Id,Time,Lat,Lon\n"
                      "a,2024-01-01T00:00:00Z,45.0,7.0\n"
                      f"a,2024-01-01T00:00:01Z,{lat},{lon}\n"
                      "a,2024-01-01T00:00:02Z,-45.0,-7.0\n")
    mapping = write_text(tmp_path / "m.toml", TAG_ONLY_MAPPING)
    rejects = tmp_path / "rejects.csv"
    account = ingest_file(store, "b", data, mapping=mapping, max_errors=-1, rejects_path=rejects)
    assert (account.rows_written, account.rows_rejected) == (2, 1)
    assert account.balanced
    (row,) = read_rejects(rejects)
    assert (row["line"], row["column"], row["value"]) == ("3", column, value)
    assert reason in row["reason"] and row["source"] == str(data)
    assert stored_cells(store, "obs") == sorted({s2cell.lat_lon_to_token(45.0, 7.0, 11),
                                                  s2cell.lat_lon_to_token(-45.0, -7.0, 11)})


def test_nan_coordinate_stored_as_a_field_is_rejected_too(tmp_path: Path, store: Store) -> None:
    data = write_text(tmp_path / "obs.csv", "Id,Time,Lat,Lon\n"
                      "a,2024-01-01T00:00:00Z,NaN,7.0\na,2024-01-01T00:00:01Z,1.0,7.0\n")
    mapping = write_text(tmp_path / "m.toml", LATLON_MAPPING)
    rejects = tmp_path / "r.csv"
    account = ingest_file(store, "b", data, mapping=mapping, max_errors=-1, rejects_path=rejects)
    assert (account.rows_written, account.rows_rejected) == (1, 1)
    (row,) = read_rejects(rejects)
    assert (row["line"], row["column"], row["value"]) == ("2", "Lat", "NaN")


def test_unparseable_point_is_rejected_with_the_point_text(tmp_path: Path, store: Store) -> None:
    data = write_text(tmp_path / "inc.csv", "\n".join([
        HARTFORD_HEADER,
        hartford_row("1", "01/02/2020", "0930", geom='"(41.76, -72.68)"'),
        hartford_row("2", "01/02/2020", "0931", geom='"POINT EMPTY"'),
        hartford_row("3", "01/02/2020", "0932", geom='"(95.0, -72.68)"'),
    ]) + "\n")
    mapping = write_text(tmp_path / "m.toml", POINT_MAPPING)
    rejects = tmp_path / "r.csv"
    account = ingest_file(store, "b", data, mapping=mapping, max_errors=-1, rejects_path=rejects)
    assert (account.rows_written, account.rows_rejected) == (1, 2)
    rows = read_rejects(rejects)
    assert [(r["line"], r["column"], r["value"]) for r in rows] == [
        ("3", "geom", "POINT EMPTY"), ("4", "geom", "(95.0, -72.68)")]
    assert "not a (lat, lon) point" in rows[0]["reason"]
    assert "latitude outside ±90" in rows[1]["reason"]


@pytest.mark.parametrize(("geo", "message"), [
    ('{ lat = "Lat", lon = "Lon", level = 31 }', "level must be an integer from 0 to 30"),
    ('{ lat = "Lat", lon = "Lon", level = -1 }', "level must be an integer from 0 to 30"),
    ('{ lat = "Lat", level = 10 }', "geo needs either lat"),
    ('{ lat = "Lat", lon = "Lon", point = "P" }', "geo needs either lat"),
    ('{ lat = "Lat", lon = "Lon", zoom = 3 }', "unknown key"),
])
def test_bad_geo_mapping_is_refused_before_reading(tmp_path: Path, geo: str, message: str) -> None:
    text = LATLON_MAPPING.replace('{ lat = "Lat", lon = "Lon", level = 11 }', geo)
    with pytest.raises(MappingError, match=message):
        load_mapping(write_text(tmp_path / "m.toml", text))


def test_geo_tag_clashing_with_a_mapped_tag_is_refused(tmp_path: Path) -> None:
    text = LATLON_MAPPING.replace('id = "Id"', 's2_cell_id = "Id"')
    with pytest.raises(MappingError, match="already define"):
        load_mapping(write_text(tmp_path / "m.toml", text))
