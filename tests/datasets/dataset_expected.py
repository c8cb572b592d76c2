"""Expected results built independently of fluxlab's ingest: csv module, zoneinfo, s2cell, Polars.

Only for small generated files: per-row Python is fine here and keeps the oracle
simple enough to check by hand.
"""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import s2cell

NEW_YORK = ZoneInfo("America/New_York")
EARTH_RADIUS_KM = 6371.01


def hartford_utc(date: str, hhmm: str) -> datetime | None:
    """MM/DD/YYYY + HHMM local New York time ("2400" = next midnight) -> UTC, or None."""
    try:
        day = datetime.strptime(date, "%m/%d/%Y")
    except ValueError:
        return None
    hours, minutes = int(hhmm[:2]), int(hhmm[2:])
    local = day + timedelta(hours=hours, minutes=minutes)  # 24:00 rolls over to the next day
    return local.replace(tzinfo=NEW_YORK).astimezone(UTC)


def hartford_rows(path: Path, codes: set[str]) -> pl.DataFrame:
    """The rows a correct load keeps, with UTC time and the S2 level-10 token."""
    kept = []
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        for row in reader:
            if len(row) != len(header):
                continue
            rec = dict(zip(header, row, strict=True))
            when = hartford_utc(rec["Date"], rec["Time_24HR"])
            geom = rec["geom"].strip("()").split(",")
            if when is None or len(geom) != 2 or rec["UCR_1_Code"] not in codes:
                continue
            lat, lon = float(geom[0]), float(geom[1])
            kept.append(
                {
                    "time": when.replace(tzinfo=None),
                    "neighborhood": rec["Neighborhood"],
                    "ucr_1_category": rec["UCR_1_Category"],
                    "ucr_1_description": rec["UCR_1_Description"],
                    "s2_cell_id": s2cell.lat_lon_to_token(lat, lon, 10),
                    "case_number": rec["Case_Number"],
                    "lat": lat,
                    "lon": lon,
                }
            )
    return pl.DataFrame(kept)


def last_write_wins(frame: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """InfluxDB semantics: one point per series + time; the later row in the file wins."""
    return frame.unique(subset=key, keep="last", maintain_order=True)


def haversine_km(lat: pl.Expr, lon: pl.Expr, lat0: float, lon0: float) -> pl.Expr:
    phi, phi0 = lat.radians(), math.radians(lat0)
    dphi = phi - phi0
    dlmb = lon.radians() - math.radians(lon0)
    a = (dphi / 2).sin() ** 2 + phi.cos() * math.cos(phi0) * (dlmb / 2).sin() ** 2
    return 2 * EARTH_RADIUS_KM * a.sqrt().arcsin()


def ct_rows(path: Path) -> pl.DataFrame:
    """Rows of a CT file a correct load keeps: start date, total ("<6" -> 5), censored."""
    frame = pl.read_csv(path, infer_schema_length=0, truncate_ragged_lines=True)
    school = "School name" if "School name" in frame.columns else "School Name"
    total = "School total" if "School total" in frame.columns else "Total Cases"
    period = "Report period" if "Report period" in frame.columns else "Report Period"
    frame = frame.filter(pl.col("Date updated" if "Date updated" in frame.columns
                                else "Date Updated").is_not_null())
    return frame.select(
        pl.col(period).str.split(" - ").list.first()
        .str.strptime(pl.Datetime("ns"), "%m/%d/%Y", strict=False).alias("time"),
        pl.col(period).str.split(" - ").list.last()
        .str.strptime(pl.Datetime("ns"), "%m/%d/%Y", strict=False).alias("stop"),
        pl.col(school).alias("school"),
        pl.col("City").alias("city"),
        pl.col("District").alias("district"),
        pl.when(pl.col(total) == "<6").then(5).otherwise(pl.col(total).cast(pl.Int64, strict=False))
        .alias("total"),
        (pl.col(total) == "<6").alias("censored"),
    ).drop_nulls(["time"])
