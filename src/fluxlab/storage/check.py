"""store.check(): does the catalog describe exactly the tables that exist, intact?

Run after a crash or before trusting a copied store. Exact but reads everything.
"""

from __future__ import annotations

import duckdb

from fluxlab.storage.catalog import WRITE_ID_COLUMN, Catalog, Measurement
from fluxlab.storage.predicate import sql_ident
from fluxlab.storage.results import CheckReport
from fluxlab.storage.usersql import STORE_CATALOG


def check_store(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> CheckReport:
    report = CheckReport()
    _check_catalog_rows(con, report)
    tables = _physical_tables(con)
    known: set[str] = set()
    for bucket_id, measurements in catalog.measurements.items():
        if bucket_id not in {b.id for b in catalog.buckets.values()}:
            report.problems.append(f"measurements recorded for missing bucket id {bucket_id}")
        for m in measurements.values():
            known.add(m.table)
            report.measurements += 1
            if m.table not in tables:
                report.problems.append(f"measurement {m.name!r}: table {m.table} is missing")
                continue
            _check_columns(m, tables[m.table], report)
            _check_rows(con, m, report)
    for orphan in sorted(set(tables) - known):
        report.problems.append(f"table {orphan} is not in the catalog")
    return report


def _check_catalog_rows(con: duckdb.DuckDBPyConnection, report: CheckReport) -> None:
    queries = {
        "duplicate bucket names": "SELECT name FROM _fl_buckets GROUP BY name HAVING count(*) > 1",
        "duplicate measurement names": "SELECT name FROM _fl_measurements "
        "GROUP BY bucket_id, name HAVING count(*) > 1",
        "duplicate column keys": "SELECT key FROM _fl_columns "
        "GROUP BY measurement_id, kind, key HAVING count(*) > 1",
        "columns of unknown measurements": "SELECT key FROM _fl_columns WHERE measurement_id "
        "NOT IN (SELECT id FROM _fl_measurements)",
    }
    for problem, sql in queries.items():
        rows = con.execute(sql).fetchall()
        if rows:
            report.problems.append(f"{problem}: {[r[0] for r in rows][:5]}")


def _physical_tables(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = ? AND table_name LIKE 'm\\_%' ESCAPE '\\'",
        [STORE_CATALOG],
    ).fetchall()
    tables: dict[str, dict[str, str]] = {}
    for table, column, dtype in rows:
        tables.setdefault(table, {})[column] = dtype
    return tables


def _check_columns(m: Measurement, actual: dict[str, str], report: CheckReport) -> None:
    expected = {"time": "TIMESTAMP_NS", WRITE_ID_COLUMN: "BIGINT"}
    for col in (*m.tags.values(), *m.fields.values()):
        expected[col.name] = col.sql_type
    if expected != actual:
        report.problems.append(
            f"measurement {m.name!r} ({m.table}): columns {actual} do not match the "
            f"catalog {expected}"
        )


def _check_rows(con: duckdb.DuckDBPyConnection, m: Measurement, report: CheckReport) -> None:
    table = sql_ident(m.table)
    keys = ", ".join(["time", *(c.name for c in m.tags.values())])
    fields = [c.name for c in m.fields.values()]
    empty = " AND ".join(f"{f} IS NULL" for f in fields) or "TRUE"
    count, lo, hi, no_field = con.execute(
        f"SELECT count(*), epoch_ns(min(time)), epoch_ns(max(time)), "
        f"count(*) FILTER (WHERE {empty}) FROM {table}"
    ).fetchall()[0]
    report.points += count
    if no_field:
        report.problems.append(f"measurement {m.name!r}: {no_field} rows without any field")
    if count and (m.min_time is None or lo < m.min_time or hi > (m.max_time or 0)):
        report.problems.append(
            f"measurement {m.name!r}: stored times {lo}..{hi} outside catalog bounds "
            f"{m.min_time}..{m.max_time}"
        )
    dups = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {table} GROUP BY {keys} HAVING count(*) > 1)"
    ).fetchall()[0][0]
    if dups:
        report.problems.append(f"measurement {m.name!r}: {dups} duplicate series+time keys")
