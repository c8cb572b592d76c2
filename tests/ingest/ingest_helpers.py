"""Helpers shared by the ingest tests: small real files and store read-back."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa

from fluxlab.storage import Store

HARTFORD_HEADER = (
    "Case_Number,Date,Time_24HR,Address,UCR_1_Category,UCR_1_Description,UCR_1_Code,"
    "UCR_2_Category,UCR_2_Description,UCR_2_Code,Neighborhood,geom"
)

HARTFORD_MAPPING = """
measurement = "incidents"

[time]
columns = ["Date", "Time_24HR"]
format = "%m/%d/%Y %H%M"
timezone = "America/New_York"

[tags]
neighborhood = "Neighborhood"
category = "UCR_1_Category"

[fields]
case_number = { column = "Case_Number", type = "string" }
code = { column = "UCR_1_Code", type = "integer", fix = { "<6" = "5" } }
lat = { column = "geom", type = "float", extract = '\\(([-0-9.]+),' }
lon = { column = "geom", type = "float", extract = ', *([-0-9.]+)\\)' }

[clean]
trim = true
null = ["", "NA", "N/A"]
ignore = ["Address"]
"""


def write_text(path: Path, text: str, *, gz: bool = False) -> Path:
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def hartford_row(case: str, date: str, hhmm: str, code: str = "600", hood: str = "Downtown",
                 geom: str = '"(41.76, -72.68)"') -> str:
    return f"{case},{date},{hhmm},1 MAIN ST,LARCENY,THEFT,{code},,,,{hood},{geom}"


def stored_rows(store: Store, measurement: str, field: str) -> pa.Table:
    """All stored points of one field, as a long table sorted by time."""
    tables = [t for t in store.scan("b", measurement=measurement, fields=[field]) if t.num_rows]
    return pa.concat_tables(tables).sort_by("_time") if tables else pa.table({})
